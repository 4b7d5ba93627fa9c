"""Every ``OPSKIT_*`` variable is declared in ``opskit.config`` and documented in docs/configuration.md, and back."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

import pytest

import opskit
from opskit.config import ENV_VARS, ENVIRONMENT, Config, env_flag, env_names, parse_bool
from opskit.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "configuration.md"
SRC = ROOT / "src" / "opskit"
NAME = re.compile(r"\bOPSKIT_[A-Z][A-Z0-9_]*[A-Z0-9]\b")


def test_every_declared_variable_is_documented() -> None:
    """Each variable in opskit.config.ENVIRONMENT appears in docs/configuration.md."""
    documented = set(NAME.findall(DOCS.read_text(encoding="utf-8")))
    assert sorted(set(ENVIRONMENT) - documented) == []


def test_every_documented_variable_exists() -> None:
    """Each OPSKIT_* name in docs/configuration.md is declared in opskit.config.ENVIRONMENT."""
    documented = set(NAME.findall(DOCS.read_text(encoding="utf-8")))
    assert sorted(documented - set(ENVIRONMENT)) == []


def test_every_option_variable_is_a_config_field() -> None:
    """Variables that set an option name a field of Config."""
    fields = set(Config.__attrs_attrs__.__dir__()) | {a.name for a in Config.__attrs_attrs__}
    assert all(option in fields for option in ENV_VARS)


def test_every_variable_named_in_the_source_is_declared() -> None:
    """No module of opskit mentions an OPSKIT_* variable that opskit.config does not declare."""
    undeclared = {
        (str(path.relative_to(SRC)), name)
        for path in SRC.rglob("*.py")
        for name in NAME.findall(path.read_text(encoding="utf-8"))
        if name not in ENVIRONMENT
    }
    assert sorted(undeclared) == []


def _environment_reads(tree: ast.AST) -> list[tuple[int, str]]:
    """Lines that read an OPSKIT_* variable straight from the environment."""
    found = []
    for node in ast.walk(tree):
        key: ast.expr | None = None
        if isinstance(node, ast.Call) and node.args:
            func = ast.unparse(node.func)
            if func in ("os.environ.get", "os.getenv", "environ.get", "getenv"):
                key = node.args[0]
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and ast.unparse(node.value) in ("os.environ", "environ")
        ):
            key = node.slice
        if key is not None:
            text = ast.unparse(key)
            if "OPSKIT_" in text or text.endswith(
                "_ENV"
            ):  # a literal name or a constant holding one
                found.append((node.lineno, text))
    return found


def test_only_the_config_module_reads_opskit_variables() -> None:
    """Every OPSKIT_* read goes through opskit.config (one parser), not os.environ elsewhere."""
    offenders = []
    for path in SRC.rglob("*.py"):
        if path == SRC / "config.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offenders += [
            (str(path.relative_to(SRC)), line, text) for line, text in _environment_reads(tree)
        ]
    assert offenders == []


@pytest.mark.parametrize("text", ["1", "true", "TRUE", " yes ", "On"])
def test_true_spellings(text: str) -> None:
    """The one boolean parser reads every documented true spelling as True."""
    assert parse_bool("x", text, "test") is True


@pytest.mark.parametrize("text", ["0", "false", "No", "OFF", ""])
def test_false_spellings(text: str) -> None:
    """The one boolean parser reads every documented false spelling as False."""
    assert parse_bool("x", text, "test") is False


@pytest.mark.parametrize("variable", [v.name for v in ENVIRONMENT.values() if v.kind == "bool"])
def test_every_boolean_variable_refuses_a_bad_value(
    variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A boolean variable set to something that is not a boolean raises ConfigError naming the variable."""
    monkeypatch.setenv(variable, "maybe")
    opskit.reset_defaults()
    read: Callable[[], object] = (
        opskit.get_config if ENVIRONMENT[variable].option else lambda: env_flag(variable, True)
    )
    with pytest.raises(ConfigError, match=variable):
        read()
    monkeypatch.delenv(variable)
    opskit.reset_defaults()


def test_trace_hooks_and_progress_read_the_same_spellings(monkeypatch: pytest.MonkeyPatch) -> None:
    """OPSKIT_TRACE_HOOKS=yes and OPSKIT_PROGRESS=off are understood (they used two other parsers before)."""
    from opskit.storage.progress import _enabled

    monkeypatch.setenv("OPSKIT_TRACE_HOOKS", "Yes")
    assert env_flag("OPSKIT_TRACE_HOOKS", False) is True
    monkeypatch.setenv("OPSKIT_PROGRESS", "off")
    assert _enabled() is False


def test_undeclared_variables_cannot_be_read() -> None:
    """Reading a variable that is not declared is a programming error, caught at once."""
    with pytest.raises(KeyError, match="OPSKIT_NOPE"):
        env_names("OPSKIT_NOPE")


def test_mypy_checks_the_names_and_types_of_configure_arguments(
    tmp_path: Path, pytestconfig: pytest.Config
) -> None:
    """configure() is typed: mypy --strict accepts every option and rejects a misspelled name or a wrong type."""
    import subprocess
    import sys

    assert pytestconfig.cache is not None
    cache = pytestconfig.cache.mkdir("mypy-public-api")
    script = tmp_path / "configures.py"
    script.write_text(
        "import opskit\n"
        "opskit.configure(home='h', tracker='local', storage='local', experiment=None, capture_env=True,\n"
        "                 capture_git=False, tracker_options={}, storage_options={'anon': True})\n"
        "opskit.configure(trackr='local')\n"
        "opskit.configure(capture_env='yes')\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(cache),
            "--no-error-summary",
            script.name,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert [line.split(":")[1] for line in lines] == ["4", "5"], done.stdout
    assert "trackr" in lines[0] and "capture_env" in lines[1]
