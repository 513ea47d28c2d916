"""Every CLI command and every REST route is documented."""

from __future__ import annotations

from pathlib import Path

import typer.main

from twinforge.api import create_app
from twinforge.cli import app
from twinforge.graph import TwinGraph

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _commands(group: object, prefix: str) -> list[str]:
    out = []
    for name, cmd in getattr(group, "commands", {}).items():
        full = f"{prefix} {name}"
        out.append(full)
        out.extend(_commands(cmd, full))
    return out


def test_every_cli_command_is_documented() -> None:
    text = (DOCS / "cli.md").read_text()
    commands = _commands(typer.main.get_command(app), "twinforge")
    assert "twinforge models validate" in commands
    for command in commands:
        assert command in text, f"{command} is not in docs/cli.md"


def test_every_route_is_documented(tmp_path: Path) -> None:
    text = (DOCS / "rest-api.md").read_text()
    graph = TwinGraph.open(f"sqlite:///{tmp_path / 'x.db'}")
    spec = create_app(graph).openapi()
    for path, methods in spec["paths"].items():
        documented = (path.replace("{twin_id}", "{id}").replace("{model_id}", "{id}")
                      .replace("{rel_id}", "{rid}").replace("{component}", "{name}")
                      .replace("{route_id}", "{id}"))
        for method in methods:
            assert f"`{method.upper()} {documented}" in text, f"{method.upper()} {path}"
    graph.close()
