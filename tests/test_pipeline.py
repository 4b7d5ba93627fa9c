"""The train engine in stages (``opskit.tracking.pipeline``) and the thin decorators around it."""

from __future__ import annotations

import importlib
import inspect
import typing
from typing import Any

import attrs
import pytest

import opskit
from opskit.errors import OpskitWarning
from opskit.tracking import pipeline
from opskit.tracking.decorators import RunOptions, TrainOptions


def _keywords(fn: Any) -> set[str]:
    """The keyword-only parameters of *fn*'s keyword overload (the one that takes options)."""
    (options,) = [
        o
        for o in typing.get_overloads(fn)
        if any(
            p.kind is inspect.Parameter.KEYWORD_ONLY
            for p in inspect.signature(o).parameters.values()
        )
    ]
    return {
        n
        for n, p in inspect.signature(options).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


def test_every_option_is_declared_once_in_its_record_and_offered_by_the_overloads() -> None:
    """The overload keywords of train/track are exactly the init fields of TrainOptions/RunOptions."""
    assert _keywords(opskit.train) == {a.name for a in attrs.fields(TrainOptions) if a.init}
    assert _keywords(opskit.track) == {a.name for a in attrs.fields(RunOptions) if a.init}


def test_unknown_options_raise_type_error_naming_them() -> None:
    """An option the decorator does not take raises TypeError naming it and listing the valid ones."""
    with pytest.raises(TypeError, match=r"@opskit.train got unexpected option\(s\) 'modle'.*model"):
        opskit.train(modle="m")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=r"@opskit.track got unexpected option\(s\) 'alias'"):
        opskit.track(alias="prod")  # type: ignore[call-overload]


def test_options_are_checked_and_frozen_at_decoration_time() -> None:
    """Bad names fail when decorating; the record is frozen and its tags are a copy."""
    with pytest.raises(opskit.InvalidName):
        opskit.train(alias="not an alias!")
    with pytest.raises(opskit.InvalidValue, match="either signature= or input_example="):
        opskit.train(signature=opskit.Schema(()), input_example=[1])
    tags = {"team": "a"}

    @opskit.train(model="frozen", tags=tags)
    def fit() -> dict[str, int]:
        return {}

    options = fit.__opskit__  # type: ignore[attr-defined]
    assert (
        isinstance(options, TrainOptions) and options.model == "frozen" and options.schema is None
    )
    tags["team"] = "b"
    assert options.tags == {"team": "a"}
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        options.model = "other"


def test_a_raising_before_call_stage_stops_the_call_and_fails_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What a data check in the before-call seam does: the function is not called, the run ends FAILED, nothing registered."""
    called: list[int] = []

    def check(definition: Any, run: Any, captured: pipeline.Captured) -> None:
        assert opskit.active_run() is run and captured.params == {"alpha": 0.5}
        raise ValueError("alpha too large")

    monkeypatch.setattr(pipeline, "before_call", check)

    @opskit.train(model="checked")
    def fit(alpha: float) -> dict[str, float]:
        called.append(1)
        return {"alpha": alpha}

    with pytest.raises(ValueError, match="alpha too large"):
        fit(0.5)
    assert called == []
    run = opskit.last_run()
    assert run is not None and run.status == "FAILED" and "alpha too large" in (run.error or "")
    assert opskit.active_run() is None
    with pytest.raises(opskit.ModelNotFound):
        opskit.models.get("checked")


def test_a_raising_after_call_stage_stops_the_registration(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a gate in the after-call seam does: it sees the result and the run's metrics; raising registers nothing."""

    def gate(definition: Any, run: Any, captured: Any, called: pipeline.Called[Any]) -> None:
        assert called.result == {"w": 1} and run.latest == {"acc": 0.4}
        raise RuntimeError("accuracy 0.4 below the gate 0.9")

    monkeypatch.setattr(pipeline, "after_call", gate)

    @opskit.train(model="gated")
    def fit() -> dict[str, int]:
        opskit.log_metric("acc", 0.4)
        return {"w": 1}

    with pytest.raises(RuntimeError, match="below the gate"):
        fit()
    run = opskit.last_run()
    assert run is not None and run.status == "FAILED" and run.model_version is None
    with pytest.raises(opskit.ModelNotFound):
        opskit.models.get("gated")


def test_the_stage_records_are_frozen() -> None:
    """Captured and Called are frozen records: a later stage cannot rewrite what an earlier one produced."""
    captured = pipeline.Captured(params={}, data=(), code=None, env=None)  # type: ignore[arg-type]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        captured.params = {"x": 1}  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        pipeline.Called(1).result = 2  # type: ignore[misc]


def test_a_train_function_returning_none_warns_at_the_callers_line() -> None:
    """The 'returned None' warning points at the user's call, however many stages lie in between."""

    @opskit.train
    def fit() -> None:
        return None

    with pytest.warns(OpskitWarning, match="returned None") as caught:
        fit()
    assert caught[0].filename == __file__


@pytest.mark.parametrize(
    ("old", "new", "names"),
    [
        ("opskit.sdk.decorators", "opskit.tracking.decorators", ["train", "track"]),
        (
            "opskit.sdk.decorators",
            "opskit.registry.register",
            ["register_model", "register_version", "model_signature", "explicit_signature"],
        ),
        (
            "opskit.sdk.context",
            "opskit.tracking.context",
            [
                "ActiveRun",
                "active_run",
                "start_run",
                "log_metric",
                "log_metrics",
                "log_param",
                "log_params",
                "set_tag",
                "set_tags",
                "log_artifact",
                "new_run",
                "last_run_id",
            ],
        ),
        (
            "opskit.sdk.runs",
            "opskit.tracking.runs",
            ["get_run", "last_run", "search_runs", "DEFAULT_LIMIT"],
        ),
    ],
)
def test_old_import_paths_are_shims_to_the_new_modules(
    old: str, new: str, names: list[str]
) -> None:
    """Every name importable from the old opskit.sdk paths is the very object of its new home; the shim says so."""
    shim, home = importlib.import_module(old), importlib.import_module(new)
    for name in names:
        assert getattr(shim, name) is getattr(home, name), f"{old}.{name}"
    assert (shim.__doc__ or "").startswith("Deprecated import path")
    assert all(getattr(opskit, n) is getattr(home, n) for n in names if n in opskit.__all__)
