"""The public API is one table: ``_EXPORTS`` in ``opskit/__init__.py``.

``__all__``, ``dir(opskit)`` and the lazy ``__getattr__`` are derived from it at run time;
type checkers read the ``if TYPE_CHECKING:`` imports instead. These tests keep the two in
step, and check that mypy sees exactly the public names (no ``Any`` for unknown ones).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

import opskit
from conftest import run_python

INIT = Path(opskit.__file__)
HEAVY = [
    "pandas",
    "numpy",
    "sklearn",
    "scipy",
    "mlflow",
    "starlette",
    "uvicorn",
    "prometheus_client",
]


def _is_type_checking(test: ast.expr) -> bool:
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


def _parse() -> tuple[dict[str, str], tuple[str, ...], list[ast.ImportFrom]]:
    """(export table, public submodules, the `if TYPE_CHECKING:` imports) as written in __init__.py."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    table: dict[str, str] | None = None
    submodules: tuple[str, ...] | None = None
    imports: list[ast.ImportFrom] = []
    for node in tree.body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
            assert isinstance(target, ast.Name) and node.value is not None
            if target.id == "_EXPORTS":
                assert isinstance(node.value, ast.Dict)
                keys = [ast.literal_eval(k) for k in node.value.keys if k is not None]
                # A dict literal silently keeps the last of two equal keys; a merge can produce one.
                assert len(keys) == len(set(keys)), (
                    f"duplicate names in _EXPORTS: {sorted(k for k in keys if keys.count(k) > 1)}"
                )
                table = ast.literal_eval(node.value)
            elif target.id == "_SUBMODULES":
                submodules = ast.literal_eval(node.value)
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom), (
                    f"only imports belong under TYPE_CHECKING (line {stmt.lineno})"
                )
                imports.append(stmt)
    assert table is not None and submodules is not None and imports
    return table, submodules, imports


def test_table_all_and_type_checking_imports_name_the_same_set() -> None:
    """The export table, __all__ and the TYPE_CHECKING imports name the same public names, from the same modules."""
    table, submodules, imports = _parse()
    assert list(table) == sorted(table), "keep _EXPORTS sorted"
    public = {**table, **dict.fromkeys(submodules, "opskit")}

    imported: dict[str, str] = {}
    for stmt in imports:
        for alias in stmt.names:
            # `Name as Name` is the explicit re-export that mypy --strict and pyright require.
            assert alias.asname == alias.name, (
                f"write `from {stmt.module} import {alias.name} as {alias.name}`"
            )
            assert alias.name not in imported, f"{alias.name} imported twice under TYPE_CHECKING"
            assert stmt.module is not None
            imported[alias.name] = stmt.module

    assert sorted(set(imported) - set(public)) == [], (
        "imported under TYPE_CHECKING but missing from _EXPORTS"
    )
    assert sorted(set(public) - set(imported)) == [], (
        "in _EXPORTS but missing from the TYPE_CHECKING imports"
    )
    assert {n: m for n, m in imported.items() if public[n] != m} == {}, (
        "imported from another module than the table names"
    )
    assert opskit.__all__ == sorted([*public, "__version__"])


def test_every_public_name_resolves_to_the_object_in_its_module() -> None:
    """Each public name is, at run time, the very object its table module defines; unknown names raise AttributeError."""
    table, submodules, _ = _parse()
    for name, module_name in table.items():
        module = importlib.import_module(module_name)
        value = getattr(opskit, name)
        assert value is getattr(module, name), name
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__module__ == module_name, (
                f"{name}: the table should name its defining module, {value.__module__}"
            )
    for name in submodules:
        assert getattr(opskit, name) is importlib.import_module(f"opskit.{name}")
    with pytest.raises(AttributeError, match="NotAThing"):
        opskit.NotAThing  # type: ignore[attr-defined]  # noqa: B018


def test_dir_lists_every_public_name_before_first_use() -> None:
    """dir(opskit) in a fresh interpreter lists every public name, though none has been resolved yet."""
    out = run_python("import json, opskit\nprint(json.dumps([dir(opskit), opskit.__all__]))")
    listed, public = json.loads(out.stdout)
    assert sorted(set(public) - set(listed)) == []


def test_import_opskit_is_lazy() -> None:
    """`import opskit` imports no module of the table, and resolving every public name imports no heavy library."""
    table, submodules, _ = _parse()
    lazy = sorted({*table.values(), *(f"opskit.{name}" for name in submodules)})
    out = run_python(
        "import sys, json, opskit\n"
        f"early = [m for m in {lazy!r} if m in sys.modules]\n"
        "for name in opskit.__all__:\n"
        "    getattr(opskit, name)\n"
        f"print(json.dumps([early, [m for m in {HEAVY!r} if m in sys.modules]]))"
    )
    early, heavy = json.loads(out.stdout)
    assert early == [], "imported by a bare `import opskit`"
    assert heavy == [], "imported by resolving the public names"


def _mypy(path: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(cache),
            "--no-error-summary",
            path.name,
        ],
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_mypy_accepts_every_public_name_and_rejects_unknown_ones(
    tmp_path: Path, pytestconfig: pytest.Config
) -> None:
    """mypy --strict passes a file using every public name and fails one using opskit.NotAThing."""
    assert pytestconfig.cache is not None
    cache = pytestconfig.cache.mkdir(
        "mypy-public-api"
    )  # reused across runs: a warm mypy takes ~1 s
    names = [name for name in opskit.__all__ if name != "__version__"]
    good = tmp_path / "uses_public_names.py"
    good.write_text(
        "import opskit\n"
        f"from opskit import {', '.join(names)}\n"
        f"everything = [{', '.join(names)}]\n"
        f"attributes = [{', '.join(f'opskit.{name}' for name in names)}]\n"
        "version: str = opskit.__version__\n"
    )
    bad = tmp_path / "uses_unknown_names.py"
    bad.write_text("import opskit\nfrom opskit import NotImported\nopskit.NotAThing\n")

    passed = _mypy(good, cache)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    failed = _mypy(bad, cache)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    errors = failed.stdout.splitlines()
    assert len(errors) == 2, failed.stdout
    assert errors[0].startswith(f"{bad.name}:2: error:") and '"NotImported"' in errors[0]
    assert errors[1].startswith(f"{bad.name}:3: error:") and '"NotAThing"' in errors[1]


def _own_docstring(value: object) -> str | None:
    if inspect.isclass(value):
        doc = vars(value).get("__doc__")  # not one inherited from a base class
        if isinstance(doc, str) and doc.startswith(f"{value.__name__}("):
            return None  # the signature dataclasses and NamedTuple write when the class has none
        return doc if isinstance(doc, str) else None
    return inspect.getdoc(value)


def test_every_public_name_has_a_docstring() -> None:
    """Every public function, module, record and exception carries a docstring of its own."""
    table, submodules, _ = _parse()
    missing = [
        name
        for name in [*table, *submodules]
        if not (_own_docstring(getattr(opskit, name)) or "").strip()
    ]
    assert missing == []
