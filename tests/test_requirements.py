"""``opskit models requirements``: a pinned, pip-installable file from the environment that trained a version."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import opskit
from conftest import run_python
from opskit.capture.requirements import (
    IMPORTS_TAG,
    distributions_for,
    imported_modules,
    normal_name,
)
from opskit.cli.main import main
from opskit.errors import ModelNotFound
from opskit.records import EnvInfo, Run
from opskit.runtime import get_tracker

TRAIN = textwrap.dedent(
    """
    import opskit
    from sklearn.linear_model import LinearRegression

    @opskit.train(model="reg")
    def fit(*, k=1.0):
        return LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, k, 2 * k])

    fit()
    """
)


def _pins(text: str) -> dict[str, str]:
    """Parse every non-comment line as a requirement pinned with exactly one ==."""
    pins = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        req = Requirement(line)
        (spec,) = req.specifier
        assert spec.operator == "==", line
        pins[normal_name(req.name)] = spec.version
    return pins


def test_requirements_pin_only_what_the_training_process_imported() -> None:
    """A model trained in a fresh process gets pins for its imports (sklearn, numpy, opskit), not for all packages."""
    run_python(TRAIN)
    version = opskit.models.get_version("reg:1")
    run = opskit.get_run(version.run_id or "")
    assert run.env is not None and IMPORTS_TAG in run.tags
    found = opskit.models.requirements("reg:1")
    assert found.source == "imported"
    assert found.header[0].startswith(
        "# reg:1: only the distributions imported by the training process"
    )
    pins = _pins(found.text())
    captured = {normal_name(k): v for k, v in run.env.packages.items()}
    assert {"scikit-learn", "numpy", "scipy", "opskit-ml"} <= set(pins)
    assert all(pins[name] == captured[name] for name in pins)
    # pytest, hypothesis and mlflow are installed here but the training process never imported them
    assert not {"pytest", "hypothesis", "mlflow", "nbclient"} & set(pins)
    assert len(pins) < len(captured)


def test_requirements_file_installs_with_pip_offline(tmp_path: Path) -> None:
    """`pip install --dry-run --no-index --no-deps -r` accepts the file against this (the training) environment."""
    run_python(TRAIN)
    target = tmp_path / "requirements.txt"
    assert main(["models", "requirements", "reg:1", "-o", str(target)]) == 0
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--no-index",
            "--no-deps",
            "-r",
            str(target),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Would install" not in done.stdout  # every pin is the version installed here


def test_a_wrong_pin_is_refused_by_pip(tmp_path: Path) -> None:
    """The pip check above can fail: a pin this environment does not have is not installable offline."""
    target = tmp_path / "requirements.txt"
    target.write_text("scikit-learn==0.0.1\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--no-index",
            "--no-deps",
            "-r",
            str(target),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode != 0


def test_without_recorded_imports_every_captured_package_is_pinned() -> None:
    """A version whose run did not record its imports gets every captured package, and the header says so."""
    tracker = get_tracker()
    run_id = uuid.uuid4().hex
    packages = {"numpy": "1.26.4", "Scikit_Learn": "1.4.0", "tqdm": "4.66.0"}
    tracker.create_run(
        Run(
            run_id,
            "old",
            "RUNNING",
            "e",
            time.time(),
            env=EnvInfo("3.11.7", "cpython", "Linux", packages),
        )
    )
    tracker.end_run(run_id, status="FINISHED", ended_at=time.time())
    version = tracker.register_model_version(
        "old",
        digest="sha256:" + "0" * 64,
        size_bytes=1,
        flavor="cloudpickle",
        run_id=run_id,
        signature=None,
        metadata={},
    )
    found = opskit.models.requirements(version.ref)
    assert found.source == "all"
    assert "every package captured" in found.header[0]
    assert found.lines == ("numpy==1.26.4", "Scikit_Learn==1.4.0", "tqdm==4.66.0")
    assert found.header[1] == "# Python 3.11.7"


def test_cli_requirements_json_and_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    """`opskit models requirements REF` prints the file; `--json` gives the pins, source and Python."""
    run_python(TRAIN)
    assert main(["models", "requirements", "reg"]) == 0
    text = capsys.readouterr().out
    assert text == opskit.models.requirements("reg:1").text()
    assert main(["models", "requirements", "reg:1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["source"] == "imported" and any(
        r.startswith("scikit-learn==") for r in data["requirements"]
    )
    assert main(["models", "requirements", "nope:1"]) == 2
    assert "nope" in capsys.readouterr().err
    with pytest.raises(ModelNotFound):
        opskit.models.requirements("nope:1")


def test_imports_are_not_recorded_when_env_capture_is_off() -> None:
    """With capture_env off the run records no packages, and no imports either."""
    opskit.configure(capture_env=False)

    @opskit.track
    def job(*, a: int = 1) -> None:
        pass

    job()
    run = opskit.last_run()
    assert run is not None and IMPORTS_TAG not in run.tags


def test_imported_modules_follow_sys_modules() -> None:
    """The recorded set is sys.modules' top-level names without the standard library, and grows on import."""
    before = set(imported_modules())
    assert {"pytest", "opskit"} <= before and not {"os", "json", "sys", "__main__"} & before
    assert "nbformat" not in before or "nbformat" in {m.partition(".")[0] for m in sys.modules}
    import nbformat  # noqa: F401

    assert "nbformat" in imported_modules()


def test_modules_map_to_captured_distributions() -> None:
    """Modules map through packages_distributions (sklearn → scikit-learn) or by name; others are reported."""
    captured = {"scikit-learn": "1.4.0", "Foo-Bar": "1.0", "numpy": "2.0.0", "opskit-ml": "0.1.0"}
    found, unmatched = distributions_for(["sklearn", "foo_bar", "unknownmod", "_private"], captured)
    assert found == ["Foo-Bar", "opskit-ml", "scikit-learn"]
    assert unmatched == ["unknownmod"]
