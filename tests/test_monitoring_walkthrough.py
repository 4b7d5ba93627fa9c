"""The monitoring walkthrough in docs/monitoring.md is examples/monitoring.py, and it runs."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import ROOT, run_python

EXAMPLE = ROOT / "examples" / "monitoring.py"
DOC = ROOT / "docs" / "monitoring.md"
MARKER = "# walkthrough: "


def example_sections() -> list[str]:
    """The example's walkthrough sections: from each marker to the next marker or example-only part."""
    body = EXAMPLE.read_text().split('"""', 2)[2]
    parts = re.split(r"(?m)^(?=# walkthrough: |# \(example only)", body)
    return [part.strip() for part in parts if part.startswith(MARKER)]


def doc_blocks() -> list[str]:
    """The python blocks of docs/monitoring.md whose first line is a walkthrough marker."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    return [block.strip() for block in blocks if block.startswith(MARKER)]


def test_walkthrough_blocks_are_the_example_code() -> None:
    """Every walkthrough block of the docs equals the example's section, in the same order."""
    sections = example_sections()
    assert len(sections) == 10
    assert doc_blocks() == sections


def test_walkthrough_comes_first() -> None:
    """The walkthrough is the page's first section, right after the intro."""
    headings = re.findall(r"(?m)^## (.*)$", DOC.read_text())
    assert headings[0].startswith("Walkthrough")


def test_monitoring_example_runs_and_reruns(tmp_path: Path) -> None:
    """examples/monitoring.py runs on a fresh store, and again on the same one, checking every step."""
    code = f"import runpy; runpy.run_path({str(EXAMPLE)!r}, run_name='__main__')"
    env = {"OPSKIT_HOME": str(tmp_path / ".opskit")}
    for version in (1, 2):  # a second run registers wine:2 and reads only its own requests
        out = run_python(code, env=env, cwd=tmp_path).stdout
        assert f"registered wine:{version}, profile stored: True" in out
        assert f"wine@production is wine:{version}" in out
        assert "deployed wine-prod: running" in out
        assert re.search(r"scored 45 rows in request \w+", out)
        assert "48 rows logged" in out
        assert "labels stored: 45, matched: 45, unknown: 0" in out
        assert re.search(r"accuracy (0\.[89]\d|1\.00) on 45 rows, degraded: False", out)
        assert "(float: epoch seconds, UTC)" in out
        assert "accuracy by region: {'0': " in out
        assert "drift: False, drifted columns: []" in out
        assert "first check: exit status 0" in out
        assert "second check: exit status 1" in out
        assert out.rstrip().endswith("wine-prod: stopped")


def test_no_snippet_reads_a_fixed_date_range() -> None:
    """No python snippet of docs/monitoring.md passes a literal date as since= or until=."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    fixed = [
        line
        for block in blocks
        for line in block.splitlines()
        if re.search(r"""\b(since|until)=["']\d{4}-\d\d""", line)
    ]
    assert fixed == []


def test_snippets_import_gates_and_checks() -> None:
    """Every snippet outside the walkthrough that uses gates or checks imports them itself."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    missing = [
        (module, block.splitlines()[0])
        for block in blocks
        if not block.startswith(MARKER)
        for module in ("gates", "checks")
        if f"{module}." in block and f"from opskit import {module}" not in block
    ]
    assert missing == []
