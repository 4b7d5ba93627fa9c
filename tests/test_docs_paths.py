"""The docs name only opskit modules and objects that exist, so they cannot drift from the code."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").rglob("*.md"))
#: ``opskit.<word>`` in the docs that are not Python paths: MLflow tag keys, the store's database file.
NOT_MODULES = {
    "chain",
    "alias_history",
    "card",
    "code_digest",
    "data",
    "dataset",
    "db",
    "digest",
    "event",
    "flavor",
    "function",
    "git_commit",
    "host",
    "imports",
    "input",
    "json",
    "model_version",
    "parent_run_id",
    "pid",
    "pid_start",
    "reproduces",
    "run_id",
    "size_bytes",
    "state",
    "status",
    "user",
}
_PATH = re.compile(r"(?<![\w./-])(opskit(?:\.[A-Za-z_]\w*)+)")


def resolves(path: str) -> bool:
    """Whether ``a.b.c`` is an importable module, or an attribute chain of the longest importable prefix."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            if not hasattr(found, attr):
                return False
            found = getattr(found, attr)
        return True
    return False


def doc_paths() -> list[tuple[str, str]]:
    """(doc file, ``opskit.…`` path) for every dotted opskit path the docs mention."""
    found = set()
    for doc in DOCS:
        for match in _PATH.finditer(doc.read_text()):
            path = match.group(1)
            if path.split(".")[1] not in NOT_MODULES:
                found.add((str(doc.relative_to(ROOT)), path))
    return sorted(found)


def test_the_docs_mention_module_paths() -> None:
    """Guard: the scan finds the paths plugin authors use, so the test below is not vacuous."""
    paths = {path for _, path in doc_paths()}
    assert {
        "opskit.tracker.Tracker",
        "opskit.storage.base",
        "opskit.testing.TrackerContract",
    } <= paths


@pytest.mark.parametrize(("doc", "path"), doc_paths())
def test_every_opskit_path_in_the_docs_exists(doc: str, path: str) -> None:
    """Each ``opskit.…`` path a doc names imports (a module) or resolves (a name in one)."""
    assert resolves(path), f"{doc} names {path}, which does not exist: fix the doc or the code"


def test_a_missing_path_is_reported() -> None:
    """The resolver refuses a module and a name that do not exist."""
    assert not resolves("opskit.backends.tracker")
    assert not resolves("opskit.tracker.base.NoSuchProtocol")
    assert resolves("opskit.tracker.capabilities.SupportsSync")
