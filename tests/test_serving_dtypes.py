"""A served model sees exactly the dtypes it was trained on: real deployments over real HTTP."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import httpx
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import opskit
from opskit.deployments.target import request_body

# The feature function below is shipped to the server process by value, not by module name.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

ENV_VARS = (
    "OPSKIT_TRACKER",
    "OPSKIT_STORAGE",
    "OPSKIT_EXPERIMENT",
    "OPSKIT_LOAD_PLUGINS",
    "OPSKIT_DISABLE_PLUGINS",
)


def timely_features(X: pd.DataFrame) -> np.ndarray:
    """Features only right when every column has its training dtype (raises for year 1900 as a model error)."""
    if (X["when"].dt.year == 1900).any():
        raise ValueError("no predictions for 1900")
    return np.column_stack(
        [
            X["when"].dt.day + X["when"].dt.hour / 24,
            X["wz"].dt.tz_convert("UTC").dt.hour,
            X["color"].cat.codes,
            X["name"].str.len().fillna(-1),
            X["f"].fillna(-5.0),
            X["n"].astype("float64").fillna(-7.0),
        ]
    )


def timely_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 40
    return pd.DataFrame(
        {
            "when": pd.to_datetime("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 10**6, n), unit="min"),
            "wz": (
                pd.to_datetime("2024-03-01")
                + pd.to_timedelta(rng.integers(0, 10**5, n), unit="min")
            ).tz_localize("Europe/Berlin"),
            "color": pd.Categorical(
                rng.choice(["red", "green", "blue"], n), categories=["red", "green", "blue"]
            ),
            "name": pd.array(
                [None if i % 7 == 0 else "x" * (i % 5) for i in range(n)], dtype="string"
            ),
            "f": [np.nan if i % 6 == 0 else float(i) / 3 for i in range(n)],
            "n": pd.array([None if i % 5 == 0 else i for i in range(n)], dtype="Int64"),
        }
    )


class Store:
    """The store and the three deployments of this module."""

    def __init__(
        self,
        home: Path,
        deps: dict[str, opskit.Deployment],
        models: dict[str, Any],
        frames: dict[str, pd.DataFrame],
    ) -> None:
        self.home, self.deps, self.models, self.frames = home, deps, models, frames

    def url(self, name: str) -> str:
        url = self.deps[name].url
        assert url is not None
        return url


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """nullable (registered with models.register), timely (dates, categories, strings, NaN) and plain floats."""
    home = tmp_path_factory.mktemp("dtypes") / ".opskit"
    with pytest.MonkeyPatch.context() as mp:
        for var in ENV_VARS:
            mp.delenv(var, raising=False)
        mp.setenv("OPSKIT_HOME", str(home))
        opskit.reset_defaults()
        # 1. nullable integers and booleans with missing values, a model fitted outside opskit
        X = pd.DataFrame(
            {
                "age": pd.array([30, None, 41, 25], dtype="Int64"),
                "member": pd.array([True, None, False, True], dtype="boolean"),
            }
        )
        nullable = make_pipeline(SimpleImputer(), LogisticRegression()).fit(X, [0, 1, 0, 1])
        opskit.models.register(nullable, name="nullable", signature=X, alias="production")
        # 2. a model reading .dt and .cat: right only with the training dtypes
        T = timely_frame()
        timely = make_pipeline(FunctionTransformer(timely_features), LinearRegression()).fit(
            T, np.arange(len(T), dtype=float)
        )
        opskit.models.register(timely, name="timely", signature=T)
        # 3. floats without NaN, trained by a function whose frame also holds the target
        rng = np.random.default_rng(1)
        F = pd.DataFrame(rng.normal(size=(50, 3)) * 1000, columns=["a", "b", "c"])
        F["label"] = F["a"] * 3.3 - F["b"] * 1.7 + rng.normal(size=50)

        @opskit.train(model="floats")
        def train(df: pd.DataFrame, target: str = "label") -> LinearRegression:
            return LinearRegression().fit(df.drop(columns=[target]), df[target])

        floats = train(F)
        deps = {}
        try:
            for name in ("nullable", "timely", "floats"):
                deps[name] = opskit.deploy(name, name=f"dt-{name}", workers=1, max_wait_ms=0)
            yield Store(
                home,
                deps,
                {"nullable": nullable, "timely": timely, "floats": floats},
                {"nullable": X, "timely": T, "floats": F.drop(columns=["label"])},
            )
        finally:
            for dep in deps.values():
                opskit.deployments.stop(dep.name)
            opskit.reset_defaults()


@pytest.fixture
def s(store: Store, monkeypatch: pytest.MonkeyPatch) -> Store:
    """The module's store, selected for this test."""
    monkeypatch.setenv("OPSKIT_HOME", str(store.home))
    opskit.reset_defaults()
    return store


def post(url: str, body: Any, **kw: Any) -> httpx.Response:
    return httpx.post(f"{url}/invocations", json=body, timeout=30, **kw)


def test_null_in_a_nullable_column_trained_with_missing_values_is_served(s: Store) -> None:
    """null in Int64/boolean columns that had missing values in training gives 200 and the local prediction."""
    response = post(
        s.url("nullable"),
        {"dataframe_records": [{"age": None, "member": True}, {"age": 33, "member": None}]},
    )
    assert response.status_code == 200, response.text
    local = pd.DataFrame(
        {
            "age": pd.array([None, 33], dtype="Int64"),
            "member": pd.array([True, None], dtype="boolean"),
        }
    )
    assert response.json()["predictions"] == s.models["nullable"].predict(local).tolist()


def test_datetimes_categories_and_strings_reach_the_model_with_training_dtypes(s: Store) -> None:
    """A model reading .dt and .cat gets datetime64 and category, in every payload format: served == local."""
    frame = s.frames["timely"].iloc[:12]
    expected = s.models["timely"].predict(frame).tolist()
    split = json.loads(
        frame.to_json(orient="split", index=False, date_format="iso")
    )  # what pandas clients send
    epoch_ms = [  # and what they sent before pandas 3: datetimes as epoch milliseconds
        {**r, "when": int(w.timestamp() * 1000), "wz": int(z.timestamp() * 1000)}
        for r, w, z in zip(_records(frame), frame["when"], frame["wz"], strict=True)
    ]
    bodies = [
        request_body(frame),
        {"dataframe_split": split},
        {"dataframe_records": epoch_ms},
        {"dataframe_records": _records(frame)},
        {
            "inputs": {
                c: [r[i] for r in request_body(frame)["dataframe_split"]["data"]]
                for i, c in enumerate(frame.columns)
            }
        },
    ]
    for body in bodies:
        response = post(s.url("timely"), body)
        assert response.status_code == 200, response.text
        assert response.json()["predictions"] == pytest.approx(expected, rel=1e-12, abs=1e-9)
    assert s.deps["timely"].predict(frame) == expected


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    split = request_body(frame)["dataframe_split"]
    return [dict(zip(split["columns"], row, strict=True)) for row in split["data"]]


def test_nan_is_valid_only_where_training_had_it(s: Store) -> None:
    """null/NaN are accepted in a float column trained with NaN; null, NaN, Infinity and 1e400 are a 400 otherwise."""
    row = _records(s.frames["timely"].iloc[:1])[0]
    for value in ("null", "NaN"):
        body = json.dumps({"dataframe_records": [{**row, "f": "@"}]}).replace('"@"', value)
        response = httpx.post(
            f"{s.url('timely')}/invocations",
            content=body,
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 200, response.text
    for value in ("Infinity", "1e400", "-Infinity"):
        body = json.dumps({"dataframe_records": [{**row, "f": "@"}]}).replace('"@"', value)
        response = httpx.post(
            f"{s.url('timely')}/invocations",
            content=body,
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 400, response.text
        assert response.json()["field"] == "f" and "row 0" in response.json()["message"]
    good = {"a": 1.0, "b": 2.0, "c": 3.0}
    for value in ("null", "NaN", "Infinity", "-Infinity", "1e400"):
        body = json.dumps({"dataframe_records": [good, {**good, "b": "@"}]}).replace('"@"', value)
        response = httpx.post(
            f"{s.url('floats')}/invocations",
            content=body,
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 400, (value, response.text)
        message = response.json()["message"]
        assert response.json()["field"] == "b" and "column 'b' row 1" in message, message


def test_values_that_cannot_be_cast_are_a_400_naming_column_and_row(s: Store) -> None:
    """Unknown categories, unparseable dates, offsets for naive columns, fractions for ints: 400, never 500."""
    rows = _records(s.frames["timely"].iloc[:3])
    cases = [
        ("color", "purple"),
        ("when", "not a date"),
        ("when", "2024-01-01T10:00:00+02:00"),
        ("n", 2.5),
        ("n", True),
        ("name", 12),
        ("wz", [1]),
    ]
    for column, value in cases:
        body = {"dataframe_records": [rows[0], rows[1], {**rows[2], column: value}]}
        response = post(s.url("timely"), body)
        assert response.status_code == 400, (column, value, response.text)
        assert response.json()["field"] == column
        assert f"column {column!r} row 2" in response.json()["message"]
    response = post(s.url("nullable"), {"dataframe_records": [{"age": 2**70, "member": True}]})
    assert response.status_code == 400 and "out of range" in response.json()["message"]


def test_csv_is_accepted_and_other_content_types_get_415(s: Store) -> None:
    """text/csv bodies are scored like JSON; an empty body is a clear 400; other types a 415 naming the accepted ones."""
    frame = s.frames["timely"].iloc[:5]
    csv = pd.DataFrame(_records(frame)).to_csv(index=False)
    response = httpx.post(
        f"{s.url('timely')}/invocations", content=csv, headers={"content-type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == pytest.approx(
        s.models["timely"].predict(frame).tolist(), rel=1e-12
    )
    nullable_csv = "age,member\n,true\n33,\n"
    response = httpx.post(
        f"{s.url('nullable')}/predict",
        content=nullable_csv,
        headers={"content-type": "text/csv; charset=utf-8"},
    )
    assert response.status_code == 200, response.text
    for body in (b"", b"  \n"):
        response = httpx.post(
            f"{s.url('floats')}/invocations",
            content=body,
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 400 and "empty" in response.json()["message"]
    response = httpx.post(
        f"{s.url('floats')}/invocations",
        content=b"a=1",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415 and response.json()["error_code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert (
        "application/json" in response.json()["message"]
        and "text/csv" in response.json()["message"]
    )


def test_deployment_predict_sends_exact_values_and_takes_what_predict_takes(s: Store) -> None:
    """Deployment.predict keeps every float digit and accepts a DataFrame, an ndarray, records and one record."""
    frame = pd.DataFrame(
        {"a": [0.1234567890123456, 1e-300], "b": [123456.78901234567, -2.5e17], "c": [1 / 3, 2 / 3]}
    )
    local = s.models["floats"].predict(frame).tolist()
    dep = s.deps["floats"]
    assert dep.predict(frame) == local
    assert dep.predict(frame.to_numpy()) == local
    assert dep.predict(frame.to_dict(orient="records")) == local
    assert dep.predict(frame.to_dict(orient="records")[1]) == local[1:]


def test_signature_is_what_the_model_consumes(s: Store) -> None:
    """A frame holding the target gives a signature without it; requests without the target are served."""
    version = opskit.models.get_version("floats")
    assert version.signature is not None and version.signature.names == ["a", "b", "c"]
    response = post(s.url("floats"), {"dataframe_records": [{"a": 1.0, "b": 2.0, "c": 3.0}]})
    assert response.status_code == 200, response.text
    nullable = opskit.models.get_version("nullable@production")
    assert nullable.run_id is None
    assert nullable.signature is not None
    assert [(c.name, c.type, c.missing) for c in nullable.signature.columns] == [
        ("age", "Int64", True),
        ("member", "boolean", True),
    ]


def test_a_failing_variant_is_counted_and_named(s: Store) -> None:
    """A model error is a 500 carrying the variant headers and counted as that variant's error in /metrics."""
    row = _records(s.frames["timely"].iloc[:1])[0]
    response = post(
        s.url("timely"), {"dataframe_records": [{**row, "when": "1900-01-02T00:00:00"}]}
    )
    assert response.status_code == 500
    assert response.json()["error_code"] == "MODEL_ERROR" and "1900" in response.json()["message"]
    assert response.headers["x-opskit-variant"] == "timely"
    assert response.headers["x-opskit-version"] == "timely:1"
    text = httpx.get(f"{s.url('timely')}/metrics").text
    errors = [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "opskit_variant_requests_total"
        and sample.labels == {"variant": "timely", "role": "primary", "outcome": "error"}
    ]
    assert errors and errors[0] >= 1


ROWS = st.integers(0, len(timely_frame()) - 1)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(ROWS, min_size=1, max_size=6),
    st.sampled_from(["split", "records", "columns", "csv", "deployment"]),
)
def test_served_predictions_equal_local_ones_in_every_format(
    s: Store, rows: list[int], fmt: str
) -> None:
    """Any rows of the timely frame (with missing values), in any payload format, predict as the local model does."""
    frame = s.frames["timely"].iloc[rows].reset_index(drop=True)
    expected = s.models["timely"].predict(frame).tolist()
    if fmt == "deployment":
        assert s.deps["timely"].predict(frame) == expected
        return
    records = _records(frame)
    if fmt == "csv":  # an empty CSV field is a missing value (as in pandas.read_csv and MLflow)
        expected = (
            s.models["timely"].predict(frame.assign(name=frame["name"].replace("", pd.NA))).tolist()
        )
        response = httpx.post(
            f"{s.url('timely')}/invocations",
            content=pd.DataFrame(records).to_csv(index=False),
            headers={"content-type": "text/csv"},
        )
    elif fmt == "records":
        response = post(s.url("timely"), {"dataframe_records": records})
    elif fmt == "columns":
        response = post(
            s.url("timely"), {"inputs": {c: [r[c] for r in records] for c in frame.columns}}
        )
    else:
        response = post(s.url("timely"), request_body(frame))
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == pytest.approx(expected, rel=1e-12, abs=1e-9)


VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**31), 2**70),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(["red", "2024-05-01T10:00:00", "2024-05-01T10:00:00+02:00", "NaN", ""]),
    st.lists(st.integers(), max_size=2),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.fixed_dictionaries(dict.fromkeys(("when", "wz", "color", "name", "f", "n"), VALUES)),
    st.sampled_from(["json", "csv"]),
)
def test_any_values_in_any_column_get_200_or_a_400_never_a_500(
    s: Store, row: dict[str, Any], fmt: str
) -> None:
    """Whatever value each column gets, the server answers 200 or a 400 naming a column, never a model error."""
    if fmt == "csv":
        flat = {k: json.dumps(v) if isinstance(v, list) else v for k, v in row.items()}
        response = httpx.post(
            f"{s.url('timely')}/invocations",
            content=pd.DataFrame([flat]).to_csv(index=False),
            headers={"content-type": "text/csv"},
            timeout=30,
        )
    else:
        response = httpx.post(
            f"{s.url('timely')}/invocations",
            content=json.dumps({"dataframe_records": [row]}),
            headers={"content-type": "application/json"},
            timeout=30,
        )
    assert response.status_code in {200, 400}, response.text
    if response.status_code == 400 and not (
        fmt == "csv" and response.json()["message"].startswith("CSV record")
    ):
        assert (
            response.json()["field"] in row
        )  # else: a value with a bare line break split the CSV row
