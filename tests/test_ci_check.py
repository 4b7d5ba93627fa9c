"""`opskit ci check`: exit 0 passed, 1 failed, 2 undecided; the Markdown report in $GITHUB_STEP_SUMMARY; on both trackers."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import opskit
from conftest import SERVERS
from opskit import checks, gates
from opskit.cli import ci_commands
from opskit.cli.main import main as cli
from opskit.errors import OpskitError
from opskit.records import runs as runs_module
from opskit.records.runs import RUN_STATUSES, VALIDATION_ARTIFACT, Artifact, Run
from opskit.records.validation import ValidationReport, ValidationResult
from servers import free_port

pytestmark = pytest.mark.trackers("local", "mlflow")

OPSKIT = Path(sys.executable).with_name("opskit")


@pytest.fixture(scope="module")
def wine() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.Series]:
    """The wine data set, split 70/30 (stratified, fixed seed)."""
    X, y = load_wine(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    return X_train, y_train, X_test, y_test


def fit(X: pd.DataFrame, y: pd.Series, C: float) -> Pipeline:
    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=1000)).fit(X, y)


def train_wine(data: tuple[Any, ...], *, C: float, model: str = "wine", **options: Any) -> str:
    """Train *model* with an accuracy gate of 0.9 (C=1 passes it, C=0.001 does not); return the run id."""
    options = {"gates": [gates.at_least("accuracy", 0.9)], **options}

    @opskit.train(  # type: ignore[call-overload, untyped-decorator]
        model=model,
        alias="staging",
        checks=[checks.not_null(), checks.between("alcohol", 10, 16)],
        evaluate=("X_test", "y_test"),
        metrics=["accuracy"],
        **options,
    )
    def train(X_train: Any, y_train: Any, X_test: Any, y_test: Any, *, C: float) -> Pipeline:
        return fit(X_train, y_train, C)

    with warnings.catch_warnings():  # a failed gate warns: the core's tests check that
        warnings.simplefilter("ignore", opskit.ValidationWarning)
        train(*data, C=C)
    run = opskit.last_run()
    assert run is not None
    return run.id


def check(
    *args: str, summary: Path | None = None, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    """`opskit ci check ARGS` in this process: (exit code, stdout, stderr)."""
    if summary is not None:
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    else:
        monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli(["ci", "check", *args])
    return code, out.getvalue(), err.getvalue()


def test_a_passing_run_exits_0_and_appends_its_markdown_to_the_step_summary(
    wine: tuple[Any, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run whose checks and gates passed: exit 0, the summary printed, the report's Markdown appended to $GITHUB_STEP_SUMMARY."""
    run_id = train_wine(wine, C=1.0)
    report = opskit.get_run(run_id).validation
    assert report is not None and report.passed
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n")
    code, out, err = check(run_id, summary=summary, monkeypatch=monkeypatch)
    assert (code, err) == (0, "")
    assert out == report.summary() + "\n"
    assert summary.read_text() == "# earlier step\n" + report.to_markdown()
    assert "✅" in report.to_markdown() and "at_least" in report.to_markdown()


def test_a_failed_gate_exits_1_in_every_format(
    wine: tuple[Any, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run whose gate failed: exit 1 for text, markdown and json; each appends the failing report to the summary."""
    run_id = train_wine(wine, C=0.001)
    report = opskit.get_run(run_id).validation
    assert report is not None and report.status == "failed"
    summary = tmp_path / "summary.md"
    code, out, _ = check(
        run_id[:10], "--format", "markdown", summary=summary, monkeypatch=monkeypatch
    )
    assert (code, out) == (1, report.to_markdown())
    assert "❌" in out and "at_least" in out
    code, out, _ = check(run_id, "--format", "json", summary=summary, monkeypatch=monkeypatch)
    assert code == 1 and json.loads(out) == report.to_dict()
    code, out, _ = check(run_id, summary=summary, monkeypatch=monkeypatch)
    assert code == 1 and "FAILED" in out
    assert summary.read_text() == report.to_markdown() * 3


def test_last_is_the_newest_run_and_model_the_newest_of_that_model(
    wine: tuple[Any, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--last checks the newest run; --last --model NAME the newest run that trained NAME, even when a newer one trained another model."""
    failed = train_wine(wine, C=0.001, model="wine")
    passed = train_wine(wine, C=1.0, model="grapes")
    code, out, _ = check("--last", monkeypatch=monkeypatch)
    assert code == 0 and passed in out
    code, out, _ = check("--last", "--model", "wine", monkeypatch=monkeypatch)
    assert code == 1 and failed in out
    code, out, _ = check("--model", "grapes", monkeypatch=monkeypatch)
    assert code == 0 and passed in out
    code, _, err = check("--last", "--model", "nope", monkeypatch=monkeypatch)
    assert code == 2 and "'nope'" in err and "opskit models list" in err
    code, _, err = check(failed, "--model", "grapes", monkeypatch=monkeypatch)
    assert code == 2 and "not 'grapes'" in err


def test_a_failed_data_check_exits_1_and_says_the_run_was_stopped(
    wine: tuple[Any, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A data check that stopped training: the run FAILED with a failed report, exit 1, outcome stopped."""
    X_train, y_train, X_test, y_test = wine
    bad = X_train.assign(alcohol=X_train["alcohol"] * 10)
    with pytest.raises(opskit.ValidationFailed):
        train_wine((bad, y_train, X_test, y_test), C=1.0)
    run = opskit.last_run()
    assert run is not None and run.status == "FAILED"
    code, out, _ = check("--last", monkeypatch=monkeypatch)
    assert code == 1 and "between" in out and "stopped" in out


def test_runs_without_a_verdict_exit_2_with_the_reason_on_stderr(
    wine: tuple[Any, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No report, an unknown run, a crash after the checks, nothing named: exit 2, a reason on stderr and in the summary."""
    summary = tmp_path / "summary.md"

    @opskit.track
    def plain(a: int = 1) -> int:
        return a

    plain()
    code, out, err = check("--last", "--format", "json", summary=summary, monkeypatch=monkeypatch)
    assert code == 2 and "has no validation report" in err and "checks=" in err
    assert json.loads(out)["status"] == "error"
    assert (
        "could not evaluate" in summary.read_text()
        and "has no validation report" in summary.read_text()
    )

    code, _, err = check("0123abcd", monkeypatch=monkeypatch)
    assert code == 2 and "no run matches '0123abcd'" in err

    @opskit.train(model="wine", checks=[checks.not_null()])  # type: ignore[call-overload, untyped-decorator]
    def crashes(X_train: Any) -> None:
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError):
        crashes(wine[0])
    code, _, err = check("--last", monkeypatch=monkeypatch)
    assert code == 2 and "ended FAILED" in err and "RuntimeError: out of memory" in err

    code, _, err = check(monkeypatch=monkeypatch)
    assert code == 2 and "--last" in err
    with pytest.raises(SystemExit):
        cli(["ci", "check", "abc", "--format", "yaml"])


def test_a_gate_that_could_not_be_evaluated_exits_2(
    wine: tuple[Any, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """beats() against an incumbent that cannot score this data: the report says error, exit 2."""
    X_train, y_train, _, _ = wine

    @opskit.train(model="wine", alias="production")
    def incumbent(X_train: Any, y_train: Any) -> Pipeline:
        return fit(X_train, y_train, 1.0)

    incumbent(X_train[["alcohol", "ash"]], y_train)  # other columns than the challenger's
    run_id = train_wine(wine, C=1.0, gates=[gates.beats("production", "accuracy")])
    report = opskit.get_run(run_id).validation
    assert report is not None and report.status == "error"
    code, out, err = check(run_id, monkeypatch=monkeypatch)
    assert code == 2 and "ERROR" in out and "could not be evaluated" in err


def test_an_unreachable_tracker_exits_2(
    tracker: str, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local store missing, or the MLflow server down: exit 2 with a message naming where it looked."""
    if tracker == "local":
        code, _, err = check("--last", monkeypatch=monkeypatch)
        assert code == 2 and "no opskit store here" in err and str(store) in err
        return
    dead = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", dead)
    opskit.reset_defaults()
    code, _, err = check("--last", monkeypatch=monkeypatch)
    assert code == 2 and dead in err


def test_runs_show_prints_the_report_and_the_run_names_its_verdict(
    wine: tuple[Any, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    """`opskit runs show` prints the report; Run.summary() and _repr_html_ carry the verdict from the tags."""
    run_id = train_wine(wine, C=0.001)
    run = opskit.get_run(run_id)
    assert run.verdict == "FAILED (not_registered)"
    assert "validation: FAILED (not_registered)" in run.summary()
    assert "FAILED (not_registered)" in run._repr_html_()
    assert cli(["runs", "show", run_id]) == 0
    out = capsys.readouterr().out
    assert run.validation is not None and run.validation.summary() in out


def test_the_installed_command_exits_with_the_verdict(
    wine: tuple[Any, ...], tracker: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The `opskit` console script in a fresh process: exit 1 for a failed gate, the summary file written, also when stdout's reader has gone."""
    run_id = train_wine(wine, C=0.001)
    summary = tmp_path / "step-summary.md"
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary)}
    if tracker in SERVERS:
        env["MLFLOW_TRACKING_URI"] = request.getfixturevalue(SERVERS[tracker]).url
    done = subprocess.run(
        [str(OPSKIT), "ci", "check", run_id, "--format", "markdown"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    report = opskit.get_run(run_id).validation
    assert report is not None
    assert done.stdout == summary.read_text() == report.to_markdown()

    # A reader that is gone before the report is written (`| true`): still exit 1, not 0.
    piped = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f"'{OPSKIT}' ci check {run_id} | true"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert piped.returncode == 1 and "Exception ignored" not in piped.stderr, piped.stderr


RESULT_STATUSES = st.lists(st.sampled_from(["passed", "failed", "error"]), max_size=5)


@pytest.mark.trackers("local")
@settings(max_examples=200, deadline=None)
@given(
    run_status=st.sampled_from(RUN_STATUSES),
    statuses=st.none() | RESULT_STATUSES,
    tagged=st.booleans(),
)
def test_the_exit_code_is_0_only_for_a_passed_report_of_a_finished_run(
    run_status: str, statuses: list[str] | None, tagged: bool
) -> None:
    """For any run status and any mix of result statuses: 1 iff the report failed, 0 iff it passed and the run finished, else 2."""
    report = (
        None
        if statuses is None
        else ValidationReport(
            results=[
                ValidationResult(kind="gate", name=f"g{i}", status=s)
                for i, s in enumerate(statuses)
            ],  # type: ignore[arg-type]
            model="wine",
        )
    )
    run = Run(
        id="a" * 32,
        name="train",
        status=run_status,  # type: ignore[arg-type]
        experiment="wine",
        started_at=0.0,
        tags={"opskit.validation": report.status} if report is not None and tagged else {},
        artifacts=[Artifact(VALIDATION_ARTIFACT, "sha256:" + "0" * 64, 1)] if report else [],
    )
    previous = runs_module._validation_reader
    runs_module.set_validation_reader(lambda _: report)
    try:
        code = ci_commands._EXIT[ci_commands._report_of(run, None)[1].status]
    except OpskitError as exc:
        code, message = 2, str(exc)
        assert run.id in message
    finally:
        runs_module.set_validation_reader(previous)
    if report is not None and report.status == "failed" and run_status != "RUNNING":
        assert code == 1
    elif report is not None and report.passed and run_status == "FINISHED":
        assert code == 0
    else:
        assert code == 2


@pytest.mark.trackers("local")
def test_an_unexpected_error_exits_2_not_1(
    wine: tuple[Any, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader that crashes (say a corrupt report) exits 2 with the error, never Python's 1; an unwritable summary only warns."""
    run_id = train_wine(wine, C=1.0)

    def broken(run: Run) -> ValidationReport | None:
        raise json.JSONDecodeError("Expecting value", "", 0)

    previous = runs_module._validation_reader
    runs_module.set_validation_reader(broken)
    try:
        code, _, err = check(run_id, monkeypatch=monkeypatch)
    finally:
        runs_module.set_validation_reader(previous)
    assert code == 2 and "JSONDecodeError: Expecting value" in err
    code, _, err = check(
        run_id, summary=tmp_path / "no-such-dir" / "summary.md", monkeypatch=monkeypatch
    )
    assert code == 0 and "could not append to $GITHUB_STEP_SUMMARY" in err
