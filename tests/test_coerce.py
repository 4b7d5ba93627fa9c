"""opskit.coerce: request values → the training dtypes, for every dtype family, missing values and payload format."""

from __future__ import annotations

import csv
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

import opskit
from opskit.builtins.fingerprints import infer_schema
from opskit.coerce import cast_table
from opskit.deployments.target import request_body
from opskit.errors import InvalidPayload
from opskit.records import ColumnSpec, Schema
from opskit.sdk.decorators import model_signature
from opskit.serve.payloads import parse_body, parse_invocations, parse_json, parse_records
from opskit.serve.validation import check

FAMILIES = [
    "float64",
    "float32",
    "Float64",
    "int64",
    "int8",
    "uint16",
    "Int64",
    "UInt8",
    "bool",
    "boolean",
    "string",
    "str",
    "object",
    "category",
    "datetime64[ns]",
    "datetime64[us]",
    "datetime64[ns, UTC]",
    "datetime64[ms, Asia/Tokyo]",
]
CAN_MISS = {
    "float64",
    "float32",
    "Float64",
    "Int64",
    "UInt8",
    "boolean",
    "string",
    "str",
    "object",
    "category",
    "datetime64[ns]",
    "datetime64[us]",
    "datetime64[ns, UTC]",
    "datetime64[ms, Asia/Tokyo]",
}


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    """A frame of 1-4 columns of drawn dtype families, with or without missing values."""
    n = draw(st.integers(1, 6))
    cols = draw(st.lists(columns(n), min_size=1, max_size=4))
    return pd.DataFrame({f"c{i}": c for i, c in enumerate(cols)})


@st.composite
def columns(draw: st.DrawFn, n: int) -> pd.Series:
    """One column of *n* values of a drawn dtype family, with or without missing values."""
    family = draw(st.sampled_from(FAMILIES))
    missing = family in CAN_MISS and draw(st.booleans())
    holes = [missing and draw(st.booleans()) for _ in range(n)]
    if family.startswith(("float", "Float")):
        bits = 32 if family == "float32" else 64
        values: list[Any] = draw(
            st.lists(
                st.floats(allow_nan=False, allow_infinity=False, width=bits), min_size=n, max_size=n
            )
        )
    elif family in ("int64", "Int64"):
        values = draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n))
    elif family == "int8":
        values = draw(st.lists(st.integers(-128, 127), min_size=n, max_size=n))
    elif family in ("uint16", "UInt8"):
        values = draw(st.lists(st.integers(0, 255), min_size=n, max_size=n))
    elif family in ("bool", "boolean"):
        values = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    elif family.startswith("datetime"):
        stamps = draw(st.lists(st.integers(0, 4 * 10**18), min_size=n, max_size=n))
        unit = family.split("[")[1].split(",")[0].rstrip("]")
        index = pd.to_datetime(stamps, unit="ns").as_unit(unit)
        if "," in family:
            index = index.tz_localize("UTC").tz_convert(family.split(", ")[1].rstrip("]"))
        series = pd.Series(index)
        return series.where(~pd.Series(holes), None) if any(holes) else series
    elif family == "category":
        values = draw(st.lists(st.sampled_from(["a", "b", "c d", "é"]), min_size=n, max_size=n))
        cats = pd.Categorical(
            [None if h else v for v, h in zip(values, holes, strict=True)],
            categories=["a", "b", "c d", "é", "unused"],
        )
        return pd.Series(cats)
    else:
        values = draw(
            st.lists(
                st.text(
                    st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=5
                ),
                min_size=n,
                max_size=n,
            )
        )
    if any(holes):
        values = [None if h else v for v, h in zip(values, holes, strict=True)]
    return pd.Series(values, dtype=family)


def _through(frame: pd.DataFrame, fmt: str) -> Any:
    """Send *frame* through a payload format and the server's parser; return the cast model input."""
    schema = infer_schema(frame)
    body = request_body(frame)
    if fmt == "split":
        table = parse_invocations(parse_json(json.dumps(body).encode()))
    elif fmt == "records":
        split = body["dataframe_split"]
        records = [dict(zip(split["columns"], row, strict=True)) for row in split["data"]]
        table = parse_records(parse_json(json.dumps(records).encode()))
    elif fmt == "columns":
        split = body["dataframe_split"]
        cols = {c: [row[i] for row in split["data"]] for i, c in enumerate(split["columns"])}
        table = parse_invocations(parse_json(json.dumps({"inputs": cols}).encode()))
    else:
        split = body["dataframe_split"]
        text = pd.DataFrame(split["data"], columns=split["columns"], dtype=object).to_csv(
            index=False, quoting=csv.QUOTE_ALL
        )
        table = parse_body(text.encode(), "text/csv", parse_invocations)
    return check(table, schema).data


@settings(max_examples=300, deadline=None)
@given(frames(), st.sampled_from(["split", "records", "columns", "csv"]))
def test_every_dtype_round_trips_exactly_through_every_format(
    frame: pd.DataFrame, fmt: str
) -> None:
    """Any frame of fingerprinted dtypes, with missing values where it had them, arrives with the same dtypes and values."""
    if (
        fmt == "csv"
    ):  # CSV cannot tell an empty string from a missing value, nor keep floats beyond repr
        for name in frame.columns:
            if frame[name].dtype.kind in "OU" or isinstance(frame[name].dtype, pd.StringDtype):
                frame[name] = frame[name].replace("", "x")
    got = _through(frame, fmt)
    assert list(got.dtypes) == list(frame.dtypes)
    pd.testing.assert_frame_equal(got, frame, check_exact=True)


@pytest.mark.parametrize(
    "family",
    [*sorted(set(FAMILIES) - CAN_MISS), "float64", "Int64", "boolean", "string", "category"],
)
def test_null_is_refused_where_training_had_no_missing_values(family: str) -> None:
    """A null for a column trained without missing values is a 400 naming column and row."""
    schema = Schema(
        (
            ColumnSpec(
                "x", family, missing=False, categories=("a",) if family == "category" else None
            ),
        )
    )
    good = {
        "float64": 1.0,
        "Int64": 1,
        "boolean": True,
        "string": "s",
        "category": "a",
        "bool": True,
    }.get(family, 1)
    with pytest.raises(InvalidPayload, match=r"column 'x' row 1: got null .*missing") as info:
        cast_table(("x",), [[good], [None]], schema)
    assert info.value.field == "x"


@pytest.mark.parametrize(
    ("spec", "ok", "bad"),
    [
        (
            ColumnSpec("x", "float64", missing=True, infinite=False),
            [None, float("nan"), 1, 2.5],
            [float("inf"), "1", True],
        ),
        (
            ColumnSpec("x", "float64", missing=False, infinite=True),
            [float("inf"), -float("inf"), 3],
            [None, float("nan")],
        ),
        (ColumnSpec("x", "float32"), [1.5, 3e38], [1e39, -1e39]),
        (ColumnSpec("x", "int8"), [-128, 127, 3.0], [128, -129, 2.5, None, True, "1"]),
        (ColumnSpec("x", "UInt8", missing=True), [0, 255, None], [-1, 256, False]),
        (ColumnSpec("x", "bool"), [True, False], [0, 1, None, "true"]),
        (ColumnSpec("x", "boolean", missing=True), [True, None], [1, "false"]),
        (ColumnSpec("x", "string", missing=True), ["", "a", None], [1, True, [1]]),
        (ColumnSpec("x", "category", missing=True, categories=(1, 2)), [1, 2, None], [3, "1"]),
        (
            ColumnSpec("x", "datetime64[ns]", missing=True),
            ["2024-01-01", "2024-01-01T10:00:00.123456789", 0, None, float("nan")],
            [
                "2024-01-01T10:00:00Z",
                "yesterday",
                True,
                "3000000-01-01",
                "NaN",
                "NaT",
                float("inf"),
            ],
        ),
        (
            ColumnSpec("x", "datetime64[ns, UTC]"),
            ["2024-01-01T00:00:00+05:00", "2024-01-01", 1.5e12],
            ["soon", [2024]],
        ),
    ],
)
def test_per_dtype_rules(spec: ColumnSpec, ok: list[Any], bad: list[Any]) -> None:
    """Each dtype accepts its valid values (vectorised and one by one) and refuses the others with a 400 naming the row."""
    schema = Schema((spec,))
    frame = cast_table(("x",), [[v] for v in ok], schema).data
    assert len(frame) == len(ok)
    expected_dtype = "category" if spec.type == "category" else spec.type
    assert str(frame["x"].dtype) == expected_dtype
    for value in bad:
        with pytest.raises(InvalidPayload, match=r"column 'x' row 1") as info:
            cast_table(("x",), [[ok[0]], [value]], schema)
        assert info.value.field == "x"


def test_timezones_convert_and_naive_strings_read_in_the_column_zone() -> None:
    """An offset converts into the column's zone; a string without offset is local time of that zone."""
    schema = Schema((ColumnSpec("t", "datetime64[ns, Europe/Berlin]"),))
    got = cast_table(("t",), [["2024-01-01T00:00:00Z"], ["2024-01-01T01:00:00"]], schema).data["t"]
    assert got[0] == got[1] == pd.Timestamp("2024-01-01T01:00:00", tz="Europe/Berlin")


def test_old_signatures_without_missing_flags_still_accept_nulls_where_the_dtype_can_hold_them() -> (
    None
):
    """Signatures stored before the missing/infinite flags keep working (null accepted for float, refused for int64)."""
    schema = Schema((ColumnSpec("a", "float64"), ColumnSpec("b", "int64")))
    frame = cast_table(("a", "b"), [[None, 1]], schema).data
    assert np.isnan(frame["a"][0]) and frame["b"].dtype == np.int64
    with pytest.raises(InvalidPayload, match="column 'b' row 0"):
        cast_table(("a", "b"), [[1.0, None]], schema)
    plain = opskit.serialize.from_plain(
        Schema, {"columns": [{"name": "a", "type": "float64"}], "kind": "table", "shape": None}
    )
    assert plain.columns[0].missing is None and plain.columns[0].categories is None


def test_versions_without_signature_take_any_table_but_refuse_ragged_rows() -> None:
    """Without a signature the frame infers its dtypes; rows of different widths are a 400, not a model error."""
    frame = cast_table(None, [[1, "a"], [2, "b"]], None).data
    assert frame.shape == (2, 2)
    with pytest.raises(InvalidPayload, match="row 1 has 1 values but row 0 has 2"):
        cast_table(None, [[1, 2], [1]], None)


def test_tensor_signatures_check_shape_and_element_type() -> None:
    """An ndarray model gets an ndarray of its dtype and shape; wrong widths, shapes or element types are 400s."""
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    schema = infer_schema(X)
    assert schema is not None and schema.kind == "tensor"
    arr = cast_table(None, [[1, 2, 3.5]], schema).data
    assert isinstance(arr, np.ndarray) and arr.dtype == np.float32 and arr.shape == (1, 3)
    with pytest.raises(InvalidPayload, match="row 1 has 2 values"):
        cast_table(None, [[1, 2, 3], [1, 2]], schema)
    with pytest.raises(InvalidPayload, match="column '1' row 0"):
        cast_table(None, [[1, "2", 3]], schema)
    cube = infer_schema(np.zeros((2, 2, 3), dtype=np.int16))
    assert cube is not None
    got = cast_table(None, [[[1, 2, 3], [4, 5, 6]]], cube).data
    assert got.dtype == np.int16 and got.shape == (1, 2, 3)
    with pytest.raises(InvalidPayload, match="shape"):
        cast_table(None, [[[1, 2], [4, 5]]], cube)
    with pytest.raises(InvalidPayload, match="row 0 element 4"):
        cast_table(None, [[[1, 2, 3], [4, 5.5, 6]]], cube)
    with pytest.raises(InvalidPayload, match="row 0 element 0.*out of range"):
        cast_table(None, [[[10**6, 2, 3], [4, 5, 6]]], cube)


def test_signature_follows_the_models_feature_names() -> None:
    """feature_names_in_ picks and orders the columns a model consumes; a width-only model takes a matching tensor."""
    df = pd.DataFrame(
        {
            "label": [0, 1, 0, 1],
            "b": [1.0, 2.0, 3.0, 4.0],
            "a": pd.array([1, None, 3, 4], dtype="Int64"),
        }
    )
    model = LogisticRegression().fit(df[["b"]].assign(a=df["a"].fillna(0)), df["label"])
    schema = model_signature(model, [df])
    assert schema is not None and [(c.name, c.type) for c in schema.columns] == [
        ("b", "float64"),
        ("a", "Int64"),
    ]
    arr = np.ones((4, 2))
    width_only = LogisticRegression().fit(arr, [0, 1, 0, 1])
    assert model_signature(width_only, [df, arr]) == infer_schema(arr)
    assert model_signature(width_only, [df]) is None


def test_train_decorator_takes_signature_and_input_example() -> None:
    """@opskit.train(signature=...) and (input_example=...) are stored as stated; both at once is refused."""
    df = pd.DataFrame({"x": [1.0, np.nan, 3.0], "y": [0, 1, 0]})

    @opskit.train(model="stated", input_example=df[["x"]].head(1))
    def fit(data: pd.DataFrame) -> LogisticRegression:
        return LogisticRegression().fit(data[["x"]].fillna(0), data["y"])

    version = fit(df).__class__ and opskit.models.get_version("stated")
    assert version.signature is not None
    assert [(c.name, c.type, c.missing) for c in version.signature.columns] == [
        ("x", "float64", None)
    ]
    with pytest.raises(opskit.InvalidValue, match="either"):
        opskit.train(signature=df, input_example=df)
    with pytest.raises(opskit.InvalidValue, match="cannot infer"):
        opskit.train(signature=object())


def test_register_a_fitted_model() -> None:
    """opskit.models.register stores a fitted model with the stated signature and alias, without a run."""
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
    model = LogisticRegression().fit(df, [0, 1, 0, 1])
    version = opskit.models.register(model, name="fitted", signature=df, alias="production")
    assert version.ref == "fitted:1" and version.run_id is None and "production" in version.aliases
    stored = opskit.models.get_version("fitted@production")
    assert stored.signature == infer_schema(df)
    bare = opskit.models.register(model, name="fitted")
    assert bare.signature is not None and bare.signature.names == ["x"]
    with pytest.raises(opskit.InvalidName):
        opskit.models.register(model, name="bad name")


def test_request_body_is_exact_and_takes_arrays_series_and_records() -> None:
    """Deployment.predict's body keeps every float digit and full timestamps; NaN is null; arrays go as inputs."""
    frame = pd.DataFrame(
        {
            "f": [0.1234567890123456, np.nan],
            "t": pd.to_datetime(["2024-01-01T00:00:00.123456789", None]),
        }
    )
    body = json.loads(json.dumps(request_body(frame)))
    assert body["dataframe_split"]["data"] == [
        [0.1234567890123456, "2024-01-01T00:00:00.123456789"],
        [None, None],
    ]
    assert request_body(np.array([[0.1234567890123456, 2.0]])) == {
        "inputs": [[0.1234567890123456, 2.0]]
    }
    assert request_body(pd.Series([1.5, 2.5], name="x")) == {
        "dataframe_split": {"columns": ["x"], "data": [[1.5], [2.5]]}
    }
    assert request_body({"a": np.int64(3)}) == {"dataframe_records": [{"a": 3}]}
    with pytest.raises(opskit.DeploymentError, match="cannot send"):
        request_body(object())


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=8),
        st.lists(st.integers(), max_size=2),
    ),
    st.sampled_from(FAMILIES),
    st.booleans(),
)
def test_any_value_for_any_dtype_is_cast_or_refused_with_invalid_payload(
    value: Any, family: str, missing: bool
) -> None:
    """No value makes casting raise anything but InvalidPayload naming the column."""
    spec = ColumnSpec(
        "x", family, missing=missing, categories=("a", "b") if family == "category" else None
    )
    error: InvalidPayload | None = None
    try:
        cast_table(("x",), [[value]], Schema((spec,)))
    except InvalidPayload as exc:
        error = exc
    assert error is None or (error.field == "x" and "column 'x' row 0" in str(error))


@pytest.mark.parametrize(
    "family",
    ["Int64", "UInt8", "boolean", "string", "category", "datetime64[ns]", "datetime64[ns, UTC]"],
)
@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_nan_is_a_missing_value_wherever_the_column_can_hold_one(family: str, fmt: str) -> None:
    """NaN (JSON NaN; CSV `NaN` outside text columns) reads as missing where training had missing values, else a 400."""
    categories = ("a",) if family == "category" else None
    row: list[list[Any]] = [[float("nan")]] if fmt == "json" else [["NaN"]]
    with_missing = Schema((ColumnSpec("x", family, missing=True, categories=categories),))
    without = Schema((ColumnSpec("x", family, missing=False, categories=categories),))
    if fmt == "csv" and family == "string":  # the text NaN is a string like any other
        assert cast_table(("x",), row, without, text=True).data["x"][0] == "NaN"
        return
    if fmt == "csv" and family == "category":  # the text NaN is not one of the categories
        with pytest.raises(InvalidPayload, match="column 'x' row 0: .*categories"):
            cast_table(("x",), row, with_missing, text=True)
        return
    assert pd.isna(cast_table(("x",), row, with_missing, text=fmt == "csv").data["x"][0])
    with pytest.raises(InvalidPayload, match="column 'x' row 0: .*missing"):
        cast_table(("x",), row, without, text=fmt == "csv")
