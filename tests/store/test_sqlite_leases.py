"""SQLite leases are lock files in a folder beside the store that git ignores by itself."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from twinforge.graph import TwinGraph


def test_lease_files_stay_out_of_git_status(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    graph = TwinGraph.open(f"sqlite:///{tmp_path / 'twinforge.db'}", create=True)
    lease = graph.store.lease("routes")
    odd = graph.store.lease("scenario-\x00/../x" + "y" * 200)  # any name is a safe file name
    assert lease.try_acquire() and odd.try_acquire()
    lease.release()
    odd.release()
    graph.close()
    locks = tmp_path / "twinforge.db.locks"
    assert (locks / "routes.lock").exists() and len(list(locks.glob("h*.lock"))) == 1
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=tmp_path,
                            capture_output=True, text=True, check=True).stdout
    assert "lock" not in status, status
    assert "twinforge.db" in status  # the store itself is the user's to keep or ignore
