"""Every command and snippet in README.md and docs/ runs as written, against the demo graph.

The commands run in a folder holding the demo building in `twinforge.db` (the default
store), with `docs/` beside it; servers the docs start are started, checked to announce
themselves, and stopped; `curl` lines run against the demo server on port 8080.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.requirements import missing
from twinforge.graph import TwinGraph
from twinforge.packs.building import load_demo

# One worker runs them all, in order: later snippets use the stores earlier ones made.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("doc-snippets")]
ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LONG_RUNNING = ("twinforge serve", "twinforge demo building", "twinforge demo health")
# The fuzzers' dedicated runs (a million inputs each, the `fuzz` extra): outside CI's time, as
# issue 11 asks; their short versions run in tests/test_fuzz.py.
DEDICATED = ("python fuzz/run.py", "python -m tests.test_fuzz")


def blocks(path: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", path.read_text(), flags=re.S)


def commands(block: str) -> list[str]:
    """Shell commands of a block: continuation lines joined, comments and installs left out."""
    out: list[str] = []
    pending = ""
    for line in block.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip("\\") + ("\n" if line.endswith("\\") else "")
        if line.endswith("\\") or pending.count("'") % 2:
            if not line.endswith("\\"):
                pending += "\n"
            continue
        command = re.sub(r"\s+#[^'\"]*$", "", pending.strip())
        pending = ""
        command = command.removeprefix("pip install -e '.[all]' && ")  # the demo: installed already
        if not command.startswith("pip "):  # the test command itself, and other installs
            out.append(command)
    return out


def shell_commands() -> list[tuple[str, str]]:
    return [(path.name, command) for path in FILES for block in blocks(path, "bash") for command in commands(block)]


def long_running(command: str) -> bool:
    return command.startswith(LONG_RUNNING) and "--no-serve" not in command


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("docs")
    (folder / "docs").symlink_to(ROOT / "docs")
    (folder / "home").mkdir()
    graph = TwinGraph.open(f"sqlite:///{folder / 'twinforge.db'}")
    load_demo(graph)
    graph.close()
    return folder


def env(workdir: Path) -> dict[str, str]:
    return {**os.environ, "HOME": str(workdir / "home"), "COLUMNS": "200"}


def run(command: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", command], cwd=workdir, env=env(workdir), capture_output=True,
                          text=True, timeout=120, check=False)


class Started:
    """A long-running command from the docs, started and waited for until it listens."""

    def __init__(self, command: str, workdir: Path) -> None:
        ports = [int(p) for p in re.findall(r"--port (\d+)", command)] or [8080]
        if ("demo building" in command or "demo health" in command) and "--no-serve" not in command:
            ports.append(1883)
        for port in ports:
            if not port_free(port):
                missing(f"port {port}, which the docs use, is taken on this machine")
        self.proc = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=workdir, env=env(workdir),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        self.lines: list[str] = []
        deadline = time.monotonic() + 60
        while not any("twinforge serving" in line for line in self.lines):
            line = self.proc.stderr.readline()
            assert line or self.proc.poll() is None, f"{command!r} ended: {''.join(self.lines)}"
            self.lines.append(line)
            assert time.monotonic() < deadline, f"{command!r} did not announce itself"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)


@pytest.fixture
def demo_server(workdir: Path) -> Iterator[Started]:
    server = Started("twinforge demo building --no-sensors", workdir)
    try:
        yield server
    finally:
        server.stop()


def test_the_docs_have_snippets() -> None:
    found = shell_commands()
    assert any(c.startswith("twinforge query") for _, c in found)
    assert any(c.startswith("curl") for _, c in found)
    assert blocks(ROOT / "docs" / "query.md", "sql")


def test_query_examples_return_rows(workdir: Path) -> None:
    graph = TwinGraph.open(f"sqlite:///{workdir / 'twinforge.db'}")
    try:
        for block in blocks(ROOT / "docs" / "query.md", "sql"):
            statements = re.split(r"\n(?=SELECT)", block.strip())
            for statement in statements:
                rows = list(graph.query(" ".join(statement.split())))
                assert rows, f"no rows for {statement!r}"
    finally:
        graph.close()


@pytest.mark.parametrize(("where", "command"),
                         [c for c in shell_commands()
                          if not (long_running(c[1]) or c[1].startswith(("curl", "twinforge bench", *DEDICATED)))])
def test_command_runs(workdir: Path, where: str, command: str) -> None:
    out = run(command, workdir)
    assert out.returncode == 0, f"{where}: {command}\n{out.stderr}"
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(("where", "command"), [c for c in shell_commands() if long_running(c[1])])
def test_server_command_starts(workdir: Path, where: str, command: str) -> None:
    Started(command, workdir).stop()


def test_curl_commands_run_against_the_demo(workdir: Path, demo_server: Started) -> None:
    if shutil.which("curl") is None:
        missing("curl is not installed")
    for where, command in shell_commands():
        if command.startswith("curl"):
            out = run(f"curl -sS --fail-with-body --max-time 5 {command.removeprefix('curl ')}"
                      if " -N " not in command else f"curl -sS --max-time 2 {command.removeprefix('curl ')} || true",
                      workdir)
            assert out.returncode == 0, f"{where}: {command}\n{out.stdout}\n{out.stderr}"


def test_readme_python_runs(workdir: Path) -> None:
    snippets = blocks(ROOT / "README.md", "python")
    assert len(snippets) >= 3
    tls = None
    try:
        for snippet in snippets:
            if "DigitalTwinsClient" in snippet:
                tls = Started("twinforge serve --db sqlite:///plant.db --port 8443 --tls", workdir)
            out = subprocess.run([sys.executable, "-c", snippet], cwd=workdir, env=env(workdir),
                                 capture_output=True, text=True, timeout=120, check=False)
            assert out.returncode == 0, f"{snippet}\n{out.stderr}"
    finally:
        if tls is not None:
            tls.stop()


def check_simulation_block(block: str) -> bool:
    """A scenario document (or its sweep or optimise block) or a planning file, as the docs show them."""
    import yaml

    from twinforge.sim import Scenario
    from twinforge.sim.optimise import Problem
    from twinforge.sim.sweep import Sweep

    doc = yaml.safe_load(block)
    if not isinstance(doc, dict):
        return False
    if "horizonDays" in doc:  # a maintenance planning file (docs/predict.md)
        from twinforge.analytics.planning import PlanningProblem

        PlanningProblem.parse(doc)
    elif "scope" in doc:
        Scenario.from_dict(doc)
    elif set(doc) == {"sweep"}:
        Sweep.parse(doc["sweep"])
    elif set(doc) == {"optimise"}:
        Problem.parse(doc["optimise"], {"heatUsed", "finalTemp"})
    else:
        return False
    return True


def test_mapping_examples_load(tmp_path: Path) -> None:
    from twinforge.ingest.mapping import load_mapping

    found = 0
    for path in FILES:
        for suffix in ("yaml", "toml"):
            for n, block in enumerate(blocks(path, suffix)):
                if suffix == "yaml" and check_simulation_block(block):
                    continue
                if suffix == "yaml" and "apiVersion:" in block:  # a Kubernetes manifest (deployment.md)
                    import yaml

                    manifest = yaml.safe_load(block)
                    assert {"apiVersion", "kind", "metadata", "spec"} <= set(manifest), path.name
                    container = manifest["spec"]["template"]["spec"]["containers"][0]
                    assert container["args"][0] == "serve" and "--db" in container["args"]
                    continue
                file = tmp_path / f"{path.stem}-{n}.{suffix}"
                file.write_text(block)
                mapping = load_mapping(file)
                assert mapping.topics or mapping.opcua, f"{path.name}: an empty {suffix} mapping"
                found += 1
    assert found >= 2


def test_json_examples_parse() -> None:
    import json

    examples = [(path.name, block) for path in FILES for block in blocks(path, "json")]
    assert examples
    for where, block in examples:
        try:
            json.loads(block)
        except json.JSONDecodeError as exc:
            pytest.fail(f"{where}: a JSON example is not JSON: {exc}")
