"""Lineage and run diffs render in a real notebook (nbclient): HTML trees and reports, not reprs."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

CELLS = [
    "import opskit, pandas as pd\n"
    "@opskit.train(model='nb')\n"
    "def fit(df, *, k=1):\n"
    "    opskit.log_metric('k', float(k))\n"
    "    return {'k': k}\n"
    "fit(pd.DataFrame({'a': [1, 2]}), k=1)\n"
    "first = opskit.last_run()\n"
    "fit(pd.DataFrame({'a': [1, 3]}), k=2)\n"
    "second = opskit.last_run()",
    "opskit.lineage('nb:2')",
    "opskit.diff(first, second)",
]


def test_lineage_and_diff_render_as_html_in_a_notebook(tmp_path: Path, store: Path) -> None:
    """A lineage displays as nested HTML lists naming the run and data; a diff as its report in HTML."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in CELLS])
    client = NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    lineage_html = nb.cells[1].outputs[0]["data"]["text/html"]
    assert lineage_html.startswith("<div><strong>Lineage of nb:2</strong><ul>")
    assert (
        "produced by: <strong>run</strong>" in lineage_html and "fingerprint only" in lineage_html
    )
    diff_html = nb.cells[2].outputs[0]["data"]["text/html"]
    assert "Run diff" in diff_html and "~ k: 1 -&gt; 2" in diff_html
