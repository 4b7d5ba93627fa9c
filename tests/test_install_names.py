"""Every install line a user can copy installs this project, never the unrelated `opskit` on PyPI."""

from __future__ import annotations

import re
import shlex
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from conftest import ROOT

DISTRIBUTION = "opskit-ml"
PLUGINS = ("opskit-mlflow", "opskit-example")


def _documents() -> list[Path]:
    return [
        ROOT / "README.md",
        *sorted((ROOT / "docs").rglob("*.md")),
        *sorted((ROOT / "plugins").glob("*/README.md")),
    ]


def _install_lines() -> list[tuple[str, str]]:
    """(where, command) for every `pip install ...` in the docs and in opskit's own messages."""
    found = []
    sources = [*_documents(), *sorted((ROOT / "src").rglob("*.py"))]
    for path in sources:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in re.finditer(r"pip install [^`#\n\"]+", line):
                found.append((f"{path.relative_to(ROOT)}:{number}", match.group(0)))
    return found


def _requirements(command: str) -> list[str]:
    """The requirement arguments of one `pip install` command (options and their values dropped)."""
    words = shlex.split(command.replace("{", "").replace("}", ""), posix=True)[2:]
    out, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word in {"-r", "--requirement", "-c", "--constraint"}:
            skip = True
        elif word == "-e" or word.startswith("-"):
            continue
        else:
            out.append(word)
    return out


def _extras() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return set(project["optional-dependencies"])


INSTALLS = _install_lines()


def test_the_distribution_name_is_free_of_the_other_project() -> None:
    """pyproject names the distribution opskit-ml, and the plugins depend on opskit-ml."""
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"] == DISTRIBUTION
    for plugin in PLUGINS:
        deps = tomllib.loads((ROOT / "plugins" / plugin / "pyproject.toml").read_text())["project"][
            "dependencies"
        ]
        names = {re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0] for d in deps}
        assert DISTRIBUTION in names and "opskit" not in names, (plugin, deps)


def test_the_installed_distribution_provides_import_opskit() -> None:
    """The installed opskit-ml distribution's console script is this package's CLI."""
    import opskit.cli

    scripts = [
        ep
        for ep in metadata.distribution(DISTRIBUTION).entry_points
        if ep.group == "console_scripts"
    ]
    assert [ep.name for ep in scripts] == ["opskit"]
    assert scripts[0].load() is opskit.cli.run


def test_there_are_install_lines_to_check() -> None:
    """The guard below has material: README and docs give install commands."""
    assert len(INSTALLS) >= 5


@pytest.mark.parametrize(("where", "command"), INSTALLS, ids=[w for w, _ in INSTALLS])
def test_install_line_installs_this_project(where: str, command: str) -> None:
    """No line installs `opskit` from an index; local paths exist; every extra named exists."""
    for requirement in _requirements(command):
        local = requirement.startswith((".", "/", "plugins/"))
        name, _, rest = requirement.partition("[")
        extras = set(rest.rstrip("]").split(",")) if rest else set()
        if local:
            path = ROOT / name if name not in {".", "./"} else ROOT
            assert path.exists(), f"{where}: {command!r} names a path that does not exist"
            if path == ROOT:
                assert extras <= _extras(), f"{where}: {command!r} names an unknown extra"
            continue
        assert name != "opskit", (
            f"{where}: {command!r} would install the unrelated `opskit` from PyPI"
        )
        if name == DISTRIBUTION:
            assert extras <= _extras(), f"{where}: {command!r} names an unknown extra"
