"""Nothing blocks the event loop, by construction: an `async` function in the API layer (routes,
middleware, the fast path) never calls the store, the graph or a service that reads them, and
never parses a request body itself; it hands that work to the pools (`blocking`, `writing`,
`Workers.run`), whose arguments are references, not calls."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "twinforge"
FILES = sorted([*SRC.glob("api/*.py"), SRC / "auth" / "middleware.py", *SRC.glob("ui/*.py")])
# Names whose methods touch the store, and accessors returning services that do.
STORE_NAMES = {"store", "graph"}
SERVICES = {"scenarios_of", "jobs_of", "_analytics", "_alerts", "_orders", "ingestor_of"}
SERVICE_ATTRS = {"tokens", "oidc", "scenarios", "jobs", "alerts", "analytics", "evaluator", "routes", "ingestor"}
PARSERS = {"loads", "parse_json_body", "safe_load"}
# Calls that are known not to block: in-memory state only.
ALLOWED = {"latest.get", "dead_letter", "counters", "submit", "wake", "subscribe", "unsubscribe", "announce",
           "status", "stream", "models"}


def _chain(node: ast.expr) -> list[str]:
    names: list[str] = []
    while True:
        if isinstance(node, ast.Attribute):
            names.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                names.append(func.id + "()")
            node = func.value if isinstance(func, ast.Attribute) else node
            if not isinstance(func, ast.Attribute):
                break
        elif isinstance(node, ast.Name):
            names.append(node.id)
            break
        else:
            break
    return list(reversed(names))


class _Finder(ast.NodeVisitor):
    def __init__(self, file: Path) -> None:
        self.file = file
        self.problems: list[str] = []
        self._async = 0

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._async += 1
        self.generic_visit(node)
        self._async -= 1

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        saved, self._async = self._async, 0  # a nested def runs where it is handed: a pool
        self.generic_visit(node)
        self._async = saved

    def visit_Lambda(self, node: ast.Lambda) -> None:
        saved, self._async = self._async, 0
        self.generic_visit(node)
        self._async = saved

    def visit_Await(self, node: ast.Await) -> None:
        # an awaited call is a coroutine (its own body is checked where it is defined); its
        # arguments are still looked at
        if isinstance(node.value, ast.Call):
            for child in [*node.value.args, *[k.value for k in node.value.keywords]]:
                self.visit(child)
            if isinstance(node.value.func, ast.Attribute):
                self.visit(node.value.func.value)
        else:
            self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if self._async and isinstance(node.func, ast.Attribute):
            chain = _chain(node.func)
            method = chain[-1]
            owners = chain[:-1]
            touches = (any(n in STORE_NAMES for n in owners) or any(n.removesuffix("()") in SERVICES for n in owners)
                       or any(n in SERVICE_ATTRS for n in owners[1:]))
            lifecycle = method in ("start", "close") and owners[:2] == ["app", "state"]  # threads, in lifespan
            if touches and not lifecycle and method not in ALLOWED and ".".join(chain[-2:]) not in ALLOWED:
                self.problems.append(f"{self.file.name}:{node.lineno}: {'.'.join(chain)}() on the event loop")
            if method in PARSERS and chain[0] in ("orjson", "json", "yaml"):
                self.problems.append(f"{self.file.name}:{node.lineno}: {'.'.join(chain)}() parses on the loop")
        elif self._async and isinstance(node.func, ast.Name) and node.func.id in PARSERS:
            self.problems.append(f"{self.file.name}:{node.lineno}: {node.func.id}() parses on the loop")
        self.generic_visit(node)


def _problems(source: str, name: str = "x.py") -> list[str]:
    """What the check finds, but lines marked ``# small body:`` (a parse bounded to a small size,
    the larger ones sent to a pool in the other branch)."""
    finder = _Finder(Path(name))
    finder.visit(ast.parse(source))
    lines = source.splitlines()
    return [p for p in finder.problems if "# small body:" not in lines[int(p.split(":")[1]) - 1]]


@pytest.mark.parametrize("file", FILES, ids=lambda f: f"{f.parent.name}/{f.name}")
def test_async_handlers_hand_store_work_and_parsing_to_the_pools(file: Path) -> None:
    assert _problems(file.read_text(), file.name) == []


def test_the_check_finds_what_it_is_for() -> None:
    bad = '''
async def route(request):
    graph = request.app.state.graph
    twin = graph.get_twin("a")
    request.app.state.graph.store.put_setting("k", "v")
    scenarios_of(request).start("s")
    body = orjson.loads(await request.body())
'''
    problems = _problems(bad)
    assert len(problems) == 4, problems
    good = '''
async def route(request):
    graph = request.app.state.graph
    twin = await blocking(request, graph.get_twin, "a")
    def work():
        return graph.store.get_setting("k")
    await writing(request, scenarios_of(request).start, "s")
    return await blocking(request, lambda: orjson.loads(b"{}"))
'''
    assert _problems(good) == []
