"""The same code behaves the same on every tracker: names, values and searches (issue 8, items 4 and 5)."""

from __future__ import annotations

import math
import os
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import opskit
from opskit.cli.main import main as cli

pytestmark = pytest.mark.trackers("local", "mlflow")


class Doubler:
    """A tiny model the built-in pickle serializer stores."""

    def predict(self, rows):  # type: ignore[no-untyped-def]  (no hints: MLflow's pyfunc would warn about them)
        return [2 * r for r in rows]


def test_a_version_alias_is_refused_before_training_on_every_tracker(tracker: str) -> None:
    """alias='v2' raises InvalidName at decoration time: no run, no half-done registration on any tracker."""
    with pytest.raises(opskit.InvalidName, match="reserved for version numbers"):

        @opskit.train(model="m", alias="v2")
        def fit(k: int = 1) -> Doubler:
            return Doubler()

    assert opskit.search_runs() == []
    with pytest.raises(opskit.ModelNotFound):
        opskit.models.get("m")


@pytest.mark.parametrize("alias", ["v2", "V10", "v0", "latest", "LATEST"])
def test_reserved_aliases_are_refused_by_set_alias_too(tracker: str, alias: str) -> None:
    """set_alias refuses MLflow's reserved aliases with InvalidName on every tracker; the version keeps its aliases."""

    @opskit.train(model="m")
    def fit(k: int = 1) -> Doubler:
        return Doubler()

    fit()
    with pytest.raises(opskit.InvalidName):
        opskit.models.set_alias("m", alias, 1)
    assert opskit.models.get("m").aliases == {}


def test_an_allowed_alias_works_on_every_tracker(tracker: str) -> None:
    """An alias the rules accept (even 'v2-candidate') is accepted by the server too and resolves."""

    @opskit.train(model="m", alias="v2-candidate")
    def fit(k: int = 1) -> Doubler:
        return Doubler()

    fit()
    assert opskit.load_model("m@v2-candidate").predict([1.0]) == [2.0]


@pytest.mark.parametrize(
    "key", ["a//b", "a/", "./a", "a/./b", ".", "a/.", "../x", "/a", "a:b", "ä"]
)
def test_path_like_and_foreign_keys_are_refused_before_the_run(tracker: str, key: str) -> None:
    """Keys MLflow would refuse on the server are refused by opskit up front, on every tracker, with InvalidName."""
    with pytest.raises(opskit.InvalidName):
        opskit.start_run(params={key: 1})
    assert opskit.search_runs() == []
    with opskit.start_run() as run:
        for log in (
            lambda: opskit.log_param(key, 1),
            lambda: opskit.log_metric(key, 1.0),
            lambda: opskit.set_tag(key, "x"),
        ):
            with pytest.raises(opskit.InvalidName):
                log()
    assert opskit.get_run(run.id).params == {} and opskit.get_run(run.id).metrics == {}


def test_tag_values_have_one_limit_on_every_tracker(tracker: str) -> None:
    """A tag value of 8,000 characters is kept whole; 8,001 raises InvalidValue (MLflow would cut it silently)."""
    longest = "é" * 8000
    with opskit.start_run() as run:
        opskit.set_tag("long", longest)
        with pytest.raises(opskit.InvalidValue, match="8001 characters"):
            opskit.set_tag("too_long", "x" * 8001)
    assert opskit.get_run(run.id).tags["long"] == longest
    assert "too_long" not in opskit.get_run(run.id).tags
    with pytest.raises(opskit.InvalidValue):

        @opskit.track(tags={"note": "x" * 8001})
        def f() -> None:
            return None


def test_param_values_have_one_limit_on_every_tracker(tracker: str) -> None:
    """A 6,000-character param is kept whole; a longer string or list raises InvalidValue (MLflow would cut it)."""
    with opskit.start_run() as run:
        opskit.log_param("text", "ü" * 6000)
        with pytest.raises(opskit.InvalidValue, match="6001 characters"):
            opskit.log_param("long", "x" * 6001)
        with pytest.raises(opskit.InvalidValue, match="as JSON"):
            opskit.log_param("list", list(range(2000)))
    assert opskit.get_run(run.id).params == {"text": "ü" * 6000}


def test_experiment_and_run_names_are_checked_up_front(tracker: str) -> None:
    """A blank or over-long experiment or run name raises InvalidName before anything is stored."""
    for bad in ("   ", "x" * 201, "a\nb", 3):
        with pytest.raises(opskit.InvalidName):
            opskit.start_run(experiment=bad)  # type: ignore[arg-type]
    with pytest.raises(opskit.InvalidName):
        opskit.start_run(name="x" * 251)
    with pytest.raises(opskit.InvalidName):
        opskit.track(name="x" * 251)
    assert opskit.search_runs() == []
    with opskit.start_run(name="r" * 250, experiment="e" * 200) as run:
        pass
    assert (opskit.get_run(run.id).name, opskit.get_run(run.id).experiment) == (
        "r" * 250,
        "e" * 200,
    )


def test_a_nan_param_does_not_break_later_searches(tracker: str) -> None:
    """After a run with alpha=NaN, filters and order_by on alpha answer the same on every tracker; NaN reads back as NaN."""

    @opskit.track
    def fit(alpha: float) -> None:
        return None

    for alpha in (float("nan"), 0.5, float("inf"), -1.0, float("-inf")):
        fit(alpha)
    found = [r.params["alpha"] for r in opskit.search_runs("params.alpha > 0")]
    assert found == [math.inf, 0.5]
    assert [r.params["alpha"] for r in opskit.search_runs("params.alpha != 0.5")] == [
        -math.inf,
        -1.0,
        math.inf,
    ]
    ordered = [r.params["alpha"] for r in opskit.search_runs(order_by=["params.alpha"])]
    assert ordered[:4] == [-math.inf, -1.0, 0.5, math.inf] and math.isnan(ordered[4])
    assert [r.params["alpha"] for r in opskit.search_runs("params.alpha = 'Infinity'")] == [
        math.inf
    ]
    assert math.isnan(opskit.search_runs("params.alpha = 'NaN'")[0].params["alpha"])


def test_a_nan_metric_matches_no_comparison_on_every_tracker(tracker: str) -> None:
    """A NaN metric matches no filter (not even !=) and sorts with the runs that lack the metric, on every tracker."""
    for value in (math.nan, 1.0, math.inf, -1.0):
        with opskit.start_run(name=str(value)):
            opskit.log_metric("m", value)
    with opskit.start_run(name="none"):
        pass

    def names(*args: Any, **kwargs: Any) -> list[str]:
        return [r.name for r in opskit.search_runs(*args, **kwargs)]

    assert names("metrics.m > 0") == ["inf", "1.0"]
    assert names("metrics.m != 1") == ["-1.0", "inf"]
    assert names("metrics.m < 5") == ["-1.0", "1.0"]
    assert names("metrics.m <= 5", limit=1) == ["-1.0"]
    assert names(order_by=["metrics.m"]) == ["-1.0", "1.0", "inf", "none", "nan"]
    assert names(order_by=["metrics.m DESC"]) == ["inf", "1.0", "-1.0", "none", "nan"]


def test_the_cli_searches_past_a_nan_param(
    tracker: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`opskit runs list --filter 'params.alpha > 0'` prints the matching run, not a traceback."""
    for alpha in (float("nan"), 2.0):
        with opskit.start_run(name=f"a{alpha}", params={"alpha": alpha}):
            pass
    assert cli(["runs", "list", "--filter", "params.alpha > 0", "--order-by", "params.alpha"]) == 0
    out = capsys.readouterr().out
    assert "a2.0" in out and "anan" not in out


def test_the_cli_reports_a_bad_filter_without_a_traceback(
    tracker: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A malformed filter is an OpskitError: the CLI prints one line of error and returns 2."""
    assert cli(["runs", "list", "--filter", "params.alpha >"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("opskit: error:") and "Traceback" not in err


def test_runs_show_accepts_the_trackers_own_run_id(
    tracker: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`opskit runs show` finds a run by the id MLflow shows for it (and by opskit's id) on the MLflow tracker."""
    with opskit.start_run(name="shown") as run:
        opskit.log_metric("acc", 0.9)
    ids = [run.id]
    if tracker == "mlflow":
        from mlflow import MlflowClient

        namespace = os.environ["OPSKIT_MLFLOW_NAMESPACE"]
        experiment = MlflowClient().get_experiment_by_name(f"{namespace}.{run.experiment}")
        assert experiment is not None
        found = MlflowClient().search_runs([experiment.experiment_id])
        ids.append(found[0].info.run_id)
        assert ids[1] != run.id
    for shown in ids:
        assert cli(["runs", "show", shown]) == 0
        assert "shown" in capsys.readouterr().out
        assert opskit.get_run(shown).name == "shown"


def test_numpy_hyper_parameters_are_recorded_as_json_numbers(tracker: str) -> None:
    """np.int64(50), np.float32(0.5) and np.bool_(False) arguments are params 50, 0.5 and False on every tracker."""

    @opskit.track
    def fit(n: Any, rate: Any, flag: Any, sizes: Any = (), opts: Any = None) -> None:
        opskit.log_param("n2", np.int64(5))
        opskit.log_params(
            {"f16": np.float16(0.25), "nested": {"a": [np.float64(0.1), np.int16(-3)]}}
        )

    fit(
        np.int64(50),
        np.float32(0.5),
        flag=np.bool_(False),
        sizes=(np.int32(64), np.uint8(32)),
        opts={"depth": np.int64(3), "frac": Fraction(1, 4), "dec": Decimal("0.1")},
    )
    run = opskit.last_run()
    assert run is not None
    expected = {
        "n": 50,
        "rate": 0.5,
        "flag": False,
        "sizes": [64, 32],
        "opts": {"depth": 3, "frac": 0.25, "dec": 0.1},
        "n2": 5,
        "f16": 0.25,
        "nested": {"a": [0.1, -3]},
    }
    stored = opskit.get_run(run.id).params
    assert stored == expected
    assert {k: type(v) for k, v in stored.items()} == {k: type(v) for k, v in expected.items()}
    assert [
        r.id
        for r in opskit.search_runs("params.n = 50 and params.rate = 0.5 and params.flag = 'false'")
    ] == [run.id]


def test_inexact_numbers_are_refused_not_rounded(tracker: str) -> None:
    """Fraction(1, 3) and a Decimal with more digits than a float raise InvalidValue from log_param; complex too."""
    with opskit.start_run() as run:
        for bad in (Fraction(1, 3), Decimal("0.1000000000000000000001"), np.complex64(1 + 2j), 1j):
            with pytest.raises(opskit.InvalidValue):
                opskit.log_param("x", bad)
    assert opskit.get_run(run.id).params == {}


def test_an_argument_that_cannot_be_a_param_is_reported_not_dropped_silently(tracker: str) -> None:
    """A captured argument that is too long for a param warns (naming it) and the run still happens."""

    @opskit.track
    def fit(note: str, third: Any = Fraction(1, 3)) -> int:
        return 1

    with pytest.warns(opskit.OpskitWarning) as caught:
        assert fit("x" * 7000) == 1
    assert {"'note'", "'third'"} <= {
        m for w in caught for m in ("'note'", "'third'") if m in str(w.message)
    }
    run = opskit.last_run()
    assert run is not None and run.status == "FINISHED" and "note" not in run.params


@pytest.mark.parametrize(
    "bad",
    [
        "0.5",
        True,
        False,
        None,
        np.bool_(True),
        b"1",
        1j,
        [0.5],
        np.array([True]),
        np.array([0.5, 0.6]),
        np.array(["1"]),
    ],
)
def test_log_metric_refuses_non_numbers(tracker: str, bad: object) -> None:
    """Strings, bools (NumPy's too), None, bytes, complex numbers and lists raise InvalidValue; nothing is logged."""
    with opskit.start_run() as run:
        with pytest.raises(opskit.InvalidValue, match="must be a number"):
            opskit.log_metric("acc", bad)  # type: ignore[arg-type]
        with pytest.raises(opskit.InvalidValue):
            opskit.log_metrics({"acc": bad})  # type: ignore[dict-item]
    assert opskit.get_run(run.id).metrics == {}


def test_log_metric_accepts_numpy_and_other_numbers(tracker: str) -> None:
    """NumPy floats and ints, one-element arrays (tensors), Decimal and Fraction are logged as floats."""
    values = [
        np.float32(0.5),
        np.int64(3),
        np.uint16(7),
        np.float64(0.25),
        Decimal("1.5"),
        Fraction(1, 4),
        2,
        np.array([0.75]),
        np.array([[4]]),
        np.array(0.125),
    ]
    with opskit.start_run() as run:
        for value in values:
            opskit.log_metric("m", value)  # type: ignore[arg-type]
    got = [m.value for m in opskit.get_run(run.id).metric_history("m")]
    assert got == [0.5, 3.0, 7.0, 0.25, 1.5, 0.25, 2.0, 0.75, 4.0, 0.125]


def test_list_params_match_however_the_filter_spaces_them(tracker: str) -> None:
    """params.layers = '[64, 32]' and '[64,32]' both find the run logged with layers=[64, 32]; dict keys in any order."""
    with opskit.start_run(params={"layers": [64, 32], "opts": {"b": 1, "a": [1, 2]}}) as run:
        pass
    with opskit.start_run(params={"layers": "[64, 32]"}) as text_run:
        pass
    assert [r.id for r in opskit.search_runs("params.layers = '[64,32]'")] == [run.id]
    assert {r.id for r in opskit.search_runs("params.layers = '[64, 32]'")} == {run.id, text_run.id}
    assert [r.id for r in opskit.search_runs('params.opts = \'{"b": 1, "a": [1, 2]}\'')] == [run.id]
    assert [
        r.id
        for r in opskit.search_runs("params.layers IN ('[64,  32]', 'x') and params.opts != '{}'")
    ] == [run.id]
    assert [r.id for r in opskit.search_runs("params.layers != '[ 64 , 32 ]'")] == [text_run.id]


# -- spaces of values and references, on every tracker -------------------------------------------------

_numpy_scalars = st.one_of(
    st.integers(-(2**31), 2**31 - 1).map(np.int64),
    st.integers(0, 255).map(np.uint8),
    st.integers(-(2**15), 2**15 - 1).map(np.int16),
    st.floats(width=32, allow_nan=False).map(np.float32),
    st.floats(width=16, allow_nan=False).map(np.float16),
    st.floats().map(np.float64),
    st.booleans().map(np.bool_),
)
_param_leaves = (
    st.integers(-(2**53), 2**53)
    | st.floats()
    | st.booleans()
    | st.none()
    | _numpy_scalars
    | st.text(max_size=20)
    | st.sampled_from(["日本語", "é" * 5990, "NaN", "[1, 2]", "'quoted'", "back\\slash"])
)
_param_values = st.recursive(
    _param_leaves,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def _expected(value: Any) -> Any:
    """What a param should read back as: NumPy scalars as Python values, tuples as lists."""
    if isinstance(value, np.generic):
        return float(str(value)) if isinstance(value, np.floating) else value.item()
    if isinstance(value, list | tuple):
        return [_expected(v) for v in value]
    if isinstance(value, dict):
        return {k: _expected(v) for k, v in value.items()}
    return value


def _same(left: Any, right: Any) -> bool:
    """Equal, with NaN equal to NaN and the type kept (1 is not True, 1.0 is not 1 in a list)."""
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left):
        return math.isnan(right)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(
            _same(a, b) for a, b in zip(left, right, strict=True)
        )
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    return type(left) is type(right) and left == right


@given(st.dictionaries(st.sampled_from(["a", "b/c", "d e"]), _param_values, min_size=1, max_size=3))
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_param_value_is_kept_or_refused_the_same_on_every_tracker(
    tracker: str, params: dict[str, Any]
) -> None:
    """Any value is either stored and read back equal (NumPy scalars as Python values, NaN as NaN), or refused
    with InvalidValue before anything is stored: on every tracker, the same way."""
    expected = {k: _expected(v) for k, v in params.items()}
    from opskit.capture.params import MAX_PARAM_CHARS, param_text

    too_long = [k for k, v in expected.items() if len(param_text(v)) > MAX_PARAM_CHARS]
    if too_long:
        with pytest.raises(opskit.InvalidValue):
            opskit.start_run(params=params)
        return
    with opskit.start_run(params=params) as run:
        pass
    stored = opskit.get_run(run.id).params
    assert _same(stored, expected)
    for (
        key,
        value,
    ) in expected.items():  # and every one of them can be searched for, past NaN and infinities
        if isinstance(value, str):
            quoted = "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
            assert run.id in [
                r.id for r in opskit.search_runs(f"params.`{key}` = {quoted}", limit=1000)
            ]
        elif isinstance(value, float) and math.isfinite(value):
            assert run.id in [
                r.id for r in opskit.search_runs(f"params.`{key}` >= {value!r}", limit=1000)
            ]
        opskit.search_runs(order_by=[f"params.`{key}` DESC"])


_refs = st.one_of(
    st.sampled_from(["m", "other"]),
    st.builds(lambda n, v: f"{n}:{v}", st.sampled_from(["m", "other"]), st.integers(0, 4)),
    st.builds(
        lambda n, a: f"{n}@{a}",
        st.sampled_from(["m", "other"]),
        st.sampled_from(["prod", "staging", "v2", "latest", "none-yet"]),
    ),
    st.text(st.sampled_from(list("m@:v2 x")), max_size=6),
)


@pytest.fixture
def three_versions(tracker: str) -> dict[str, int]:
    """Model 'm' with versions 1-3, 'prod' on 1 and 'staging' on 3; the aliases as a dict."""

    @opskit.train(model="m")
    def fit(k: int) -> Doubler:
        return Doubler()

    for k in range(3):
        fit(k)
    opskit.models.set_alias("m", "prod", 1)
    opskit.models.set_alias("m", "staging", 3)
    return {"prod": 1, "staging": 3}


@given(_refs)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_model_reference_resolves_the_same_on_every_tracker(
    three_versions: dict[str, int], ref: str
) -> None:
    """name, name:N and name@alias find the same version on every tracker, or fail with the same error type."""
    try:
        parsed = opskit.ModelRef.parse(ref)
    except opskit.InvalidModelRef:
        with pytest.raises(opskit.InvalidModelRef):
            opskit.models.get_version(ref)
        return
    if parsed.name != "m":
        want: int | None = None
    elif parsed.alias is not None:
        want = three_versions.get(parsed.alias)
    else:
        want = (
            parsed.version
            if parsed.version is not None and parsed.version <= 3
            else (3 if parsed.version is None else None)
        )
    if want is None:
        with pytest.raises(opskit.ModelNotFound):
            opskit.models.get_version(ref)
    else:
        assert opskit.models.get_version(ref).version == want


def test_star_args_are_recorded_under_valid_keys(tracker: str) -> None:
    """A decorated function with *args and **kwargs runs on every tracker; positional extras are params xs.0, xs.1."""

    @opskit.track
    def fit(*xs: Any, **kw: Any) -> int:
        return len(xs) + len(kw)

    assert fit(1, np.int64(2), a=3) == 3
    run = opskit.last_run()
    assert run is not None and run.params == {"xs.0": 1, "xs.1": 2, "a": 3}


def test_a_data_argument_with_an_invalid_name_is_refused_before_the_call(tracker: str) -> None:
    """A **kwargs data argument whose name cannot be a key raises InvalidName before the function runs."""
    import pandas as pd

    called = []

    @opskit.track
    def fit(**data: Any) -> None:
        called.append(True)

    with pytest.raises(opskit.InvalidName, match="data argument"):
        fit(**{"a//b": pd.DataFrame({"x": [1]})})
    assert called == [] and opskit.search_runs() == []


@pytest.mark.parametrize(
    "key", ["mlflow.runName", "MLflow.note", "opskit.run_id", "opskit.json.params"]
)
def test_tag_keys_of_the_trackers_own_bookkeeping_are_refused(tracker: str, key: str) -> None:
    """set_tag('mlflow.runName') would rename the run on MLflow and be a plain tag locally: refused on both, up front."""
    with (
        opskit.start_run(name="kept") as run,
        pytest.raises(opskit.InvalidName, match="bookkeeping"),
    ):
        opskit.set_tag(key, "x")
    assert opskit.get_run(run.id).name == "kept" and opskit.get_run(run.id).tags == {}
    with pytest.raises(opskit.InvalidName):
        opskit.track(tags={key: "x"})


def test_metric_steps_accept_numpy_integers_and_refuse_the_rest(tracker: str) -> None:
    """A NumPy integer step is a step on every tracker; negative, bool, float and 2**63 steps raise InvalidValue."""
    with opskit.start_run() as run:
        for step in np.arange(3):
            opskit.log_metric("loss", 1.0 / (int(step) + 1), step=step)
        opskit.log_metrics({"acc": 0.5}, step=np.uint8(7))
        for bad in (-1, True, 1.0, 2**63, "1"):
            with pytest.raises(opskit.InvalidValue, match="non-negative int"):
                opskit.log_metric("loss", 0.1, step=bad)  # type: ignore[arg-type]
    stored = opskit.get_run(run.id)
    assert [m.step for m in stored.metric_history("loss")] == [0, 1, 2]
    assert [m.step for m in stored.metric_history("acc")] == [7]


_key_texts = st.text(
    st.sampled_from([*"aZ09_-./ ", "ä", ":", "\t"]), min_size=1, max_size=10
) | st.sampled_from(["a" * 250, "x/y z", "v1", "a.b-c_d", "a/b/c"])


@given(_key_texts, st.text(max_size=30))
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_key_is_refused_up_front_or_stored_on_every_tracker(
    tracker: str, key: str, text: str
) -> None:
    """A key either raises InvalidName before the run exists, or works as param, metric and tag key on every tracker."""
    from opskit.names import validate_key

    try:
        validate_key(key)
    except opskit.InvalidName:
        with pytest.raises(opskit.InvalidName):
            opskit.start_run(params={key: 1})
        return
    with opskit.start_run(params={key: text}, tags={key: text}) as run:
        opskit.log_metric(key, 0.5)
    stored = opskit.get_run(run.id)
    assert (stored.params, stored.tags, stored.metrics) == ({key: text}, {key: text}, {key: 0.5})


@pytest.mark.parametrize("text", ["'", "it's", "back\\slash", 'say "hi"', "`tick`", "\\'"])
def test_quotes_and_backslashes_in_values_are_found_on_every_tracker(
    tracker: str, text: str
) -> None:
    """A param or tag value with quotes or backslashes is found by an equality filter (escaped as opskit documents)."""
    with opskit.start_run(params={"p": text}, tags={"t": text}) as run:
        pass
    quoted = "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    assert [r.id for r in opskit.search_runs(f"params.p = {quoted}")] == [run.id]
    assert [r.id for r in opskit.search_runs(f"tags.t = {quoted}")] == [run.id]
    assert run.id not in [r.id for r in opskit.search_runs(f"tags.t != {quoted}")]
