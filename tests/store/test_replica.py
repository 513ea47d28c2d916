"""Reads from a PostgreSQL streaming replica (made by pg_basebackup on loopback), writes to the
primary, and read-your-writes for the client that wrote: its session token makes a read wait
for the replica to replay its write, or go to the primary. Replay is paused in the tests to
make the replica stale on purpose."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.graph.sensors import LIVE, sensor
from tests.requirements import need_module
from tests.servers import Postgres, ServeProcess
from twinforge.errors import InvalidArgument
from twinforge.graph import TwinGraph

need_module("psycopg")
import psycopg  # noqa: E402

from twinforge.store.postgres.connections import ANY, READ_FLOOR  # noqa: E402

pytestmark = pytest.mark.xdist_group("replica")


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[str, str]]:
    """A primary with one database and a streaming standby of it: (primary URL, replica URL)."""
    base = Path(tempfile.mkdtemp(prefix="twinforge-replica-"))
    base.chmod(0o755)  # the servers run as postgres: they must reach their folders below
    primary = Postgres(base / "primary")
    primary.start()
    standby = None
    try:
        url = primary.new_database()
        standby = primary.replica(base / "standby")
        replica_url = url.replace(f":{primary.port}/", f":{standby.port}/")
        deadline = time.monotonic() + 30
        while True:  # the standby has the new database once it has replayed its creation
            try:
                psycopg.connect(replica_url, connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                assert time.monotonic() < deadline, "the standby never came up"
                time.sleep(0.1)
        yield url, replica_url
    finally:
        if standby is not None:
            standby.stop()
        primary.stop()
        shutil.rmtree(base, ignore_errors=True)


def _replay(replica_url: str, on: bool) -> None:
    with psycopg.connect(replica_url, autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_resume()" if on else "SELECT pg_wal_replay_pause()")


def _caught_up(replica_url: str, twin: str, name: str, value: float) -> None:
    """Wait until the replica itself (asked directly) has replayed the twin's value."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(replica_url) as conn:
                row = conn.execute("SELECT (document->>%s)::float FROM twins WHERE id = %s", (name, twin)).fetchone()
            if row and row[0] == value:
                return
        except psycopg.errors.UndefinedTable:  # not even the schema yet
            pass
        assert time.monotonic() < deadline, "the replica never caught up"
        time.sleep(0.05)


def test_reads_go_to_the_replica_and_a_writer_reads_its_own_writes(cluster: tuple[str, str]) -> None:
    url, replica_url = cluster
    graph = TwinGraph.open(url, read_url=replica_url)
    store = graph.store
    store.replica_wait = 0.3  # type: ignore[attr-defined]
    try:
        graph.add_models(LIVE)
        graph.create_twin("lib-1", sensor(temperature=20.0))
        _caught_up(replica_url, "lib-1", "temperature", 20.0)
        _replay(replica_url, False)
        try:
            graph.update_twin("lib-1", [{"op": "replace", "path": "/temperature", "value": 99.0}])
            token = store.session_token()  # type: ignore[attr-defined]
            before = dict(store.reads)  # type: ignore[attr-defined]
            # by default (writes, background work, commands) reads go to the primary
            assert graph.get_twin("lib-1")["temperature"] == 99.0
            # a read that takes any replica state: the replica answers, without the write
            floor = READ_FLOOR.set(ANY)
            try:
                assert graph.get_twin("lib-1")["temperature"] == 20.0
                rows = list(graph.query("SELECT T.temperature FROM DIGITALTWINS T WHERE T.$dtId = 'lib-1'"))
                assert rows == [{"temperature": 20.0}]
            finally:
                READ_FLOOR.reset(floor)
            assert store.reads["replica"] > before["replica"]  # type: ignore[attr-defined]
            # with it: the replica cannot show the write, so the primary answers
            floor = READ_FLOOR.set(token)
            try:
                assert graph.get_twin("lib-1")["temperature"] == 99.0
                rows = list(graph.query("SELECT T.temperature FROM DIGITALTWINS T WHERE T.$dtId = 'lib-1'"))
                assert rows == [{"temperature": 99.0}]
                assert store.reads["primary"] > before["primary"]  # type: ignore[attr-defined]
            finally:
                READ_FLOOR.reset(floor)
        finally:
            _replay(replica_url, True)
        floor = READ_FLOOR.set(token)
        try:  # replayed: the replica answers the token's reads again
            at = store.reads["replica"]  # type: ignore[attr-defined]
            assert graph.get_twin("lib-1")["temperature"] == 99.0
            assert store.reads["replica"] > at  # type: ignore[attr-defined]
        finally:
            READ_FLOOR.reset(floor)
    finally:
        graph.close()


def test_serve_with_a_read_replica(cluster: tuple[str, str]) -> None:
    url, replica_url = cluster
    server = ServeProcess(url, "--db-read", replica_url)
    try:
        base = server.url
        assert httpx.post(base + "/models", json=LIVE).status_code in (201, 409)
        made = httpx.put(base + "/digitaltwins/http-1", json=sensor(temperature=20.0))
        assert made.status_code == 200
        token = made.headers["twinforge-session"]
        got = httpx.get(base + "/digitaltwins/http-1", headers={"Twinforge-Session": token})
        assert got.status_code == 200 and got.json()["temperature"] == 20.0  # its own write, at once
        _caught_up(replica_url, "http-1", "temperature", 20.0)
        _replay(replica_url, False)
        try:
            patch = [{"op": "replace", "path": "/temperature", "value": 55.0}]
            changed = httpx.patch(base + "/digitaltwins/http-1", json=patch)
            assert changed.status_code == 204
            token = changed.headers["twinforge-session"]
            assert httpx.get(base + "/digitaltwins/http-1").json()["temperature"] == 20.0  # the stale replica
            mine = httpx.get(base + "/digitaltwins/http-1", headers={"Twinforge-Session": token})
            assert mine.json()["temperature"] == 55.0 and mine.headers["twinforge-session"] == token
            query = httpx.post(base + "/query", headers={"Twinforge-Session": token},
                               json={"query": "SELECT T.temperature FROM DIGITALTWINS T WHERE T.$dtId = 'http-1'"})
            assert query.json()["value"] == [{"temperature": 55.0}]
            bad = httpx.get(base + "/digitaltwins/http-1", headers={"Twinforge-Session": "yesterday"})
            assert bad.status_code == 400 and "is not a session token" in bad.json()["error"]["message"]
        finally:
            _replay(replica_url, True)
    finally:
        server.stop()


def test_a_replica_that_is_not_one_is_refused(cluster: tuple[str, str], tmp_path: Path) -> None:
    url, _ = cluster
    with pytest.raises(InvalidArgument, match="is not a replica"):
        TwinGraph.open(url, read_url=url)
    with pytest.raises(InvalidArgument, match="needs a PostgreSQL store"):
        TwinGraph.open(f"sqlite:///{tmp_path / 'a.db'}", read_url=url)
