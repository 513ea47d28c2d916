"""Every operation of the OpenAPI document fuzzed from its schema (Schemathesis) against a live
server under `--auth`, without a token and with a token of each role: no 5xx, every answer
documented (status, content type, body schema), and a refused change leaves the store as it was.

The short run here makes `TWINFORGE_FUZZ_EXAMPLES` (5) cases per operation and role, besides
Schemathesis' coverage cases (boundary values, sent without a token and as admin); the long run
(docs/security.md) sets it to 100:

    TWINFORGE_FUZZ_EXAMPLES=100 python -m pytest tests/security/test_fuzz_api.py -q
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.graph.models import PLANT, pump, tank
from tests.requirements import need_module
from tests.servers import running_api
from twinforge.auth import Tokens
from twinforge.graph import TwinGraph

schemathesis = need_module("schemathesis")  # in the dev extra
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES = int(os.environ.get("TWINFORGE_FUZZ_EXAMPLES", "5"))
ROLES = (None, "reader", "writer", "admin")
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# Records whose version a refused request must not move (scenario runs and jobs change theirs in
# the background, so they are left out; import jobs cannot run here: no blob root is allowed).
KINDS = ("alert-rule", "detector", "rul", "rul-model", "work-order", "endpoint", "route", "token")
SENT: dict[str, int] = {}  # requests per operation, reported at the end (pytest -s)
# One session for every request: no proxy or netrc lookups per call (a tenth of the run's time).
SESSION = requests.Session()
SESSION.trust_env = False
CHECKS = (not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, TwinGraph, dict[str | None, str]]]:
    graph = TwinGraph.open(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}", create=True)
    graph.add_models(PLANT)
    graph.create_twin("p1", pump(flow=1.0))
    graph.create_twin("t1", tank(level=2.0))
    graph.create_relationship("p1", "r1", {"$targetId": "t1", "$relationshipName": "feeds"})
    tokens = Tokens(graph.store)
    secrets: dict[str | None, str] = {role: tokens.create(f"fuzz-{role}", role)[1] for role in ROLES if role}
    began = time.monotonic()
    with running_api(graph, auth=True) as url:
        yield url, graph, secrets
    graph.close()
    print(f"\nfuzzed {sum(SENT.values()):,} requests over {len(SENT)} method and path pairs "
          f"({EXAMPLES} generated cases per operation, 4 callers each; coverage cases 2) in {time.monotonic() - began:.0f} s")


@pytest.fixture
def api_schema(live: tuple[str, TwinGraph, dict[str | None, str]]) -> Any:
    url, _, secrets = live
    loaded = schemathesis.openapi.from_url(f"{url}/openapi.json", headers={"authorization": f"Bearer {secrets['reader']}"})
    loaded.config.update(base_url=url)
    return loaded


# A stream stays open (tested on its own); a delete job wipes the store (tested in test_jobs).
schema = schemathesis.pytest.from_fixture("api_schema").exclude(path="/stream").exclude(path_regex="^/jobs/deletions")


def fingerprint(graph: TwinGraph) -> tuple[Any, ...]:
    store = graph.store
    return (store.last_event_seq(), store.count_twins(), *(store.records_version(k) for k in KINDS))


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_every_operation(case: Any, live: tuple[str, TwinGraph, dict[str | None, str]]) -> None:
    """Each generated case is sent four times: without a token, then as reader, writer and admin.

    The coverage phase's cases (schema boundaries, thousands for the larger bodies) go without a
    token and as admin only: which role may call a route does not depend on the body, and the
    generated and example cases still go as every role."""
    _, graph, secrets = live
    meta = getattr(case, "_meta", None)
    coverage = str(getattr(getattr(meta, "phase", None), "name", "")) == "coverage"
    for role in ((None, "admin") if coverage else ROLES):
        headers = {"authorization": f"Bearer {secrets[role]}"} if role else {}
        before = fingerprint(graph)
        response = case.call(session=SESSION, headers=headers, timeout=20)
        SENT[f"{case.method} {case.path}"] = SENT.get(f"{case.method} {case.path}", 0) + 1
        case.validate_response(response, checks=CHECKS)
        if response.status_code >= 400 and case.method.upper() in WRITES:
            assert fingerprint(graph) == before, (role, case.method, case.path, response.status_code,
                                                  response.text[:200])
        if role is None and case.path != "/health":  # /health stays open for load balancers
            assert response.status_code == 401, (case.method, case.path, response.status_code)
