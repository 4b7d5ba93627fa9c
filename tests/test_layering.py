"""Dependencies inside ``src/opskit`` point downward: the module import graph has no cycle.

Every import counts: at module level, inside functions (lazy imports) and under
``if TYPE_CHECKING:``. A package's ``__init__`` counts as the package module, and
``from pkg import name`` counts as an import of ``pkg.name`` when that is a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: Edges allowed to close a cycle, each with the reason. Keep this empty or tiny.
ALLOWED: dict[tuple[str, str], str] = {
    # Deprecated re-export shim: ``from opskit.config import configure/get_config/reset_defaults``
    # (the 0.1 paths) resolve lazily, in the module ``__getattr__``, to ``opskit.runtime``, which
    # holds that state now. Nothing in src/opskit uses the shim (see test_no_module_uses_the_shims).
    ("opskit.config", "opskit.runtime"): "deprecated re-export shim for the 0.1 import paths",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((SRC / "opskit").rglob("*.py"))}


def _resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str:
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, *([target] if target else [])])


def import_graph() -> dict[str, set[str]]:
    """Module → the opskit modules it imports anywhere in its source."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = _resolve_relative(name, is_package, node.level, node.module)
                # ``from pkg import module`` imports the module; ``from pkg import name`` imports pkg itself
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names
                ]
            for target in targets:
                # the deepest opskit module the name belongs to
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a list of modules (first == last), or None."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = grey
        stack.append(node)
        for nxt in sorted(graph[node]):
            if (node, nxt) in ALLOWED:
                continue
            if colour[nxt] == grey:
                return [*stack[stack.index(nxt) :], nxt]
            if colour[nxt] == white:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        colour[node] = black
        return None

    for start in sorted(graph):
        if colour[start] == white:
            found = visit(start)
            if found:
                return found
    return None


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other (Tarjan), largest first; singletons left out."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    counter = [0]

    def connect(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if (node, nxt) in ALLOWED:
                continue
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(groups, key=len, reverse=True)


def test_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    """The graph counts function-level and TYPE_CHECKING imports, not only module-level ones."""
    graph = import_graph()
    # sdk.runs imports the tracker lazily, inside functions; the edge must be seen.
    assert "opskit.errors" in graph["opskit.config"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle() -> None:
    """No chain of imports (at any level, lazy or TYPE_CHECKING) leads from an opskit module back to itself."""
    graph = import_graph()
    cycle = find_cycle(graph)
    if cycle is not None:
        groups = strongly_connected(graph)
        detail = "\n".join(f"  {len(g)} modules: {', '.join(g)}" for g in groups)
        pytest.fail("import cycle: " + " -> ".join(cycle) + "\nmodules that import each other:\n" + detail)


def test_allowed_edges_exist() -> None:
    """Every allow-listed edge is still an import (a stale entry would hide a future cycle)."""
    graph = import_graph()
    stale = [edge for edge in ALLOWED if edge[1] not in graph.get(edge[0], set())]
    assert stale == []
