"""`twinforge schema`: the JSON Schema of a document clients write, or a file checked against it."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer

from twinforge.cli.common import console, fail, print_json

# name: (the model in twinforge.documents, where the document is used)
DOCUMENTS = {
    "scenario": ("ScenarioDocument", "twinforge simulate, POST /scenarios"),
    "mapping": ("MappingDocument", "serve --mapping"),
    "rule": ("RuleDocument", "PUT /alerts/rules/{id}, serve --rules"),
    "detector": ("DetectorDocument", "PUT /analytics/detectors/{id}"),
    "rul": ("RulDocument", "PUT /analytics/rul/{id}"),
    "workorder": ("WorkOrderDocument", "POST /workorders"),
    "job": ("ImportJobDocument", "PUT /jobs/imports/{id}"),
    "endpoint": ("EndpointDocument", "PUT /endpoints/{name}"),
    "route": ("RouteDocument", "PUT /eventroutes/{id}"),
}


def _read(file: Path) -> Any:
    if not file.exists():
        fail(f"no such file: {file}")
    text = file.read_text(encoding="utf-8-sig")
    try:
        if file.suffix == ".toml":
            return tomllib.loads(text)
        if file.suffix in (".yaml", ".yml"):
            import yaml

            return yaml.safe_load(text)
        return json.loads(text)
    except Exception as exc:  # JSONDecodeError, TOMLDecodeError, YAMLError: all one line
        fail(f"{file}: not valid {file.suffix[1:].upper() or 'JSON'}: {exc}")


def schema(
    name: Annotated[str, typer.Argument(help=f"The document: {', '.join(DOCUMENTS)}.")],
    file: Annotated[Path | None, typer.Argument(help="A JSON, YAML or TOML file to check against it.")] = None,
) -> None:
    """Print a document's JSON Schema, or check a file (one document or a list) against it."""
    import twinforge.documents as documents

    if name not in DOCUMENTS:
        fail(f"no document '{name}': choose one of {', '.join(DOCUMENTS)}")
    model_name, used = DOCUMENTS[name]
    model = getattr(documents, model_name)
    if file is None:
        print_json(model.model_json_schema(by_alias=True))
        return
    data = _read(file)
    if name == "mapping":  # the captures a rule uses are checked too
        from twinforge.ingest.mapping import parse_mapping

        parse_mapping(data)
    elif isinstance(data, list):  # a list of documents (serve --rules)
        for i, item in enumerate(data):
            documents.check(model, item, f"{file}[{i}]")
    else:
        documents.check(model, data, f"{file}")
    console.print(f"{file}: a valid {name} document ({used})", markup=False, highlight=False)


__all__ = ["DOCUMENTS", "schema"]
