"""The local model server over real HTTP: formats, validation, routing, shadow, metrics, logging, switches."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from sklearn.datasets import load_wine
from sklearn.tree import DecisionTreeClassifier

import opskit
from conftest import run_python
from opskit.cli.main import main as cli

ENV_VARS = (
    "OPSKIT_TRACKER",
    "OPSKIT_STORAGE",
    "OPSKIT_EXPERIMENT",
    "OPSKIT_LOAD_PLUGINS",
    "OPSKIT_DISABLE_PLUGINS",
)


class Served:
    """The store, the A/B deployment and the models behind it."""

    def __init__(
        self, home: Path, dep: opskit.Deployment, X: pd.DataFrame, models: dict[int, Any]
    ) -> None:
        self.home, self.dep, self.X, self.models = home, dep, X, models

    @property
    def url(self) -> str:
        assert self.dep.url is not None
        return self.dep.url

    def expected(self, version: str, frame: pd.DataFrame) -> list[Any]:
        return list(self.models[int(version.split(":")[1])].predict(frame).tolist())


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One store with wine:1 (production) and wine:2 (challenger, candidate), deployed 50/50 with a shadow."""
    home = tmp_path_factory.mktemp("served") / ".opskit"
    with pytest.MonkeyPatch.context() as mp:
        for var in ENV_VARS:
            mp.delenv(var, raising=False)
        mp.setenv("OPSKIT_HOME", str(home))
        opskit.reset_defaults()
        X, y = load_wine(return_X_y=True, as_frame=True)

        @opskit.train(model="wine")
        def fit(X: pd.DataFrame, y: pd.Series, *, depth: int) -> DecisionTreeClassifier:
            return DecisionTreeClassifier(max_depth=depth, random_state=0).fit(X, y)

        models = {1: fit(X, y, depth=1), 2: fit(X, y, depth=4)}
        opskit.models.set_alias("wine", "production", 1)
        opskit.models.set_alias("wine", "challenger", 2)
        opskit.models.set_alias("wine", "candidate", 2)
        dep = opskit.deploy(
            {"wine@production": 0.5, "wine@challenger": 0.5},
            name="ab",
            shadow="wine@candidate",
            poll_interval=0.3,
            max_body_bytes=200_000,
            workers=2,
        )
        try:
            yield Served(home, dep, X, models)
        finally:
            opskit.deployments.stop("ab")
            opskit.reset_defaults()


@pytest.fixture
def ab(served: Served, monkeypatch: pytest.MonkeyPatch) -> Served:
    """The served store, selected for this test."""
    monkeypatch.setenv("OPSKIT_HOME", str(served.home))
    opskit.reset_defaults()
    return served


def metric_samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"{url}/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def test_health_and_metadata(ab: Served) -> None:
    """/health answers ok; /metadata names the ref, version, digest and input schema of each variant."""
    assert httpx.get(f"{ab.url}/health").json()["status"] == "ok"
    meta = httpx.get(f"{ab.url}/metadata").json()
    v1 = opskit.models.get_version("wine:1")
    assert (meta["model_ref"], meta["version"], meta["digest"]) == (
        "wine@production",
        "wine:1",
        v1.digest,
    )
    assert [c["name"] for c in meta["input_schema"]] == list(ab.X.columns)
    assert {c["type"] for c in meta["input_schema"]} == {"float64"}
    assert [v["version"] for v in meta["variants"]] == ["wine:1", "wine:2"]
    assert meta["shadow"]["ref"] == "wine@candidate"


def test_mlflow_payloads_answer_in_mlflow_shape(ab: Served) -> None:
    """Every MLflow scoring format gives {"predictions": [...]} equal to the model's own predictions."""
    frame = ab.X.iloc[[0, 60, 130]]
    records = frame.to_dict(orient="records")
    split = json.loads(frame.to_json(orient="split", index=False))
    bodies = [
        {"dataframe_split": split},
        {"dataframe_records": records},
        {"instances": records},
        {"inputs": {c: frame[c].tolist() for c in frame.columns}},
        {"inputs": frame.to_numpy().tolist()},
    ]
    for body in bodies:
        response = httpx.post(f"{ab.url}/invocations", json=body)
        assert response.status_code == 200, response.text
        assert list(response.json()) == ["predictions"]
        version = response.headers["x-opskit-version"]
        assert response.json()["predictions"] == ab.expected(version, frame)
        assert response.headers["x-opskit-variant"] in {"wine@production", "wine@challenger"}


def test_predict_endpoint_and_deployment_predict(ab: Served) -> None:
    """/predict takes records and says which variant answered; Deployment.predict sends a DataFrame."""
    frame = ab.X.iloc[:5]
    body = httpx.post(f"{ab.url}/predict", json=frame.to_dict(orient="records")).json()
    assert body["predictions"] == ab.expected(body["version"], frame)
    assert body["variant"] in {"wine@production", "wine@challenger"}
    predictions = ab.dep.predict(frame)
    assert predictions in (ab.expected("wine:1", frame), ab.expected("wine:2", frame))


def test_bad_requests_get_4xx_naming_the_field(ab: Served) -> None:
    """Missing/extra columns, wrong types, malformed JSON and oversized bodies → 4xx JSON errors."""
    row = ab.X.iloc[0].to_dict()
    missing = {k: v for k, v in row.items() if k != "proline"}
    cases: list[tuple[Any, int, str | None]] = [
        ({"dataframe_records": [missing]}, 400, "proline"),
        ({"dataframe_records": [{**row, "colour": 1.0}]}, 400, "colour"),
        ({"dataframe_records": [{**row, "hue": "pale"}]}, 400, "hue"),
        ({"dataframe_split": {"columns": ["hue"], "data": [[1.0, 2.0]]}}, 400, "data[0]"),
        ({"dataframe_records": [row], "instances": [row]}, 400, "instances"),
        ([row], 400, None),
    ]
    for body, status, field in cases:
        response = httpx.post(f"{ab.url}/invocations", json=body)
        assert response.status_code == status, response.text
        assert response.json()["error_code"] == "BAD_REQUEST"
        assert response.json().get("field") == field
        if field:
            assert field in response.json()["message"]
    response = httpx.post(
        f"{ab.url}/invocations",
        content=b'{"dataframe_records": [',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400 and "malformed JSON" in response.json()["message"]
    huge = {"dataframe_records": [row] * 2000}
    response = httpx.post(f"{ab.url}/invocations", json=huge)
    assert response.status_code == 413 and "larger than" in response.json()["message"]
    assert httpx.get(f"{ab.url}/health").status_code == 200


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=6),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(["alcohol", "hue", "x", "data", "columns"]), inner, max_size=3
            )
        ),
        max_leaves=10,
    ),
    st.sampled_from(["dataframe_split", "dataframe_records", "instances", "inputs", None]),
)
def test_server_never_fails_on_arbitrary_input(ab: Served, doc: Any, key: str | None) -> None:
    """Any JSON body gets a 200 or a 4xx JSON error, never a 5xx or a hang."""
    body = doc if key is None else {key: doc}
    response = httpx.post(f"{ab.url}/invocations", json=body, timeout=10)
    assert response.status_code in {200, 400}, response.text
    assert "predictions" in response.json() or response.json()["error_code"] == "BAD_REQUEST"


def test_sticky_routing_and_weighted_split(ab: Served) -> None:
    """A routing key always reaches the same variant; without one, both variants answer."""
    row = {"dataframe_records": [ab.X.iloc[0].to_dict()]}
    with httpx.Client() as client:
        for key in ("alice", "bob", "carol"):
            seen = {
                client.post(
                    f"{ab.url}/invocations", json=row, headers={"x-routing-key": key}
                ).headers["x-opskit-variant"]
                for _ in range(10)
            }
            assert len(seen) == 1
        keyed = {
            client.post(
                f"{ab.url}/invocations", json=row, headers={"x-routing-key": f"user-{i}"}
            ).headers["x-opskit-variant"]
            for i in range(60)
        }
        unkeyed = {
            client.post(f"{ab.url}/invocations", json=row).headers["x-opskit-variant"]
            for _ in range(60)
        }
    assert keyed == unkeyed == {"wine@production", "wine@challenger"}


def test_shadow_gets_a_copy_and_metrics_count_variants(ab: Served) -> None:
    """The shadow sees every request but never answers; /metrics counts requests, latency and variants."""
    before = metric_samples(ab.url)
    frame = ab.X.iloc[:2]
    with httpx.Client() as client:
        answered = {
            client.post(f"{ab.url}/predict", json=frame.to_dict(orient="records")).json()["variant"]
            for _ in range(20)
        }
    assert "wine@candidate" not in answered
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        after = metric_samples(ab.url)
        shadow = total(
            after, "opskit_variant_requests_total", role="shadow", variant="wine@candidate"
        ) - total(before, "opskit_variant_requests_total", role="shadow", variant="wine@candidate")
        if shadow >= 20:
            break
        time.sleep(0.1)
    assert shadow == 20
    primary = total(after, "opskit_variant_requests_total", role="primary") - total(
        before, "opskit_variant_requests_total", role="primary"
    )
    assert primary == 20
    assert (
        total(after, "opskit_requests_total", endpoint="predict", status="200")
        - total(before, "opskit_requests_total", endpoint="predict", status="200")
        == 20
    )
    histogram = (
        "opskit_request_latency_seconds"  # a request count per latency bucket, not a timing check
    )
    observed_requests = total(after, f"{histogram}_count", endpoint="predict")
    assert observed_requests >= 20
    assert any(n == f"{histogram}_bucket" for n, _ in after)


def test_predictions_are_logged_in_background_batches(ab: Served) -> None:
    """Inputs and outputs of primary and shadow predictions reach the store, one record per row under the request id."""
    frame = ab.X.iloc[[7, 8]]
    answer = httpx.post(
        f"{ab.url}/predict",
        json=frame.to_dict(orient="records"),
        headers={"x-routing-key": "logged", "x-request-id": "logged-request-1"},
    )
    assert answer.headers["x-request-id"] == "logged-request-1"
    deadline = time.monotonic() + 15
    records = ab.dep.predictions()
    while time.monotonic() < deadline:
        records = ab.dep.predictions()
        if set(records.loc[records.request_id == "logged-request-1", "role"]) >= {"shadow"}:
            break
        time.sleep(0.2)
    mine = records[records.request_id == "logged-request-1"]
    served_role = "primary" if answer.headers["x-opskit-variant"] == "wine@production" else "canary"
    assert set(mine.role) == {served_role, "shadow"}  # 50/50: the first variant is the primary
    for (_variant, version), part in mine.groupby(["variant", "version"]):
        assert list(part.row) == [0, 1]
        assert part[list(ab.X.columns)].values.tolist() == frame.values.tolist()
        assert list(part.prediction) == ab.expected(version, frame)
    assert set(mine.variant) <= {"wine@production", "wine@challenger", "wine@candidate"}
    assert len(records) > len(mine)  # many requests, logged in few batches


def test_concurrent_single_rows_are_micro_batched(ab: Served) -> None:
    """Concurrent single-row requests share predict calls (fewer batches than requests), all answered right."""
    before = metric_samples(ab.url)
    rows = [ab.X.iloc[[i % len(ab.X)]] for i in range(600)]

    async def drive() -> list[tuple[int, str, list[Any]]]:
        sem = asyncio.Semaphore(48)
        async with httpx.AsyncClient(timeout=30) as client:

            async def one(frame: pd.DataFrame) -> tuple[int, str, list[Any]]:
                async with sem:
                    r = await client.post(
                        f"{ab.url}/invocations",
                        json={"dataframe_records": frame.to_dict(orient="records")},
                    )
                    return (
                        r.status_code,
                        r.headers.get("x-opskit-version", ""),
                        r.json().get("predictions"),
                    )

            return await asyncio.wait_for(asyncio.gather(*(one(f) for f in rows)), timeout=60)

    results = asyncio.run(drive())
    assert [s for s, _, _ in results] == [200] * len(rows)
    for frame, (_, version, predictions) in zip(rows, results, strict=True):
        assert predictions == ab.expected(version, frame)
    after = metric_samples(ab.url)
    primary = ("wine@production", "wine@challenger")
    batched_rows = sum(
        total(after, "opskit_batch_rows_sum", variant=v)
        - total(before, "opskit_batch_rows_sum", variant=v)
        for v in primary
    )
    batches = sum(
        total(after, "opskit_batch_rows_count", variant=v)
        - total(before, "opskit_batch_rows_count", variant=v)
        for v in primary
    )
    assert batched_rows == len(rows)
    assert batches < len(rows)


def test_deployments_survive_the_deploying_process(
    ab: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another Python process sees the deployment as running; the CLI lists, shows and prints its logs."""
    out = run_python(
        "import opskit\nd = opskit.deployments.get('ab')\nprint(d.status(), d.url, [x.name for x in opskit.deployments.list()])",
        env={"OPSKIT_HOME": str(ab.home)},
    )
    assert out.stdout.split()[:2] == ["running", ab.url]
    assert cli(["deployments", "list"]) == 0
    listing = capsys.readouterr().out
    assert "ab" in listing and "running" in listing and "wine@challenger" in listing
    assert cli(["deployments", "show", "ab", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["status"], shown["shadow"]) == ("running", "wine@candidate")
    assert cli(["deployments", "logs", "ab"]) == 0
    with pytest.raises(opskit.DeploymentError, match="already running"):
        opskit.deploy("wine@production", name="ab")
    assert cli(["deployments", "show", "nope"]) == 2
    assert "no deployment named 'nope'" in capsys.readouterr().err


def test_alias_moves_switch_without_a_failed_request(
    ab: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    """Moving and rolling back the alias under continuous load: every request succeeds, the new version takes over."""
    argv = [
        "deploy",
        "wine@production",
        "--name",
        "switch",
        "--workers",
        "2",
        "-o",
        "poll_interval=0.3",
        "-o",
        "log_sample=0",
        "--json",
    ]
    assert cli(argv) == 0
    switch = json.loads(capsys.readouterr().out)
    assert (switch["target"], switch["refs"], switch["options"]["poll_interval"]) == (
        "local",
        ["wine@production"],
        0.3,
    )
    url = switch["url"]
    frames = [ab.X.iloc[[i]] for i in range(len(ab.X))]
    bodies = [
        json.dumps({"dataframe_records": f.to_dict(orient="records")}).encode() for f in frames
    ]
    versions: list[str] = []
    failures: list[str] = []
    wrong: list[int] = []

    async def drive() -> list[tuple[int, int]]:
        done = asyncio.Event()
        switched: list[tuple[int, int]] = []
        deadline = time.monotonic() + 90
        async with httpx.AsyncClient(timeout=10) as client:

            async def worker(w: int) -> None:
                i = w
                while (
                    not done.is_set()
                    and len(versions) + len(failures) < 3000
                    and time.monotonic() < deadline
                ):
                    k = i % len(bodies)
                    i += 8
                    try:
                        r = await client.post(
                            f"{url}/invocations",
                            content=bodies[k],
                            headers={"content-type": "application/json"},
                        )
                    except httpx.HTTPError as exc:
                        failures.append(repr(exc))
                        continue
                    if r.status_code != 200:
                        failures.append(f"{r.status_code} {r.text}")
                        continue
                    version = r.headers["x-opskit-version"]
                    versions.append(version)
                    if r.json()["predictions"] != ab.expected(version, frames[k]):
                        wrong.append(k)

            async def controller() -> None:
                for target in (2, 1):  # the move, then the rollback
                    start = len(versions)
                    while len(versions) < start + 100 and time.monotonic() < deadline:
                        await asyncio.sleep(0.01)
                    await asyncio.to_thread(opskit.models.set_alias, "wine", "production", target)
                    moved_at = len(versions)
                    want = f"wine:{target}"
                    while time.monotonic() < deadline and not (
                        len(versions) > moved_at + 200 and set(versions[-200:]) == {want}
                    ):
                        await asyncio.sleep(0.02)
                    switched.append((moved_at, len(versions)))
                done.set()

            await asyncio.gather(controller(), *(worker(w) for w in range(8)))
        return switched

    try:
        switched = asyncio.run(drive())
    finally:
        assert cli(["deployments", "stop", "switch"]) == 0
    assert failures == []
    assert wrong == []
    assert len(switched) == 2
    (move, settled), (rollback, end) = switched
    assert set(versions[:move]) == {"wine:1"}
    assert set(versions[settled - 200 : settled]) == {"wine:2"}
    assert set(versions[end - 200 : end]) == {"wine:1"}
    assert "wine:2" in versions[move:rollback]
    stopped = opskit.deployments.get("switch")
    assert (stopped.status(), stopped.state) == ("stopped", "stopped")
    assert stopped.predictions().empty  # log_sample=0.0: nothing logged
