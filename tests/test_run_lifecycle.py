"""The run lifecycle is exception-safe: plugins whose lifecycle hooks raise, through a real plugin manager.

- a raising ``before_run`` ends the run FAILED with the hook's error and leaves no active run;
- a raising ``on_run_error`` never replaces the user's exception (it is logged; other plugins still run);
- a raising ``after_run`` loses neither the run's end nor the function's result;
- ``OPSKIT_TRACE_HOOKS`` traces the registration hooks too.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import Any

import pytest

import opskit
from conftest import run_python
from opskit import hookspecs
from opskit.records import Run
from opskit.testing import plugin_manager


class HookFailed(RuntimeError):
    """What the broken plugins raise."""


class Recorder:
    """Records the lifecycle hooks it sees (a well-behaved plugin next to the broken one)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    @hookspecs.hookimpl
    def before_run(self, run: Run) -> None:
        self.calls.append(("before_run", run.status))

    @hookspecs.hookimpl
    def on_run_error(self, run: Run, error: BaseException) -> None:
        self.calls.append(("on_run_error", type(error).__name__))

    @hookspecs.hookimpl
    def after_run(self, run: Run) -> None:
        self.calls.append(("after_run", run.status))


class FailingBeforeRun:
    @hookspecs.hookimpl
    def before_run(self, run: Run) -> None:
        raise HookFailed(f"before_run refused run {run.name}")


class FailingOnRunError:
    @hookspecs.hookimpl
    def on_run_error(self, run: Run, error: BaseException) -> None:
        raise HookFailed("on_run_error broke")


class FailingAfterRun:
    @hookspecs.hookimpl
    def after_run(self, run: Run) -> None:
        raise HookFailed("after_run broke")


class FailingAfterRunWrapper:
    @hookspecs.hookimpl(wrapper=True)
    def after_run(self, run: Run) -> Generator[None, None, None]:
        yield
        raise HookFailed("after_run wrapper broke")


def test_raising_before_run_leaves_no_active_run_and_ends_the_run_failed() -> None:
    """A before_run that raises: the error propagates, the run is stored FAILED with it, and log_metric raises NoActiveRun."""
    recorder = Recorder()
    with plugin_manager(FailingBeforeRun(), recorder):

        @opskit.train(model="refused")
        def fit(alpha: float = 0.1) -> dict[str, float]:
            raise AssertionError("the function must not run when before_run raised")

        with pytest.raises(HookFailed, match="refused run fit"):
            fit()
        assert opskit.active_run() is None
        with pytest.raises(opskit.NoActiveRun):
            opskit.log_metric("stale", 1.0)
        run = opskit.last_run()
        assert run is not None and run.name == "fit"
        assert run.status == "FAILED" and run.ended_at is not None
        assert (
            run.error is not None and "HookFailed" in run.error and "refused run fit" in run.error
        )
        assert "stale" not in opskit.get_run(run.id).metrics
        assert recorder.calls[-2:] == [("on_run_error", "HookFailed"), ("after_run", "FAILED")]
        with pytest.raises(opskit.ModelNotFound):
            opskit.models.get("refused")


def test_raising_before_run_in_a_nested_start_run_restores_the_parent() -> None:
    """start_run inside a run: when before_run raises, the parent run is the active run again and still RUNNING."""
    with opskit.start_run(name="parent") as parent:
        with plugin_manager(FailingBeforeRun()), pytest.raises(HookFailed):
            opskit.start_run(name="child")
        assert opskit.active_run() is parent
        opskit.log_metric("after", 1.0)  # goes to the parent
    child = [r for r in opskit.search_runs() if r.tags.get("opskit.parent_run_id") == parent.id]
    assert [(r.name, r.status) for r in child] == [("child", "FAILED")]
    stored = opskit.get_run(parent.id)
    assert stored.status == "FINISHED" and stored.metrics == {"after": 1.0}


def test_raising_on_run_error_never_replaces_the_users_exception(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The user's exception propagates unchanged; the hook's error is logged; other plugins' hooks and after_run still run."""
    recorder = Recorder()
    original = ValueError("bad data")
    with (
        plugin_manager(FailingOnRunError(), recorder),
        caplog.at_level(logging.ERROR, logger="opskit.plugins"),
    ):

        @opskit.track
        def step() -> None:
            raise original

        with pytest.raises(ValueError, match="bad data") as raised:
            step()
    assert raised.value is original
    assert ("on_run_error", "ValueError") in recorder.calls and recorder.calls[-1] == (
        "after_run",
        "FAILED",
    )
    run = opskit.last_run()
    assert run is not None and run.status == "FAILED" and "bad data" in (run.error or "")
    assert any(
        "on_run_error" in r.getMessage() and "FailingOnRunError" in r.getMessage()
        for r in caplog.records
    )
    assert opskit.active_run() is None


def test_raising_after_run_keeps_the_result_and_the_runs_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A raising after_run: the train call returns its model, the version is registered, the run FINISHED, the error logged."""
    recorder = Recorder()
    with (
        plugin_manager(FailingAfterRun(), recorder),
        caplog.at_level(logging.ERROR, logger="opskit.plugins"),
    ):

        @opskit.train(model="kept", alias="prod")
        def fit() -> dict[str, int]:
            return {"weights": 3}

        assert fit() == {"weights": 3}
        with opskit.start_run(name="by-hand"):
            opskit.log_metric("m", 1.0)
    runs = opskit.search_runs()
    assert sorted((r.name, r.status) for r in runs) == [
        ("by-hand", "FINISHED"),
        ("fit", "FINISHED"),
    ]
    assert opskit.models.get_version("kept@prod").version == 1
    assert recorder.calls.count(("after_run", "FINISHED")) == 2
    assert (
        sum(
            "after_run" in r.getMessage() and "after_run broke" in r.getMessage()
            for r in caplog.records
        )
        == 2
    )


def test_a_raising_after_run_wrapper_is_logged_too(caplog: pytest.LogCaptureFixture) -> None:
    """A hook wrapper around after_run that raises is logged like a plain implementation; the run ends FINISHED."""
    with (
        plugin_manager(FailingAfterRunWrapper()),
        caplog.at_level(logging.ERROR, logger="opskit.plugins"),
        opskit.start_run(name="wrapped") as run,
    ):
        pass
    assert opskit.get_run(run.id).status == "FINISHED"
    assert any("after_run wrapper broke" in r.getMessage() for r in caplog.records)


def test_keyboard_interrupt_from_a_hook_is_not_swallowed() -> None:
    """Only Exceptions from on_run_error/after_run are logged; a KeyboardInterrupt still stops the program."""

    class Interrupting:
        @hookspecs.hookimpl
        def after_run(self, run: Run) -> None:
            raise KeyboardInterrupt

    with (
        plugin_manager(Interrupting()),
        pytest.raises(KeyboardInterrupt),
        opskit.start_run(name="interrupted") as run,
    ):
        pass
    assert opskit.get_run(run.id).status == "FINISHED"
    assert opskit.active_run() is None


def test_trace_hooks_traces_the_registration_hooks(tmp_path: Any) -> None:
    """OPSKIT_TRACE_HOOKS=1 also writes register_trackers/storages/targets/drift_methods calls, with the plugin's name."""
    code = (
        "import opskit\n"
        "from opskit.monitor.methods import drift_methods\n"
        "@opskit.track\ndef f(x=1):\n    return x\n"
        "f()\n"
        "drift_methods()\n"
    )
    err = run_python(code, env={"OPSKIT_TRACE_HOOKS": "1"}).stderr
    for hook in (
        "register_trackers",
        "register_storages",
        "register_targets",
        "register_drift_methods",
    ):
        assert f"{hook} (opskit.builtins." in err, hook
    assert "before_run" in err and "after_run" in err
    quiet = run_python(code).stderr
    assert "register_trackers" not in quiet and "[hook]" not in quiet
