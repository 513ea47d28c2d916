from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.requirements import missing

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
REC_DIR = SHARED / "dtdl" / "realestatecore"


def load_rec() -> list[Any]:
    if not REC_DIR.is_dir():
        missing(f"RealEstateCore ontology not found at {REC_DIR}")
    return [json.loads(p.read_text(encoding="utf-8-sig")) for p in sorted(REC_DIR.rglob("*.json"))]


@pytest.fixture(scope="session")
def rec_documents() -> list[Any]:
    return load_rec()


@pytest.fixture
def graph(tmp_path: Path, store_kind: str, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """A graph on a fresh store: SQLite, or, for the suites in `BOTH_STORES`, PostgreSQL too."""
    from twinforge.graph import TwinGraph

    url = request.getfixturevalue("pg_url") if store_kind == "postgresql" else f"sqlite:///{tmp_path / 'twins.db'}"
    g = TwinGraph.open(url)
    yield g
    g.close()


# Suites that run on both stores (the store contract, graph, query with its oracle, history,
# ingest and the ADT API); the rest run on SQLite.
BOTH_STORES = ("tests/graph/", "tests/query/", "tests/history/", "tests/ingest/", "tests/api/test_api.py",
               "tests/api/test_live.py", "tests/api/test_adt_status.py", "tests/store/")


@pytest.fixture
def store_kind() -> str:
    return "sqlite"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    path = str(metafunc.definition.path).replace("\\", "/")
    if "graph" in metafunc.fixturenames and any(part in path for part in BOTH_STORES):
        metafunc.parametrize("store_kind", ["sqlite", "postgresql"])


@pytest.fixture(scope="session")
def rec_graph_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store file with RealEstateCore loaded once, copied by tests that need it."""
    from twinforge.graph import TwinGraph

    path = tmp_path_factory.mktemp("rec") / "rec.db"
    g = TwinGraph.open(f"sqlite:///{path}")
    g.add_models(load_rec())
    g.close()
    return path


@pytest.fixture(scope="session")
def postgres():  # type: ignore[no-untyped-def]
    """A private PostgreSQL cluster for the session (skipped, or failed under CI, without one)."""
    import shutil
    import subprocess
    import tempfile

    from tests.servers import Postgres

    # not under pytest's temporary folder: that one is private to root, and the server runs as postgres
    directory = Path(tempfile.mkdtemp(prefix="twinforge-pg-"))
    cluster = Postgres(directory)
    cluster.start()
    yield cluster
    cluster.stop()
    # A worker's cluster holds hundreds of test databases: removing them took 10 s at the end of
    # each worker's run. A detached process removes them while the session ends.
    # (the shell puts `rm` in the background and returns at once: nothing is left to wait for)
    if shutil.which("sh") is None:
        shutil.rmtree(directory, ignore_errors=True)
    else:
        subprocess.run(["sh", "-c", 'rm -rf "$0" >/dev/null 2>&1 &', str(directory)], start_new_session=True,
                       check=False)


@pytest.fixture
def pg_url(postgres) -> str:  # type: ignore[no-untyped-def]
    """A fresh, empty database in the session's cluster."""
    url: str = postgres.new_database()
    return url
