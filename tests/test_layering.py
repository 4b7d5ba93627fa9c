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
    # Under TYPE_CHECKING only (the ActiveRun annotation). sdk/context.py and sdk/lifecycle.py are
    # being reshaped by the run-lifecycle / train-pipeline work of issue 9 (items 1 and 5, into
    # tracking/); a small Protocol in lifecycle for what it uses of a run removes this edge there.
    (
        "opskit.sdk.lifecycle",
        "opskit.tracking.context",
    ): "TYPE_CHECKING-only; removed with the lifecycle refactor",
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
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
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


def test_graph_sees_every_kind_of_import() -> None:
    """The graph counts function-level and TYPE_CHECKING imports, not only module-level ones."""
    graph = import_graph()
    assert "opskit.errors" in graph["opskit.config"]  # module level
    assert "opskit.runtime" in graph["opskit.deployments.client"]  # inside a function only
    assert "opskit.records.deployments" in graph["opskit.hookspecs"]  # under TYPE_CHECKING only
    assert "opskit.records.runs" in graph["opskit.query"]  # `from opskit.records.runs import NAME`
    assert "opskit.tracker.sqlite.tracker" in graph["opskit.tracker.sqlite"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle() -> None:
    """No chain of imports (at any level, lazy or TYPE_CHECKING) leads from an opskit module back to itself."""
    graph = import_graph()
    cycle = find_cycle(graph)
    if cycle is not None:
        groups = strongly_connected(graph)
        detail = "\n".join(f"  {len(g)} modules: {', '.join(g)}" for g in groups)
        pytest.fail(
            "import cycle: " + " -> ".join(cycle) + "\nmodules that import each other:\n" + detail
        )


def test_allowed_edges_exist() -> None:
    """Every allow-listed edge is still an import (a stale entry would hide a future cycle)."""
    graph = import_graph()
    stale = [edge for edge in ALLOWED if edge[1] not in graph.get(edge[0], set())]
    assert stale == []


#: Old import paths kept as deprecated shims; opskit's own modules use the new homes.
SHIMS = {
    "opskit._backends": None,  # every name
    "opskit.config": {"configure", "get_config", "reset_defaults"},
}


def test_no_module_uses_the_shims() -> None:
    """No module of opskit imports through a deprecated shim (they exist for plugins and old code only)."""
    offenders = []
    for name, path in _modules().items():
        if name in SHIMS or name == "opskit":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module in SHIMS:
                names = SHIMS[node.module]
                if names is None or {a.name for a in node.names} & names:
                    offenders.append((name, node.lineno, node.module))
            elif isinstance(node, ast.Import) and any(
                a.name in SHIMS and SHIMS[a.name] is None for a in node.names
            ):
                offenders.append((name, node.lineno, "import"))
    assert offenders == []


def test_records_import_nothing_above_them() -> None:
    """The record modules import only each other (records are data: no backend, no runtime, no I/O module)."""
    graph = import_graph()
    records = {
        name for name in graph if name == "opskit.records" or name.startswith("opskit.records.")
    }
    outside = {
        (name, target) for name in records for target in graph[name] if target not in records
    }
    assert sorted(outside) == []
    io_modules = {"urllib", "http", "socket", "sqlite3", "subprocess", "requests", "fsspec"}
    for name in records:
        tree = ast.parse(_modules()[name].read_text(encoding="utf-8"))
        imported = {
            a.name.split(".")[0]
            for n in ast.walk(tree)
            if isinstance(n, ast.Import)
            for a in n.names
        }
        imported |= {
            (n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
        }
        assert not imported & io_modules, name


def test_plugins_in_this_repo_import_no_private_opskit_module() -> None:
    """The plugins under plugins/ use public opskit modules only (opskit.runtime, not opskit._backends)."""
    root = SRC.parent / "plugins"
    offenders = []
    for path in root.rglob("src/**/*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules = []
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            for module in modules:
                parts = module.split(".")
                if parts[0] == "opskit" and any(p.startswith("_") for p in parts[1:]):
                    offenders.append((str(path.relative_to(root)), node.lineno, module))
    assert offenders == []
