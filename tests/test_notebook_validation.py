"""A notebook that trains with checks and gates and displays the report, executed for real with nbclient."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

import opskit

CELLS = [
    "import warnings\nimport opskit\nfrom opskit import checks, gates\n"
    "from sklearn.datasets import load_wine\nfrom sklearn.linear_model import LogisticRegression\n"
    "from sklearn.model_selection import train_test_split\n"
    "from sklearn.pipeline import make_pipeline\nfrom sklearn.preprocessing import StandardScaler\n"
    "X, y = load_wine(return_X_y=True, as_frame=True)\n"
    "X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)",
    "@opskit.train(model='wine', alias='production',\n"
    "              checks=[checks.not_null(), checks.between('alcohol', 10, 16)],\n"
    "              evaluate=('X_test', 'y_test'), metrics=['accuracy', 'f1_macro'],\n"
    "              gates=[gates.at_least('accuracy', 0.9), gates.beats('production', 'f1_macro')])\n"
    "def train(X_train, y_train, X_test, y_test, *, C=1.0):\n"
    "    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=1000)).fit(X_train, y_train)\n\n"
    "model = train(X_train, y_train, X_test, y_test)",
    "opskit.last_run().validation",
    "with warnings.catch_warnings(record=True) as caught:\n"
    "    worse = train(X_train, y_train, X_test, y_test, C=0.001)\n"
    "print([type(w.message).__name__ for w in caught])",
    "opskit.last_run().validation",
    "opskit.last_run()",
]


def test_the_report_renders_in_an_executed_notebook(tmp_path: Path, store: Path) -> None:
    """Displaying run.validation shows the verdict and a table of every check and gate; the run shows its verdict."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in CELLS])
    client = NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()

    passed = nb.cells[2].outputs[0]["data"]["text/html"]
    assert "validation PASSED" in passed and "<table>" in passed
    for name in ("not_null", "between", "at_least", "beats"):
        assert name in passed
    assert "no incumbent" in passed  # beats() before there was a production model

    assert "ValidationWarning" in nb.cells[3].outputs[0]["text"]
    failed = nb.cells[4].outputs[0]["data"]["text/html"]
    assert "validation FAILED" in failed and "not_registered" in failed
    assert "wine:1" in failed  # the incumbent it was compared with, on the same data
    assert "FAILED (not_registered)" in nb.cells[5].outputs[0]["data"]["text/html"]

    runs = opskit.search_runs("tags.opskit.validation = 'failed'")
    assert len(runs) == 1 and runs[0].validation is not None
    assert runs[0].validation._repr_html_() == failed
