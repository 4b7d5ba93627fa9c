"""The runnable examples in docs/plugins.md run as they are."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import ROOT, run_python

BLOCKS = re.findall(
    r"```python\n(# runnable example: (\w+)\n.*?)```",
    (ROOT / "docs" / "plugins.md").read_text(),
    re.S,
)


def test_there_is_a_runnable_example_per_backend_kind() -> None:
    """docs/plugins.md has a runnable tracker, storage and target example."""
    assert sorted(kind for _, kind in BLOCKS) == ["storage", "target", "tracker"]


@pytest.mark.parametrize(("code", "kind"), BLOCKS, ids=[kind for _, kind in BLOCKS])
def test_runnable_example(code: str, kind: str, tmp_path: Path) -> None:
    """Each runnable example runs in a fresh interpreter and prints its ok line."""
    out = run_python(code, env={"OPSKIT_HOME": str(tmp_path / ".opskit")}, cwd=tmp_path)
    assert out.stdout.strip().endswith(f"{kind} example: ok")
