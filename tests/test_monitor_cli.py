"""`opskit monitor drift`: exit 0 without drift, 1 with drift, 2 on bad input; HTML, Markdown and JSON outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import opskit
from opskit.cli.main import main as cli

pytestmark = [
    pytest.mark.trackers("local", "mlflow"),
    pytest.mark.filterwarnings("ignore:ks_2samp:RuntimeWarning"),
]

OPSKIT = Path(sys.executable).with_name("opskit")


def data(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Two numeric columns and a categorical one; *shift* moves both numeric columns by that many σ."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "alcohol": rng.normal(10.0 + shift, 1.0, n),
            "acidity": rng.normal(3.0 + shift, 1.0, n),
            "colour": rng.choice(["red", "white"], n),
        }
    )


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """Reference data (Parquet, CSV, profile JSON) and current data without and with drift (Parquet)."""
    ref = data(5_000, 1)
    paths = {
        "ref": tmp_path / "train.parquet",
        "ref_csv": tmp_path / "train.csv",
        "profile": tmp_path / "profile.json",
        "same": tmp_path / "same.parquet",
        "shifted": tmp_path / "shifted.parquet",
    }
    ref.to_parquet(paths["ref"])
    ref.to_csv(paths["ref_csv"], index=False)
    paths["profile"].write_text(opskit.monitor.profile(ref).to_json())
    data(3_000, 2).to_parquet(paths["same"])
    data(3_000, 3, shift=1.0).to_parquet(paths["shifted"])
    return paths


def opskit_command(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the installed console script with this test's environment (store, tracker)."""
    return subprocess.run(
        [str(OPSKIT), *args],
        cwd=cwd,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_drift_against_a_registered_version_exits_1_on_drift(
    tracker: str, files: dict[str, Path], tmp_path: Path
) -> None:
    """`--reference wine@production` uses the stored profile: exit 0 on same-distribution data, 1 on shifted, HTML written."""
    frame = pd.read_parquet(files["ref"])
    model = opskit.models.register(_fitted(frame), "wine", reference=frame, alias="production")
    assert model.version == 1
    same = opskit_command(
        "monitor",
        "drift",
        "--reference",
        "wine@production",
        "--current",
        str(files["same"]),
        cwd=tmp_path,
    )
    assert same.returncode == 0, same.stderr
    assert "no drift" in same.stdout and "profile of wine@production" in same.stdout
    html = tmp_path / "drift.html"
    shifted = opskit_command(
        "monitor",
        "drift",
        "--reference",
        "wine@production",
        "--current",
        str(files["shifted"]),
        "--html",
        str(html),
        cwd=tmp_path,
    )
    assert shifted.returncode == 1, shifted.stderr
    assert "DRIFTED" in shifted.stdout and html.stat().st_size > 1_000_000


def _fitted(frame: pd.DataFrame) -> object:
    from sklearn.linear_model import LinearRegression

    return LinearRegression().fit(frame[["alcohol", "acidity"]], frame["alcohol"] > 10)


@pytest.mark.parametrize("reference", ["ref", "ref_csv", "profile"])
def test_drift_against_files_exit_codes_and_json(
    tracker: str,
    reference: str,
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A Parquet, CSV or profile-JSON reference needs no store: exit 0 / 1, --json is the report's to_dict()."""
    ref = str(files[reference])
    assert cli(["monitor", "drift", "--reference", ref, "--current", str(files["same"])]) == 0
    capsys.readouterr()
    code = cli(
        ["monitor", "drift", "--reference", ref, "--current", str(files["shifted"]), "--json"]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["drifted"] is True
    assert set(report["columns"]) == {"alcohol", "acidity", "colour"}
    assert report["columns"]["alcohol"]["drifted"] is True


def test_drift_options_and_markdown(
    tracker: str, files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--columns limits the comparison, --drift-share moves the verdict, --markdown writes the CI table."""
    md = tmp_path / "drift.md"
    args = [
        "monitor",
        "drift",
        "--reference",
        str(files["ref"]),
        "--current",
        str(files["shifted"]),
    ]
    assert cli([*args, "--columns", "colour", "--markdown", str(md)]) == 0  # colour did not move
    assert "| colour |" in md.read_text() and "| alcohol |" not in md.read_text()
    assert cli(args) == 1  # 2 of 3 columns drifted >= 0.5
    assert cli([*args, "--drift-share", "0.9"]) == 0  # 2 of 3 < 0.9
    capsys.readouterr()


def test_bad_input_exits_2_and_names_it(
    tracker: str, files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing file, a version without a profile, an unknown model: exit 2 with a message naming the value."""
    missing = ["monitor", "drift", "--reference", str(files["ref"]), "--current", "nope.parquet"]
    assert cli(missing) == 2
    assert "'nope.parquet' does not exist" in capsys.readouterr().err
    frame = pd.read_parquet(files["ref"])
    opskit.models.register(
        _fitted(frame), "bare", signature=frame[["alcohol", "acidity"]].to_numpy()
    )
    assert cli(["monitor", "drift", "--reference", "bare", "--current", str(files["same"])]) == 2
    err = capsys.readouterr().err
    assert "bare:1" in err and "no reference profile" in err
    assert (
        cli(["monitor", "drift", "--reference", "ghost@prod", "--current", str(files["same"])]) == 2
    )
    assert "ghost" in capsys.readouterr().err
