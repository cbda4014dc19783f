"""The house's rules, checked on the source: each room imports only the rooms below it, nothing
imports the composition root, and no module imports itself round a cycle (a lazy import inside a
function counts: it is still a dependency, only a later one). docs/architecture.md draws the map."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What each room may import (besides itself). `calls` holds the types every room shares.
MAY_IMPORT = {
    "calls": set(),
    "telephony": {"calls"},
    "voice": {"calls", "telephony"},
    "nlu": {"calls"},
    "routing": {"calls", "telephony", "nlu"},
    "store": {"calls", "nlu", "routing"},
    "web": {"calls", "nlu", "routing", "store"},
    "ivr": {"calls", "telephony", "voice", "nlu", "routing", "store", "web"},
}
LIMIT_LINES = 700


def modules() -> dict[str, Path]:
    out = {}
    for room in MAY_IMPORT:
        for f in (ROOT / room).rglob("*.py"):
            rel = f.relative_to(ROOT).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            out[".".join(parts)] = f
    return out


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `name` imports, anywhere in it (relative imports resolved)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If) and _is_type_checking(block.test)
                   for stmt in block.body for n in ast.walk(stmt)}
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue  # `if TYPE_CHECKING:` imports are for annotations and never run
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")
                up = up[: len(up) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports(name, path, known) for name, path in mods.items()}


def test_each_room_imports_only_the_rooms_below_it():
    wrong = defaultdict(set)
    for name, deps in graph().items():
        room = name.split(".")[0]
        for d in deps:
            other = d.split(".")[0]
            if other != room and other not in MAY_IMPORT[room]:
                wrong[f"{room} -> {other}"].add(f"{name} imports {d}")
    assert not wrong, dict(wrong)


def test_no_module_imports_itself_round_a_cycle():
    g = graph()
    index, low, stack, on, cycles = {}, {}, [], set(), []

    def visit(v, counter=[0]):  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in g:
        if v not in index:
            visit(v)
    # A package importing its own submodules (``__init__`` re-exports) is not a cycle of design.
    real = [c for c in cycles if not all(m == c[0] or m.startswith(c[0] + ".") for m in c)]
    assert not real, real


def test_no_module_is_longer_than_the_house_allows():
    # The project's own code, not the build and cache folders (var/ and cache/ hold data, not code).
    skip = {"var", "cache", "build", "dist", "node_modules", "bench-results"}
    code = [f for top in ROOT.iterdir() if top.is_dir() and not top.name.startswith(".") and top.name not in skip
            for f in top.rglob("*.py")]
    long = {str(f.relative_to(ROOT)): n for f in code
            if (n := len(f.read_text(encoding="utf-8").splitlines())) > LIMIT_LINES}
    assert not long, long


def test_the_composition_root_stays_thin():
    lines = sum(len(f.read_text(encoding="utf-8").splitlines()) for f in (ROOT / "ivr").glob("*.py"))
    assert lines < 1500, f"ivr/ outside ivr/tools/ is {lines} lines: application logic belongs in its room"
