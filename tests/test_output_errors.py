"""Writing reports and files the user named, and unexpected exceptions in the CLI, never look like a verdict."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import opskit
from opskit._files import write_text_atomic
from opskit.cli.main import main as cli
from opskit.errors import InvalidValue, OutputNotWritable
from opskit.monitor import DriftReport

pytestmark = pytest.mark.filterwarnings("ignore:ks_2samp:RuntimeWarning")

OPSKIT = Path(sys.executable).with_name("opskit")


def frame(seed: int, shift: float = 0.0) -> pd.DataFrame:
    """A numeric and a categorical column; *shift* moves the numeric one by that many σ."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"alcohol": rng.normal(10.0 + shift, 1.0, 500), "colour": rng.choice(["red", "white"], 500)}
    )


@pytest.fixture
def report() -> DriftReport:
    """A drifted report."""
    return opskit.monitor.drift(reference=frame(1), current=frame(2, shift=1.0))


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """Reference and shifted current data as Parquet files, and an existing directory."""
    paths = {
        "ref": tmp_path / "train.parquet",
        "cur": tmp_path / "live.parquet",
        "dir": tmp_path / "some_existing_dir",
    }
    frame(1).to_parquet(paths["ref"])
    frame(2, shift=1.0).to_parquet(paths["cur"])
    paths["dir"].mkdir()
    return paths


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(
    ("target", "match"),
    [
        ("some_existing_dir", "'some_existing_dir': it is a directory"),
        ("/proc/x.html", "'/proc/x.html': No such file or directory"),
        ("/proc", "'/proc': it is a directory"),
        ("missing/drift.html", "folder 'missing' does not exist"),
    ],
)
def test_to_html_to_an_unwritable_path_names_the_users_path(
    report: DriftReport, files: dict[str, Path], tmp_path: Path, target: str, match: str
) -> None:
    """to_html() into a directory, /proc or a missing folder raises OutputNotWritable naming that path, no temp file."""
    before = _listing(tmp_path)
    inside = _listing(files["dir"])
    with pytest.raises(OutputNotWritable, match=match) as caught:
        report.to_html(target)
    assert ".tmp" not in str(caught.value)
    assert isinstance(caught.value, InvalidValue) and isinstance(caught.value, OSError)
    assert _listing(tmp_path) == before and _listing(files["dir"]) == inside


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_write_text_atomic_round_trips_and_replaces(tmp_path: Path, text: str) -> None:
    """Any text is written whole over an existing file, with no temp file left in the folder."""
    target = tmp_path / "hyp" / "out.md"
    target.parent.mkdir(exist_ok=True)
    target.write_text("old content", encoding="utf-8")
    assert write_text_atomic(target, text, what="the text") == target
    assert target.read_bytes().decode("utf-8") == text  # no newline translation either
    assert _listing(target.parent) == ["out.md"]


def test_a_failed_write_keeps_the_existing_file_and_leaves_no_temp(tmp_path: Path) -> None:
    """When the text cannot be written, the existing file is unchanged and no temp file remains."""
    target = tmp_path / "report.md"
    target.write_text("previous report", encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        write_text_atomic(target, "bad \ud800 surrogate", what="the report")
    assert target.read_text(encoding="utf-8") == "previous report"
    assert _listing(tmp_path) == ["report.md"]


@pytest.mark.parametrize("option", ["--html", "--markdown"])
def test_cli_drift_report_into_a_directory_exits_2_not_1(
    files: dict[str, Path], option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`monitor drift --html DIR` (or --markdown DIR) on drifted data exits 2 with a message naming DIR, not 1."""
    args = ["monitor", "drift", "--reference", str(files["ref"]), "--current", str(files["cur"])]
    assert cli(args) == 1  # the data does drift
    capsys.readouterr()
    assert cli([*args, option, "some_existing_dir"]) == 2
    err = capsys.readouterr().err
    assert "cannot write the" in err and "'some_existing_dir': it is a directory" in err
    assert "Traceback" not in err and ".tmp" not in err
    assert _listing(files["dir"]) == []


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("simulated bug")


@pytest.mark.parametrize(
    ("patch", "argv"),
    [
        ("opskit.monitor.detect.drift", ["monitor", "drift", "--reference", "R", "--current", "C"]),
        ("opskit.monitor.perf.check", ["monitor", "check", "wine-prod"]),
        ("opskit.tracking.runs.search_runs", ["runs", "list"]),
    ],
)
def test_an_unexpected_exception_exits_2_and_asks_for_a_report(
    files: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    patch: str,
    argv: list[str],
) -> None:
    """A non-OpskitError inside a command exits 2 (an error), never 1 (drift/failed), with a bug line and the traceback."""
    opskit.models.list()  # a store exists, so the command itself runs
    argv = [{"R": str(files["ref"]), "C": str(files["cur"])}.get(a, a) for a in argv]
    monkeypatch.setattr(patch, _boom)
    assert cli(argv) == 2
    err = capsys.readouterr().err
    assert "opskit: error: unexpected RuntimeError: simulated bug" in err
    assert "this is a bug in opskit, please report it" in err
    assert "Traceback (most recent call last)" in err and "_boom" in err


def test_keyboard_interrupt_is_not_swallowed(
    monkeypatch: pytest.MonkeyPatch, files: dict[str, Path]
) -> None:
    """Ctrl-C inside a command still propagates (the shell sees the interrupt, not an error code)."""

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr("opskit.monitor.detect.drift", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cli(["monitor", "drift", "--reference", str(files["ref"]), "--current", str(files["cur"])])


def test_console_script_with_a_broken_plugin_exits_2(
    files: dict[str, Path], tmp_path: Path
) -> None:
    """The installed `opskit` with a plugin whose hook raises a plain exception exits 2 and says it is a bug."""
    site = tmp_path / "site"
    (site / "broken_plugin-0.1.dist-info").mkdir(parents=True)
    (site / "broken_plugin-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n", encoding="utf-8"
    )
    (site / "broken_plugin-0.1.dist-info" / "entry_points.txt").write_text(
        "[opskit]\nbroken = broken_plugin\n", encoding="utf-8"
    )
    (site / "broken_plugin.py").write_text(
        "import opskit\n\n\n"
        "@opskit.hookimpl\n"
        "def register_drift_methods(register):\n"
        "    raise ZeroDivisionError('broken plugin')\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(site), "OPSKIT_LOAD_PLUGINS": "broken"}
    done = subprocess.run(
        [
            str(OPSKIT),
            "monitor",
            "drift",
            "--reference",
            str(files["ref"]),
            "--current",
            str(files["cur"]),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "this is a bug in opskit, please report it" in done.stderr
    assert "broken plugin" in done.stderr


def test_cli_model_card_into_a_directory_exits_2_and_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`models card REF -o DIR` exits 2 naming DIR (no raw IsADirectoryError), and leaves DIR empty."""
    from sklearn.linear_model import LinearRegression

    data = frame(1)
    opskit.models.register(LinearRegression().fit(data[["alcohol"]], data["alcohol"] > 10), "wine")
    (tmp_path / "cards").mkdir()
    assert cli(["models", "card", "wine:1", "-o", "cards"]) == 2
    err = capsys.readouterr().err
    assert "cannot write the model card to 'cards': it is a directory" in err
    assert "cards/card.md" in err and "Traceback" not in err
    assert _listing(tmp_path / "cards") == []
    assert cli(["models", "card", "wine:1", "-o", "cards/wine.md"]) == 0
    assert (tmp_path / "cards" / "wine.md").read_text(encoding="utf-8").startswith("# Model card")


def test_docker_build_context_at_an_unwritable_path_exits_2_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`deploy --target docker --path` onto a file or under /proc exits 2 naming it; nothing is recorded or left."""
    from sklearn.linear_model import LinearRegression

    data = frame(1)
    opskit.models.register(
        LinearRegression().fit(data[["alcohol"]], data["alcohol"] > 10), "wine", alias="production"
    )
    (tmp_path / "a_file").write_text("keep me", encoding="utf-8")
    base = ["deploy", "wine@production", "--target", "docker", "--path"]
    assert cli([*base, "a_file"]) == 2
    assert "a_file is a file; pass path= a new or empty folder" in capsys.readouterr().err
    assert (tmp_path / "a_file").read_text(encoding="utf-8") == "keep me"
    assert cli([*base, "/proc/opskit-ctx"]) == 2
    err = capsys.readouterr().err
    assert "cannot write the build context to /proc/opskit-ctx" in err and "Traceback" not in err
    assert not Path("/proc/opskit-ctx").exists()
    assert opskit.deployments.list() == []
