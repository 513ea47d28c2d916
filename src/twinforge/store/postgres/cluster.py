"""A throwaway PostgreSQL cluster on loopback: ``initdb`` into a folder of its own (as user
postgres when run as root), its own port and socket folder. For tests, benchmarks and trying
the PostgreSQL store on a machine with Debian's ``postgresql`` package and no server set up."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

from twinforge.errors import MissingDependency
from twinforge.ports import free_port


def pg_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` with ``initdb``, or None."""
    root = Path("/usr/lib/postgresql")
    if not root.exists():
        return None
    found = [p for p in root.glob("*/bin") if (p / "initdb").exists()]
    return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0) if found else None


class PrivateCluster:
    """``start()`` makes and starts the cluster, ``stop()`` stops it (``resume()`` starts it again),
    ``new_database()`` gives the URL of a fresh database. Commits survive a killed process
    (``fsync`` is off: not an operating-system crash)."""

    def __init__(self, directory: Path, *, port: int | None = None) -> None:
        binaries = pg_bin()
        if binaries is None:
            raise MissingDependency("PostgreSQL is not installed (apt-get install postgresql)")
        self.bin = binaries
        self.directory = directory
        self.port = port or free_port()
        self.data = directory / "data"
        self.sockets = directory / "sock"
        self.sockets.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.getuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
        if done.returncode:
            raise RuntimeError(f"{args[0]} failed: {done.stderr.decode(errors='replace').strip()}")

    def start(self) -> None:
        if os.getuid() == 0:
            shutil.chown(self.directory, "postgres")
            shutil.chown(self.sockets, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8")
        self.resume()

    def resume(self) -> None:
        """Start the server again on the same data, port and socket folder."""
        options = (f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c full_page_writes=off -c max_connections=300")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.directory / "pg.log"), "-w", "start")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")

    def replica(self, directory: Path) -> PrivateCluster:
        """A streaming standby of this cluster (``pg_basebackup -R``), started on a port of its own."""
        standby = PrivateCluster(directory)
        if os.getuid() == 0:
            shutil.chown(standby.directory, "postgres")
            shutil.chown(standby.sockets, "postgres")
        self._run("pg_basebackup", "-h", str(self.sockets), "-p", str(self.port), "-U", "postgres",
                  "-D", str(standby.data), "-R", "-X", "stream", "-c", "fast")
        standby.resume()
        return standby

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import psycopg

        self.count += 1
        name = f"t{self.count}_{os.getpid()}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


__all__ = ["PrivateCluster", "pg_bin"]
