"""Fuzz targets for atheris (coverage-guided, libFuzzer): the parsers that take documents from
users. Each target takes raw bytes and must either accept them or refuse them with one of
twinforge's errors; anything else (a crash, another exception) is a finding.

    python fuzz/run.py dtdl -runs=1000000          # one target, a million inputs
    python fuzz/run.py all -runs=1000000           # every target in turn

The corpora under ``fuzz/corpus/<target>/`` are kept (seeds plus what the runs found
interesting) and replayed by ``tests/test_fuzz.py`` in every test run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from twinforge.dtdl import parse_models
from twinforge.errors import TwinforgeError
from twinforge.graph.jsonpatch import apply_patch
from twinforge.ingest.mapping import parse_mapping
from twinforge.query import compile_query, parse_query
from twinforge.sim import Scenario


def _json(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None  # not JSON: the HTTP layer refuses it before any parser sees it


def dtdl(data: bytes) -> None:
    doc = _json(data)
    if doc is not None:
        parse_models(doc if isinstance(doc, list) else [doc])


def query(data: bytes) -> None:
    compile_query(parse_query(data.decode("utf-8", "replace")), lambda model: [model])


def jsonpatch(data: bytes) -> None:
    doc = _json(data)
    if isinstance(doc, list) and len(doc) == 2:
        apply_patch(doc[0], doc[1])
    elif doc is not None:
        apply_patch({"a": 1, "b": [1, 2], "c": {"d": None}}, doc)


def mapping(data: bytes) -> None:
    doc = _json(data)
    if doc is not None:
        parse_mapping(doc)


def scenario(data: bytes) -> None:
    doc = _json(data)
    if doc is not None:
        Scenario.from_dict(doc)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "dtdl": dtdl, "query": query, "jsonpatch": jsonpatch, "mapping": mapping, "scenario": scenario}


def check(target: Callable[[bytes], None], data: bytes) -> None:
    """Run one input: acceptance or a twinforge error with a message; anything else raises."""
    try:
        target(data)
    except TwinforgeError as exc:
        if not exc.message:
            raise AssertionError(f"{type(exc).__name__} without a message") from exc
