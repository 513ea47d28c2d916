"""Fuzzing, the short version run with every test run: arbitrary input into every parser
that takes documents from users — DTDL, the query language (parser and compiler), JSON
Patch, payload mappings, scenario documents, planning files, alert conditions and bulk
files. Each must either accept the input or refuse it with one of twinforge's errors: no
crash, no other exception. `python -m tests.test_fuzz N` runs N examples per target (the
dedicated long run, outside CI's time)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twinforge.analytics.alerts import compile_condition
from twinforge.analytics.planning import PlanningProblem
from twinforge.dtdl import parse_models
from twinforge.errors import TwinforgeError
from twinforge.graph.jsonpatch import apply_patch
from twinforge.ingest.mapping import parse_mapping
from twinforge.jobs.bulk import read_bulk
from twinforge.query import compile_query, parse_query
from twinforge.sim import Scenario

EXAMPLES = int(os.environ.get("TWINFORGE_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

KEYS = st.sampled_from(["@context", "@id", "@type", "contents", "name", "schema", "extends", "id", "scope",
                        "horizon", "step", "overrides", "kpis", "twin", "property", "value", "series", "op",
                        "path", "from", "mqtt", "opcua", "topics", "assets", "rul", "mean", "std",
                        "horizonDays", "crewsPerDay", "preventiveCost", "correctiveCost", "enumValues",
                        "valueSchema", "fields", "unit", "writable", "target", "sweep", "optimise"])
ATOMS = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                  st.text(max_size=30), st.sampled_from(["dtmi:dtdl:context;3", "dtmi:dtdl:context;4", "Interface",
                                                        "Property", "Telemetry", "double", "dtmi:ex:A;1", "PT1M",
                                                        "add", "replace", "remove", "/a", "/a/b", "-"]))
JSON = st.recursive(ATOMS, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                   st.dictionaries(st.one_of(KEYS, st.text(max_size=8)), inner,
                                                                   max_size=6)), max_leaves=30)
QUERY_WORDS = st.sampled_from(["SELECT", "*", "T", "FROM", "DIGITALTWINS", "WHERE", "JOIN", "RELATED", "AND",
                               "OR", "NOT", "IS_OF_MODEL", "(", ")", "'dtmi:ex:A;1'", "=", "<", ">", "!=", "IN",
                               "[", "]", ",", "T.a", "T.$dtId", "1", "2.5", "'x'", "TOP", "COUNT()", ".", "R",
                               "RELATIONSHIPS", "STARTSWITH", "IS_DEFINED", "true", "null"])
QUERIES = st.one_of(st.text(max_size=80), st.lists(QUERY_WORDS, max_size=25).map(" ".join))


def clean(fn: Callable[[], Any]) -> None:
    """Run ``fn``: success, or a twinforge error (with a message) — nothing else."""
    try:
        fn()
    except TwinforgeError as exc:
        assert exc.message, f"{type(exc).__name__} without a message"


@FUZZ
@given(JSON)
def test_dtdl_parser(doc: Any) -> None:
    clean(lambda: parse_models(doc if isinstance(doc, list) else [doc]))


@FUZZ
@given(st.dictionaries(KEYS, JSON, max_size=8))
def test_dtdl_parser_on_interface_shapes(body: dict[str, Any]) -> None:
    doc = {"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:A;1", "@type": "Interface", **body}
    clean(lambda: parse_models([doc]))


@FUZZ
@given(QUERIES)
def test_query_parser_and_compiler(text: str) -> None:
    def run() -> None:
        compile_query(parse_query(text), lambda model: [model])

    clean(run)


@FUZZ
@given(JSON, JSON)
def test_json_patch(doc: Any, patch: Any) -> None:
    clean(lambda: apply_patch(doc, patch))


@FUZZ
@given(JSON)
def test_payload_mapping(doc: Any) -> None:
    clean(lambda: parse_mapping(doc))


@FUZZ
@given(st.dictionaries(KEYS, JSON, max_size=10))
def test_scenario_documents(doc: dict[str, Any]) -> None:
    clean(lambda: Scenario.from_dict(doc))
    base = {"id": "s", "scope": "SELECT T FROM DIGITALTWINS T", "horizon": "PT1H", "step": "PT1M", **doc}
    clean(lambda: Scenario.from_dict(base))


@FUZZ
@given(JSON)
def test_planning_files(doc: Any) -> None:
    clean(lambda: PlanningProblem.parse(doc))


@FUZZ
@given(QUERIES)
def test_alert_conditions(text: str) -> None:
    clean(lambda: compile_condition(text, "condition")({"temperature": 3, "$dtId": "x"}))


@FUZZ
@given(st.lists(st.one_of(JSON.map(lambda v: __import__("json").dumps(v, default=str)), st.text(max_size=40)),
                max_size=8))
def test_bulk_files(lines: list[str]) -> None:
    clean(lambda: read_bulk(lines))


CORPUS = Path(__file__).resolve().parents[1] / "fuzz" / "corpus"


def _corpus() -> list[tuple[str, Path]]:
    return [(d.name, f) for d in sorted(CORPUS.iterdir()) if d.is_dir() for f in sorted(d.iterdir()) if f.is_file()]


def test_atheris_corpora_replay() -> None:
    """Every input the atheris runs kept (fuzz/corpus/<target>/) is still refused cleanly or accepted."""
    sys.path.insert(0, str(CORPUS.parent))
    from targets import TARGETS, check  # type: ignore[import-not-found]  # fuzz/targets.py

    files = _corpus()
    assert {name for name, _ in files} == set(TARGETS)
    for name, path in files:
        check(TARGETS[name], path.read_bytes())


def test_json_mutator_keeps_json_and_changes_it() -> None:
    """The structure-aware mutator the JSON targets fuzz with gives JSON, and not the same JSON."""
    import json
    import random

    sys.path.insert(0, str(CORPUS.parent))
    from jsonmutator import mutate_json  # type: ignore[import-not-found]  # fuzz/jsonmutator.py

    seed = {"@id": "dtmi:com:example:A;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
            "contents": [{"@type": "Property", "name": "t", "schema": "double"}]}
    changed = 0
    for k in range(300):
        doc = mutate_json(json.loads(json.dumps(seed)), random.Random(k))
        changed += json.loads(json.dumps(doc)) != seed
    assert changed > 250


if __name__ == "__main__":  # the long run: python -m tests.test_fuzz 1000000
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    import subprocess  # a fresh interpreter: pytest must import hypothesis itself

    env = {**os.environ, "TWINFORGE_FUZZ_EXAMPLES": str(count)}
    # --timeout=0: the per-test limit of the normal run would cut a long run short
    sys.exit(subprocess.call([sys.executable, "-m", "pytest", "-q", "--timeout=0", __file__, *sys.argv[2:]], env=env))
