"""``opskit.reproduce`` / ``opskit reproduce``: a run captured in one process, re-executed in another.

Every end-to-end test trains in a subprocess and reproduces in another fresh one (the function
must come back by value or from git, never from the test's own memory), on both trackers.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import opskit
from conftest import run_python

pytestmark = pytest.mark.trackers("local", "mlflow")

#: A training script: a seeded forest (its bootstrap draws come from NumPy's global generator,
#: random_state=None) on data made inside the function from the params.
SCRIPT = """
import sys
import opskit

@opskit.train(model="forest", alias="production", seed=SEED)
def train(*, n=200, depth=3, jitter=False):
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    model = RandomForestClassifier(n_estimators=5, max_depth=depth).fit(X, y)
    score = model.score(X, y)
    if jitter:  # nondeterministic on purpose: the run cannot be reproduced without a seed
        import os
        score += int.from_bytes(os.urandom(4), "little") / 2**40
    opskit.log_metric("acc", score)
    opskit.log_metric("rows", n)
    return model

train(n=int(sys.argv[1]), depth=3, jitter=sys.argv[2] == "jitter")
print(opskit.last_run().id)
"""


def _train(tmp_path: Path, *, seed: str = "7", jitter: bool = False, n: int = 200) -> str:
    script = tmp_path / "train_forest.py"
    script.write_text(SCRIPT.replace("SEED", seed))
    done = subprocess.run(
        [sys.executable, str(script), str(n), "jitter" if jitter else "plain"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def _reproduce(run_id: str, cwd: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opskit.cli.main", "reproduce", run_id, *extra],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        check=False,
    )


def test_seeded_sklearn_run_reproduces_with_identical_bytes_in_a_fresh_process(
    tmp_path: Path,
) -> None:
    """A seeded forest trained in one process is re-run in another: same metrics, same model bytes, a new linked run."""
    run_id = _train(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "train_forest.py").unlink()  # the script is gone: the function comes by value
    done = _reproduce(run_id, elsewhere, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["matched"] is True and report["function_source"] == "pickle"
    assert report["seed"] == 7
    assert report["model"]["identical"] is True
    assert report["model"]["original"] == "forest:1" and report["model"]["new"] == "forest:2"
    assert {m["key"]: m["match"] for m in report["metrics"]} == {"acc": True, "rows": True}

    original, new = opskit.get_run(run_id), opskit.get_run(report["run_id"])
    assert new.tags["opskit.reproduces"] == run_id and new.tags["opskit.seed"] == "7"
    assert new.params == original.params and new.experiment == original.experiment
    # the original alias does not move to the reproduction
    assert opskit.models.get_version("forest@production").version == 1
    assert opskit.models.get_version("forest:2").aliases == ()


def test_nondeterministic_run_reports_the_metric_mismatch_and_exits_1(tmp_path: Path) -> None:
    """Without a fixed outcome the reproduction differs: the CLI names the metric, prints the environment first, exits 1."""
    run_id = _train(tmp_path, seed="None", jitter=True)
    done = _reproduce(run_id[:10], tmp_path)  # a unique prefix, as `opskit runs show` takes
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"reproducing run {run_id}"
    assert lines[1] == "environment: the same as the original run's"  # before it ran
    assert any(line.strip().startswith("DIFF acc:") for line in lines)
    assert any(line.strip().startswith("ok   rows:") for line in lines)
    assert "DIFFERS" in done.stdout and "seed: none recorded" in done.stdout


def test_api_reports_a_mismatch_within_and_outside_the_tolerance(tmp_path: Path) -> None:
    """The Reproduction record: per-metric original/new/match, matched False, JSON-plain, HTML."""
    run_id = _train(tmp_path, seed="None", jitter=True)
    out = run_python(
        "import json, opskit\n"
        f"r = opskit.reproduce({run_id!r})\n"
        "loose = opskit.reproduce(r.original_run_id, tolerance=1.0)\n"
        "print(json.dumps([r.to_dict(), r.summary(), r._repr_html_(), loose.metrics_matched]))",
        cwd=tmp_path,
    )
    report, summary, html, loose_matched = json.loads(out.stdout.strip().splitlines()[-1])
    acc = next(m for m in report["metrics"] if m["key"] == "acc")
    assert acc["match"] is False and acc["original"] != acc["new"]
    assert report["matched"] is False
    assert "DIFF acc" in summary and "Reproduction of run" in html
    assert loose_matched is True  # a jitter below 1e-2 is within tolerance=1.0


PACKAGE_TRAINER = """
import opskit
from helpers import offset
from proj.features import double

@opskit.train(model="pkg", seed=3)
def train(*, k=2):
    import random
    value = double(k) + offset() + random.random()
    opskit.log_metric("value", value)
    return {"value": value}
"""


def test_function_of_a_project_package_loads_where_the_project_is_absent(tmp_path: Path) -> None:
    """A function in the user's package (and the project modules it uses) is pickled by value: the project can be deleted."""
    project = tmp_path / "project"
    (project / "proj").mkdir(parents=True)
    (project / "proj" / "__init__.py").write_text("")
    (project / "proj" / "features.py").write_text("def double(x):\n    return 2 * x\n")
    (project / "proj" / "trainer.py").write_text(PACKAGE_TRAINER)
    (project / "helpers.py").write_text(
        "def offset():\n    return 100\n"
    )  # another top-level module
    out = run_python(
        "import opskit\nfrom proj.trainer import train\ntrain(k=5)\nprint(opskit.last_run().id)",
        cwd=project,
    )
    run_id = out.stdout.strip().splitlines()[-1]
    shutil.rmtree(project)
    out = run_python(
        f"import json, opskit\nr = opskit.reproduce({run_id!r})\nprint(json.dumps(r.to_dict()))",
        cwd=tmp_path,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["matched"] is True and report["function_source"] == "pickle"
    # double(5) + offset() ran: the package's other module and the top-level helpers.py came by value
    assert 110 < report["metrics"][0]["new"] < 111


GIT_TRAINER = """
import opskit
LOCK = __import__("threading").Lock()

@opskit.train(model="gitmodel", alias="staging", seed=11)
def train(*, k=2):
    import random
    with LOCK:  # a lock cannot be pickled: only the source at the commit can bring this back
        value = k + random.random()
    opskit.log_metric("value", value)
    return {"value": value}

if __name__ == "__main__":
    train(k=3)  # two runs: one warning (the capture is cached per function per process)
    train(k=4)
    print(opskit.last_run().id)
"""


def _run_script(cwd: Path, name: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-W", "always", name],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def test_function_that_cannot_be_pickled_is_rebuilt_from_its_source_at_the_commit(
    tmp_path: Path,
) -> None:
    """An unpicklable function: the run still succeeds (reason recorded, one warning); reproduce uses `git show COMMIT:PATH`."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "trainer.py").write_text(GIT_TRAINER)
    _git(repo, "init", "-q")
    _git(repo, "add", "trainer.py")
    _git(repo, "commit", "-qm", "trainer")
    done = _run_script(repo, "trainer.py")
    run_id = done.stdout.strip().splitlines()[-1]
    assert done.stderr.count("could not capture 'train' by value") == 1
    run = opskit.get_run(run_id)
    assert run.status == "FINISHED" and "lock" in run.tags["opskit.function.error"]
    assert "opskit/function.pkl" not in [a.name for a in run.artifacts]

    (repo / "trainer.py").write_text("raise SystemExit('the working tree changed since')\n")
    out = run_python(
        "import json, warnings, opskit\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        f"    r = opskit.reproduce({run_id!r})\n"
        "print(json.dumps([r.to_dict(), [str(w.message) for w in caught]]))",
        cwd=repo,
    )
    report, warned = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["matched"] is True
    assert report["function_source"].startswith("git:") and report["function_source"].endswith(
        ":trainer.py"
    )
    assert any("using its source from git:" in w for w in warned)
    # the options came back (model name, seed), and the alias did not move to the reproduction
    assert run.model_version is not None and report["model"]["original"] == run.model_version.ref
    assert report["seed"] == 11
    assert opskit.models.get_version("gitmodel@staging").version == run.model_version.version == 2
    assert report["model"]["new"] == "gitmodel:3"


def test_tampered_function_pickle_falls_back_to_the_source(tmp_path: Path, store: Path) -> None:
    """A function pickle whose blob no longer matches its digest is refused; the source at the commit runs instead."""
    repo = tmp_path / "repo"
    repo.mkdir()
    picklable = GIT_TRAINER.replace('__import__("threading").Lock()', "True").replace(
        "with LOCK:", "if LOCK:"
    )
    (repo / "trainer.py").write_text(picklable)
    _git(repo, "init", "-q")
    _git(repo, "add", "trainer.py")
    _git(repo, "commit", "-qm", "trainer")
    run_id = _run_script(repo, "trainer.py").stdout.strip().splitlines()[-1]
    (pickled,) = [a for a in opskit.get_run(run_id).artifacts if a.name == "opskit/function.pkl"]
    hexdigest = pickled.digest.split(":")[1]
    blob = store / "blobs" / "sha256" / hexdigest[:2] / hexdigest[2:]
    blob.chmod(0o644)
    blob.write_bytes(b"not the pickle")
    out = run_python(
        f"import json, opskit\nprint(json.dumps(opskit.reproduce({run_id!r}).to_dict()))",
        cwd=repo,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["matched"] is True and report["function_source"].startswith("git:")


def test_missing_function_is_a_clear_error_saying_how_to_capture_it(tmp_path: Path) -> None:
    """No pickle and no git: FunctionNotCaptured names both reasons and how to capture it next time; nothing runs."""
    script = tmp_path / "nogit.py"
    script.write_text(GIT_TRAINER)
    out = run_python(script.read_text(), cwd=tmp_path)
    run_id = out.stdout.strip().splitlines()[-1]
    runs_before = len(opskit.search_runs())
    with pytest.raises(opskit.FunctionNotCaptured) as caught:
        opskit.reproduce(run_id)
    message = str(caught.value)
    assert run_id in message and "lock" in message and "git commit" in message
    assert "To capture it next time" in message
    assert isinstance(caught.value, LookupError)
    assert len(opskit.search_runs()) == runs_before
    done = _reproduce(run_id, tmp_path)
    assert done.returncode == 2 and "cannot reproduce run" in done.stderr


NOTEBOOK_CELLS = [
    "import opskit, random",
    "@opskit.train(model='nb', seed=5)\n"
    "def train(*, scale=1.0):\n"
    "    import numpy as np\n"
    "    from sklearn.linear_model import SGDRegressor\n"
    "    X = np.random.normal(size=(50, 3))\n"
    "    y = X @ np.array([1.0, 2.0, 3.0])\n"
    "    model = SGDRegressor(random_state=None, max_iter=20).fit(X * scale, y)\n"
    "    opskit.log_metric('r2', model.score(X * scale, y))\n"
    "    opskit.log_metric('draw', random.random())\n"
    "    return model",
    "train(scale=2.0)\nprint(opskit.last_run().id)",
]


def test_notebook_function_reproduces_in_a_separate_process(tmp_path: Path) -> None:
    """A function defined in a notebook cell (run by a real kernel) is reproduced by `opskit reproduce` elsewhere."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in NOTEBOOK_CELLS])
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    printed = [o["text"] for o in nb.cells[2].outputs if o.get("name") == "stdout"]
    run_id = "".join(printed).strip().splitlines()[-1]
    assert opskit.get_run(run_id).code.notebook_cell is not None  # type: ignore[union-attr]
    done = _reproduce(run_id, tmp_path, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["matched"] is True and report["model"]["identical"] is True
    assert {m["key"] for m in report["metrics"]} == {"r2", "draw"}


def test_argument_that_was_never_recorded_is_refused_before_running(tmp_path: Path) -> None:
    """A call whose argument was neither a param nor data cannot be rebuilt: ReproductionError names it."""
    out = run_python(
        textwrap.dedent(
            """
            import opskit

            class Callback:
                pass

            @opskit.track
            def fit(callback, *, lr=0.1):
                opskit.log_metric("lr", lr)

            fit(Callback(), lr=0.5)
            print(opskit.last_run().id)
            """
        ),
        cwd=tmp_path,
    )
    run_id = out.stdout.strip().splitlines()[-1]
    with pytest.raises(opskit.ReproductionError, match="'callback'"):
        opskit.reproduce(run_id)


DATA_SCRIPT = """
import sys
import numpy as np
import pandas as pd
import opskit

@opskit.train(model="churn", data=MODE, seed=13)
def train(df, *, trees=5):
    from sklearn.ensemble import RandomForestClassifier

    X, y = df[["a", "b"]], df["label"]
    model = RandomForestClassifier(n_estimators=trees, max_depth=4).fit(X, y)
    opskit.log_metric("acc", model.score(X, y))
    return model

rng = np.random.default_rng(int(sys.argv[1]))
df = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
df["label"] = (df.a + rng.normal(scale=0.5, size=300) > df.b).astype(int)
train(df, trees=7)
print(opskit.last_run().id)
"""


def _train_on_data(tmp_path: Path, mode: str) -> str:
    script = tmp_path / "train_churn.py"
    script.write_text(DATA_SCRIPT.replace("MODE", repr(mode)))
    done = subprocess.run(
        [sys.executable, str(script), "2026"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    script.unlink()  # neither the script nor the random data it made exist any more
    return done.stdout.strip().splitlines()[-1]


def test_snapshot_data_run_reproduces_and_a_tampered_snapshot_is_refused(
    tmp_path: Path, store: Path
) -> None:
    """data="snapshot": the frame comes back from its dataset version (identical model bytes); a changed snapshot blob is refused before anything runs."""
    run_id = _train_on_data(tmp_path, "snapshot")
    done = _reproduce(run_id, tmp_path, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["matched"] is True and report["model"]["identical"] is True
    new = opskit.get_run(report["run_id"])
    original = opskit.get_run(run_id)
    assert [d.dataset for d in new.inputs] == [d.dataset for d in original.inputs]  # same version

    from opskit.data.datasets import get_dataset_version

    dataset = original.inputs[0].dataset
    assert dataset is not None
    hexdigest = get_dataset_version(dataset).blob.split(":")[1]
    blob = store / "blobs" / "sha256" / hexdigest[:2] / hexdigest[2:]
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes()[:-8] + b"tampered")
    runs_before = len(opskit.search_runs())
    done = _reproduce(run_id, tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "opskit: error:" in done.stderr and f"blob sha256:{hexdigest}" in done.stderr
    assert "does not match its digest" in done.stderr
    with pytest.raises(opskit.BlobCorrupted):
        opskit.reproduce(run_id)
    assert len(opskit.search_runs()) == runs_before  # refused before running


def test_fingerprint_only_data_is_a_clear_snapshot_missing_error(tmp_path: Path) -> None:
    """A run that only fingerprinted its frame: SnapshotMissing names the argument and data='snapshot'; nothing runs."""
    run_id = _train_on_data(tmp_path, "fingerprint")
    runs_before = len(opskit.search_runs())
    with pytest.raises(opskit.SnapshotMissing) as caught:
        opskit.reproduce(run_id)
    assert "'df'" in str(caught.value) and "data='snapshot'" in str(caught.value)
    done = _reproduce(run_id, tmp_path)
    assert done.returncode == 2 and "'df'" in done.stderr
    assert len(opskit.search_runs()) == runs_before
