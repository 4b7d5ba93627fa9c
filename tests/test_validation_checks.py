"""Data checks: their semantics, which argument each applies to, bad declarations, and one schema rule set with serving."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

import opskit
from opskit import checks
from opskit.coerce import cast_table, check_frame
from opskit.deployments.client import request_body
from opskit.records import ColumnSpec, Schema
from opskit.serve.payloads import parse_invocations


def frame(n: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "alcohol": rng.uniform(8, 15, n),
            "colour": pd.Categorical(rng.choice(["red", "white"], n), categories=["red", "white"]),
        }
    )


def run_check(check: checks.Check, **arguments: Any) -> opskit.ValidationReport:
    """Run *check* on a tracked function taking *arguments*; the stored report (passed or not)."""

    @opskit.track(checks=[check])
    def body(**kwargs: Any) -> None:
        return None

    try:
        body(**arguments)
    except opskit.ValidationFailed as exc:
        report = exc.report
    else:
        report = None
    if report is not None:
        return report
    run = opskit.last_run()
    assert run is not None and run.validation is not None
    return run.validation


def only(report: opskit.ValidationReport) -> opskit.ValidationResult:
    [result] = report.checks
    return result


# -- semantics ---------------------------------------------------------------------------------


def test_not_null_counts_missing_values_per_column_and_names_the_first_row() -> None:
    """not_null(): None/NaN/NaT/pd.NA per column, the first offending row named."""
    f = frame()
    f["n"] = pd.array([1] * 49 + [None], dtype="Int64")
    f.loc[4, "alcohol"] = np.nan
    result = only(run_check(checks.not_null(), X=f))
    assert result.status == "failed" and result.observed == {"alcohol": 1, "n": 1}
    assert "first at row(s) [4]" in result.message
    assert only(run_check(checks.not_null("id"), X=f)).passed


def test_between_in_set_unique_row_count() -> None:
    """The built-in checks pass and fail exactly at their bounds."""
    f = frame()
    f.loc[[3, 9], "alcohol"] = [20.0, 7.5]
    r = only(run_check(checks.between("alcohol", 8, 20), X=f))
    assert r.status == "failed" and "rows [9]" in r.message and r.threshold == [8.0, 20.0]
    assert only(run_check(checks.between("alcohol", 7.5, 20), X=f)).passed
    assert not only(run_check(checks.between("alcohol", 7.5, 20, inclusive=False), X=f)).passed
    assert only(run_check(checks.in_set("colour", ["red", "white"]), X=f)).passed
    r = only(run_check(checks.in_set("colour", ["red"]), X=f))
    assert r.status == "failed" and r.observed == ["white"]
    assert only(run_check(checks.unique("id"), X=f)).passed
    r = only(run_check(checks.unique(["colour"]), X=f))
    assert r.status == "failed" and r.observed == 48
    assert only(run_check(checks.row_count(min=50, max=50), X=f)).passed
    r = only(run_check(checks.row_count(min=51), X=f))
    assert r.status == "failed" and r.observed == 50 and "at least 51" in r.message


def test_callables_and_pandera_schemas_are_checks() -> None:
    """A callable (name, value) -> bool | CheckResult sees every data argument; a pandera DataFrameSchema is a check."""
    seen: list[str] = []

    def positive_labels(name: str, value: Any) -> bool:
        seen.append(name)
        return bool((np.asarray(value) >= 0).all()) if name == "y" else True

    report = run_check(positive_labels, X=frame(), y=pd.Series([1, -1, 0]))  # type: ignore[arg-type]
    assert seen == ["X", "y"]
    assert [r.status for r in report.checks] == ["passed", "failed"]

    schema = pa.DataFrameSchema(
        {"alcohol": pa.Column(float, pa.Check.le(14.0)), "id": pa.Column(int)}
    )
    f = frame()
    report = run_check(schema, X=f)  # type: ignore[arg-type]
    result = only(report)
    expected = int((f["alcohol"] > 14.0).sum())
    assert result.status == "failed" and result.observed == expected and expected > 0
    assert "alcohol" in result.message


# -- binding -----------------------------------------------------------------------------------


def test_a_check_with_columns_applies_to_every_frame_that_has_them() -> None:
    """between('alcohol') checks X_train and X_test (both have it), not a frame without the column."""
    f = frame()
    report = run_check(
        checks.between("alcohol", 0, 20), X_train=f, X_test=f, meta=pd.DataFrame({"k": [1]})
    )
    assert [r.target for r in report.checks] == ["X_train.alcohol", "X_test.alcohol"]


def test_a_check_without_columns_applies_to_every_frame_argument() -> None:
    """not_null() checks each DataFrame argument; a Series or a number is not a frame."""
    report = run_check(checks.not_null(), a=frame(), b=frame(), y=pd.Series([1.0, None]), alpha=0.5)
    assert [r.target for r in report.checks] == ["a", "b"]


def test_on_picks_one_argument() -> None:
    """on='X_test' checks that argument only."""
    report = run_check(checks.not_null(on="X_test"), X_train=frame(), X_test=frame())
    assert [r.target for r in report.checks] == ["X_test"]


def test_a_check_on_a_missing_column_is_an_error_before_the_body() -> None:
    """A column no data argument has: ValidationError naming it, raised before the body runs."""
    calls: list[int] = []

    @opskit.train(model="m", checks=[checks.between("alcohl", 0, 20)])
    def train(X: pd.DataFrame) -> None:
        calls.append(1)

    with pytest.raises(opskit.ValidationError, match="no data argument has column 'alcohl'"):
        train(frame())
    assert calls == []
    run = opskit.last_run()
    assert run is not None and run.status == "FAILED"


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"checks": [checks.not_null(on="X_tset")]}, "on='X_tset'.*not an argument of train"),
        ({"checks": ["alcohol"]}, "'alcohol' is not a data check"),
        ({"evaluate": ("X_test", "y_tset"), "metrics": ["accuracy"]}, "'y_tset'.*not an argument"),
        ({"evaluate": "X_test"}, "evaluate='X_test'"),
        ({"metrics": ["accuracy"]}, "need held-out data"),
        ({"on_fail": "ignore"}, "on_fail='ignore'"),
    ],
)
def test_bad_declarations_fail_at_decoration(options: dict[str, Any], match: str) -> None:
    """Each bad declaration is a ValidationError naming the value, raised when decorating."""
    with pytest.raises(opskit.ValidationError, match=match):

        @opskit.train(model="m", **options)
        def train(X_train: Any, X_test: Any, y_test: Any) -> None: ...


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: checks.between("a", 3, 1), "lo is above hi"),
        (lambda: checks.between("a", float("nan"), 1), "must not be NaN"),
        (lambda: checks.in_set("a", "red"), "not one string"),
        (lambda: checks.row_count(), "needs min= or max="),
        (lambda: checks.row_count(min=-1), "non-negative"),
        (lambda: checks.matches_schema("wine@"), "matches_schema"),
    ],
)
def test_bad_check_arguments(make: Any, match: str) -> None:
    """Bad arguments to a check constructor are a ValidationError saying what to do."""
    with pytest.raises(opskit.ValidationError, match=match):
        make()


# -- matches_schema ------------------------------------------------------------------------------


def test_matches_schema_reads_the_stored_signature_and_applies_to_its_argument() -> None:
    """matches_schema('wine@production') checks the argument holding the signature's columns, with the stored schema."""
    f = frame()
    y = (f["alcohol"] > 11).astype(int)

    @opskit.train(
        model="wine", alias="production", checks=[checks.matches_schema("wine@production")]
    )
    def train(X: pd.DataFrame, y: pd.Series, notes: pd.DataFrame) -> LogisticRegression:
        return LogisticRegression().fit(X[["alcohol"]], y)

    notes = pd.DataFrame({"text": ["a"]})
    train(f[["alcohol"]], y, notes)  # no production yet: passes, saying so
    first = opskit.last_run()
    assert first is not None and first.validation is not None
    assert "no version wine@production yet" in first.validation.checks[0].message
    train(f[["alcohol"]], y, notes)
    run = opskit.last_run()
    assert run is not None and run.validation is not None
    assert [(r.target, r.status) for r in run.validation.checks] == [("X", "passed")]
    bad = f[["alcohol"]].astype("float32")
    bad.loc[0, "alcohol"] = np.nan
    with pytest.raises(opskit.ValidationFailed) as info:
        train(bad, y, notes)
    assert info.value.report is not None
    result = info.value.report.checks[0]
    assert result.target == "X"
    assert result.message == (
        "column 'alcohol' row 0: got null for float64: got a missing value, but the model was "
        "trained without missing values in this column; send a number"
    )


def test_a_frame_with_the_schema_dtypes_is_judged_on_its_buffers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Column-buffer speed: a frame whose dtypes are the schema's never enters the per-value path."""
    import opskit.coerce as coerce

    f = frame(10_000)
    schema = opskit.Schema(
        (
            ColumnSpec("id", "int64", missing=False),
            ColumnSpec("alcohol", "float64", missing=False, infinite=False),
            ColumnSpec("colour", "category", missing=False, categories=("red", "white")),
        )
    )

    def per_value(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("walked value by value")

    monkeypatch.setattr(coerce, "_column", per_value)
    check_frame(f, schema)
    f.loc[5, "alcohol"] = np.nan
    with pytest.raises(
        AssertionError, match="value by value"
    ):  # a problem: the server's path names it
        check_frame(f, schema)


DTYPES = [
    "float64",
    "float32",
    "Float64",
    "int64",
    "int32",
    "Int64",
    "UInt8",
    "bool",
    "boolean",
    "string",
    "str",
    "object",
    "category",
    "datetime64[ns]",
    "datetime64[us, UTC]",
]


@st.composite
def schema_and_frame(draw: st.DrawFn) -> tuple[Schema, pd.DataFrame]:
    """A schema (dtypes incl. nullable ones and categories), and a frame built from it."""
    n = draw(st.integers(1, 8))
    specs: list[ColumnSpec] = []
    columns: dict[str, Any] = {}
    for i, dtype in enumerate(draw(st.lists(st.sampled_from(DTYPES), min_size=1, max_size=6))):
        name = f"c{i}"
        nullable = dtype not in ("int64", "int32", "bool")
        missing = draw(st.booleans()) if nullable else False
        holes = [missing and draw(st.booleans()) for _ in range(n)]
        infinite = None
        if dtype in ("float64", "float32", "Float64"):
            infinite = draw(st.booleans())
            elements = st.floats(-1e6, 1e6, allow_nan=False)
            if infinite:
                elements = elements | st.sampled_from([math.inf, -math.inf])
            values: list[Any] = [draw(elements) for _ in range(n)]
            values = [None if h else v for v, h in zip(values, holes, strict=True)]
            col = (
                pd.array(values, dtype=dtype)
                if dtype == "Float64"
                else pd.Series([np.nan if v is None else v for v in values], dtype=dtype)
            )
        elif dtype in ("int64", "int32", "Int64", "UInt8"):
            lo, hi = (0, 255) if dtype == "UInt8" else (-(2**31), 2**31 - 1)
            values = [None if h else draw(st.integers(lo, hi)) for h in holes]
            col = (
                pd.array(values, dtype=dtype)
                if dtype[0].isupper()
                else pd.Series(values, dtype=dtype)
            )
        elif dtype in ("bool", "boolean"):
            values = [None if h else draw(st.booleans()) for h in holes]
            col = (
                pd.array(values, dtype=dtype)
                if dtype == "boolean"
                else pd.Series(values, dtype=bool)
            )
        elif dtype in ("string", "str", "object"):
            values = [None if h else draw(st.text(max_size=5)) for h in holes]
            col = pd.Series(values, dtype=dtype)
        elif dtype == "category":
            cats = draw(
                st.lists(st.text(min_size=1, max_size=4), min_size=1, max_size=4, unique=True)
            )
            values = [None if h else draw(st.sampled_from(cats)) for h in holes]
            ordered = draw(st.booleans())
            col = pd.Categorical(values, categories=cats, ordered=ordered)
            specs.append(
                ColumnSpec(
                    name, "category", missing=missing, categories=tuple(cats), ordered=ordered
                )
            )
            columns[name] = col
            continue
        else:
            stamps = [
                None
                if h
                else pd.Timestamp("2020-01-01") + pd.Timedelta(seconds=draw(st.integers(0, 10**8)))
                for h in holes
            ]
            col = pd.Series(pd.to_datetime(stamps))
            col = col.dt.tz_localize("UTC").astype(dtype) if "UTC" in dtype else col.astype(dtype)
        specs.append(ColumnSpec(name, dtype, missing=missing, infinite=infinite))
        columns[name] = col
    return Schema(tuple(specs)), pd.DataFrame(columns)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema_and_frame())
def test_matches_schema_accepts_a_frame_built_from_the_schema(
    case: tuple[Schema, pd.DataFrame],
) -> None:
    """Any frame built from a schema (nullable dtypes, categories, missing/inf flags) passes the check, and the server takes its rows."""
    schema, f = case
    assert checks.matches_schema(schema).check_with(f, schema).passed  # type: ignore[attr-defined]
    table = parse_invocations(json.loads(json.dumps(request_body(f))))
    cast_table(table.columns, table.rows, schema, text=table.text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema_and_frame(), st.data())
def test_a_refused_frame_gets_the_servers_message(
    case: tuple[Schema, pd.DataFrame], data: st.DataObject
) -> None:
    """A frame spoiled in one cell, column or dtype: the check refuses it exactly when the server refuses its rows, with the same message."""
    schema, f = case
    spoil = data.draw(st.sampled_from(["drop", "extra", "cell", "astype"]))
    col = data.draw(st.sampled_from(list(f.columns)))
    if spoil == "drop":
        f = f.drop(columns=[col])
    elif spoil == "extra":
        f = f.assign(extra=1)
    elif spoil == "astype":  # the whole column in another dtype (the server sees only its values)
        target = data.draw(st.sampled_from(["float64", "object", "string", "Int64", "category"]))
        try:
            f = f.astype({col: target})
        except (TypeError, ValueError, OverflowError):
            assume(False)
    else:
        f = f.astype({col: object})
        f.loc[data.draw(st.integers(0, len(f) - 1)), col] = data.draw(
            st.sampled_from([None, "text", 1.5, 10**20, True, math.inf])
        )
    result = checks.matches_schema(schema).check_with(f, schema)  # type: ignore[attr-defined]
    table = parse_invocations(json.loads(json.dumps(request_body(f))))
    try:
        cast_table(table.columns, table.rows, schema, text=table.text)
    except opskit.InvalidPayload as exc:
        refused: str | None = str(exc)
    else:
        refused = None
    assert (result.message if not result.passed else None) == refused


# -- item 8: a real deployment answers with the check's message --------------------------------------


@pytest.fixture
def deployed() -> Iterator[tuple[str, pd.DataFrame]]:
    """A model trained on alcohol/colour/n (no missing values), deployed locally; its URL and training frame."""
    f = frame(40).drop(columns=["id"])
    f["n"] = pd.array(range(40), dtype="Int64")
    y = (f["alcohol"] > 11).astype(int)
    model = make_pipeline(
        ColumnTransformer([("alcohol", "passthrough", ["alcohol"])]), LogisticRegression()
    ).fit(f, y)
    opskit.models.register(model, name="served", signature=f, alias="production")
    dep = opskit.deploy("served@production", name="served-checks", workers=1, max_wait_ms=0)
    try:
        assert dep.url is not None
        yield dep.url, f
    finally:
        opskit.deployments.stop(dep.name)


def test_the_check_and_a_deployment_refuse_the_same_rows_with_the_same_message(
    deployed: tuple[str, pd.DataFrame],
) -> None:
    """matches_schema('served@production') and the served model give the same message for each mismatch."""
    url, good = deployed
    spoiled: list[pd.DataFrame] = []
    spoiled.append(good.drop(columns=["colour"]))  # missing column
    spoiled.append(good.assign(extra=1.0))  # unexpected column
    f = good.copy()
    f.loc[3, "alcohol"] = np.nan  # missing value where training had none
    spoiled.append(f)
    f = good.copy()
    f["colour"] = f["colour"].cat.add_categories(["rosé"])
    f.loc[5, "colour"] = "rosé"  # unseen category
    spoiled.append(f)
    f = good.astype({"alcohol": object})
    f.loc[2, "alcohol"] = "12.5"  # text in a float column
    spoiled.append(f)
    f = good.copy()
    f.loc[1, "alcohol"] = np.inf  # infinity where training had none
    spoiled.append(f)
    for bad in spoiled:

        @opskit.track(checks=[checks.matches_schema("served@production")])
        def prepare(X: pd.DataFrame) -> None: ...

        with pytest.raises(opskit.ValidationFailed) as info:
            prepare(bad)
        assert info.value.report is not None
        message = info.value.report.checks[0].message
        response = httpx.post(
            f"{url}/invocations",
            content=json.dumps(request_body(bad)),  # Infinity included, as the JSON clients send it
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        assert response.status_code == 400, response.text
        assert response.json()["message"] == message
    assert httpx.post(f"{url}/invocations", json=request_body(good), timeout=30).status_code == 200
    prepare(good)


def test_no_drift_compares_each_frame_with_the_reference() -> None:
    """no_drift(reference) passes on data like the reference and fails, naming the column, on shifted data."""
    rng = np.random.default_rng(5)
    reference = pd.DataFrame({"x": rng.normal(size=2000), "k": rng.choice(["a", "b"], 2000)})
    same = pd.DataFrame({"x": rng.normal(size=2000), "k": rng.choice(["a", "b"], 2000)})
    shifted = same.assign(x=same["x"] + 3.0)
    assert only(run_check(checks.no_drift(reference), X=same)).passed
    result = only(run_check(checks.no_drift(reference), X=shifted))
    assert result.status == "failed" and "drifted column(s): x" in result.message
    assert result.observed == 0.5 and result.threshold == 0.5
    with pytest.raises(opskit.ValidationError, match="unknown option"):
        checks.no_drift(reference, share=0.1)
