"""A notebook that defines, decorates and trains a function in a cell, executed for real with nbclient."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbclient import NotebookClient

import opskit
from conftest import run_python

CELLS = [
    "import opskit\nfrom sklearn.datasets import load_iris\nfrom sklearn.tree import DecisionTreeClassifier\n"
    "X, y = load_iris(return_X_y=True, as_frame=True)",
    # A model class defined in the notebook: it must be pickled by value to load elsewhere.
    "class Doubler:\n    def __init__(self, tree):\n        self.tree = tree\n"
    "    def predict(self, X):\n        return self.tree.predict(X) * 2\n\n"
    "@opskit.train(model='iris', alias='staging')\n"
    "def train(X, y, *, depth=3):\n"
    "    tree = DecisionTreeClassifier(max_depth=depth, random_state=0).fit(X, y)\n"
    "    opskit.log_metric('acc', tree.score(X, y))\n"
    "    return Doubler(tree)\n\n"
    "model = train(X, y, depth=2)",
    "run = opskit.last_run()\nrun",
    "with opskit.start_run(name='eda') as eda:\n    opskit.log_metric('rows', len(X))\n"
    "print(run.id, run.model_version.ref, list(model.predict(X.head(3))))",
]


def test_notebook_trains_and_a_new_process_loads_the_model(tmp_path: Path, store: Path) -> None:
    """Cells run under a real kernel; the run has the cell source; another process loads the model."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in CELLS])
    client = NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    printed = nb.cells[3].outputs[0]["text"].split(maxsplit=2)
    run_id, ref, predictions = printed[0], printed[1], printed[2].strip()
    assert ref == "iris:1"
    html = nb.cells[2].outputs[0]["data"]["text/html"]
    assert "Run train" in html and "acc" in html

    run = opskit.get_run(run_id)
    assert run.params == {"depth": 2}
    assert run.code is not None and run.code.notebook_cell is not None
    assert "class Doubler" in run.code.notebook_cell and "def train" in (run.code.source or "")
    assert [r.name for r in opskit.search_runs()] == ["eda", "train"]

    out = run_python(
        "import json, opskit\nfrom sklearn.datasets import load_iris\n"
        "X, _ = load_iris(return_X_y=True, as_frame=True)\n"
        "m = opskit.load_model('iris@staging')\n"
        "print(json.dumps([type(m).__name__, [int(v) for v in m.predict(X.head(3))]]))",
        cwd=tmp_path,
    )
    name, loaded = json.loads(out.stdout)
    assert name == "Doubler"
    assert str(loaded) == predictions.replace("np.int64(", "").replace(")", "")
