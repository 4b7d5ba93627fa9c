"""``opskit.lineage`` / ``opskit lineage``: model version → run → data, code, params, env → deployments; data → runs → versions."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import opskit
from conftest import run_python
from opskit.cli.main import main
from opskit.errors import InvalidFilter, InvalidModelRef, InvalidValue, ModelNotFound
from opskit.query import Clause, parse_filter, parse_order_by
from opskit.records.versioning import Lineage

pytestmark = pytest.mark.trackers("local", "mlflow")


def _frame(shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({"a": [0.1, 0.5, 0.9, 0.3, 0.7, 0.2], "y": [0, 1, 1, 0, 1, 0]}).assign(
        a=lambda d: d.a + shift
    )


@opskit.train(model="churn")
def train(df: pd.DataFrame, *, C: float = 1.0) -> LogisticRegression:
    model = LogisticRegression(C=C).fit(df[["a"]], df["y"])
    opskit.log_metric("acc", float(model.score(df[["a"]], df["y"])))
    return model


@opskit.track
def evaluate(df: pd.DataFrame, *, note: str = "eval") -> None:
    opskit.log_metric("rows", float(len(df)))


def _setup(tmp_path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    first, second = _frame(), _frame(0.05)
    train(first, C=1.0)
    train(second, C=0.5)
    evaluate(first)
    opskit.models.set_alias("churn", "production", 1)
    opskit.deploy("churn@production", target="docker", path=str(tmp_path / "ctx"), name="churn-api")
    return first, second


def _digest_of(version_ref: str) -> str:
    version = opskit.models.get_version(version_ref)
    assert version.run_id is not None
    (data,) = opskit.get_run(version.run_id).inputs
    return data.digest


def test_model_lineage_upstream_and_deployments(tracker: str, tmp_path: Path) -> None:
    """churn@production → its run, data digest, code, params, env; and the deployment serving it."""
    _setup(tmp_path)
    found = opskit.lineage("churn@production")
    assert isinstance(found, Lineage) and found.direction == "model"
    root = found.root
    assert root.kind == "model_version" and root.ref == "churn:1"
    version = opskit.models.get_version("churn:1")
    (run,) = found.nodes("run")
    assert run.ref == version.run_id and run.relation == "produced by"
    (data,) = found.nodes("data")
    assert data.ref == _digest_of("churn:1") and data.details["argument"] == "df"
    (code,) = found.nodes("code")
    assert code.details["source digest"] == opskit.get_run(version.run_id).code.file_digest  # type: ignore[union-attr]
    (params,) = found.nodes("params")
    assert dict(params.details) == {"C": 1.0}
    (env,) = found.nodes("environment")
    assert env.details["packages"] > 0
    (deployment,) = found.nodes("deployment")
    assert deployment.ref == "churn-api" and "churn@production" in deployment.label
    assert not opskit.lineage("churn:2").nodes("deployment")


def test_deployments_follow_the_alias(tracker: str, tmp_path: Path) -> None:
    """A deployment serving churn@production belongs to whichever version the alias points at now."""
    _setup(tmp_path)
    opskit.models.set_alias("churn", "production", 2)
    assert [n.ref for n in opskit.lineage("churn:2").nodes("deployment")] == ["churn-api"]
    assert not opskit.lineage("churn:1").nodes("deployment")


def test_data_lineage_finds_runs_versions_and_deployments(tracker: str, tmp_path: Path) -> None:
    """Data → every run that used the same content (any function), the versions they registered, their deployments."""
    _setup(tmp_path)
    digest = _digest_of("churn:1")
    found = opskit.lineage(data=digest)
    assert found.direction == "data" and found.root.ref == digest
    runs = found.nodes("run")
    v1_run = opskit.models.get_version("churn:1").run_id
    assert len(runs) == 2 and v1_run in {r.ref for r in runs}
    assert {r.details["as"] for r in runs} == {"df"}
    (version,) = found.nodes("model_version")
    assert version.ref == "churn:1" and "@production" in version.label
    (deployment,) = found.nodes("deployment")
    assert deployment.ref == "churn-api"
    other = opskit.lineage(data=_digest_of("churn:2"))
    assert [v.ref for v in other.nodes("model_version")] == ["churn:2"]


def test_data_lineage_limit_says_more_exist(tracker: str, tmp_path: Path) -> None:
    """With limit=1 one run is listed and the record says more used the data."""
    _setup(tmp_path)
    found = opskit.lineage(data=_digest_of("churn:1"), limit=1)
    assert len(found.nodes("run")) == 1 and "more exist" in found.root.details["runs"]


def test_runs_of_another_process_are_found_by_digest(tracker: str, tmp_path: Path) -> None:
    """A run recorded by another process with the same data content shows in this process's data lineage."""
    _setup(tmp_path)
    script = textwrap.dedent(
        """
        import pandas as pd, opskit

        @opskit.track
        def score(frame, *, k=3):
            opskit.log_metric("n", float(len(frame)))

        score(pd.DataFrame({"a": [0.1, 0.5, 0.9, 0.3, 0.7, 0.2], "y": [0, 1, 1, 0, 1, 0]}))
        print(opskit.last_run().id)
        """
    )
    other = run_python(script).stdout.strip().splitlines()[-1]
    found = opskit.lineage(data=_digest_of("churn:1"))
    runs = {r.ref: r for r in found.nodes("run")}
    assert other in runs and runs[other].details["as"] == "frame"


def test_lineage_prints_a_tree_and_renders_html(tracker: str, tmp_path: Path) -> None:
    """str() is an indented tree naming every part; _repr_html_ nests the same nodes; to_dict is JSON."""
    _setup(tmp_path)
    found = opskit.lineage("churn@production")
    text = str(found)
    lines = text.splitlines()
    assert lines[0] == "model version churn:1 @production"
    assert any(
        line.startswith(("├── produced by: run ", "└── produced by: run ")) for line in lines
    )
    for part in (
        "used: data df (fingerprint only)",
        "code train @",
        "params (1)",
        "environment Python",
        "served by: deployment churn-api",
    ):
        assert part in text, part
    html = found._repr_html_()
    assert html.count("<li>") >= 6 and "churn-api" in html
    assert json.loads(json.dumps(found.to_dict()))["root"]["ref"] == "churn:1"


def test_cli_lineage(tracker: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`opskit lineage REF`, `--json` and `--data DIGEST` print the same lineage the API returns."""
    _setup(tmp_path)
    assert main(["lineage", "churn@production"]) == 0
    assert capsys.readouterr().out.strip() == str(opskit.lineage("churn@production"))
    assert main(["lineage", "churn:2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == opskit.lineage("churn:2").to_dict()
    digest = _digest_of("churn:1")
    assert main(["lineage", "--data", digest]) == 0
    assert "registered: model version churn:1" in capsys.readouterr().out
    assert main(["lineage", "nosuchmodel"]) == 2
    assert "nosuchmodel" in capsys.readouterr().err


def test_lineage_refuses_bad_arguments(tracker: str, tmp_path: Path) -> None:
    """Neither or both of ref and data=, a malformed ref, an unknown model or a bad limit: clear errors."""
    _setup(tmp_path)
    with pytest.raises(InvalidValue, match="not both and not neither"):
        opskit.lineage()
    with pytest.raises(InvalidValue, match="not both and not neither"):
        opskit.lineage("churn:1", data="xxh3_128:" + "0" * 32)
    with pytest.raises(InvalidModelRef):
        opskit.lineage("churn:zero")
    with pytest.raises(ModelNotFound):
        opskit.lineage("churn:9")
    with pytest.raises(InvalidValue, match="limit"):
        opskit.lineage(data="xxh3_128:" + "0" * 32, limit=0)
    nothing = opskit.lineage(data="xxh3_128:" + "0" * 32)
    assert not nothing.nodes("run") and nothing.root.details["runs"] == "no run used this content"


def test_dataset_versions_in_both_directions(tracker: str, tmp_path: Path) -> None:
    """A snapshot run links its version to the dataset; data lineage of that version also finds fingerprint-only runs of the same content."""

    @opskit.train(model="snap", data="snapshot", datasets={"df": "customers"})
    def fit(df: pd.DataFrame, *, C: float = 1.0) -> LogisticRegression:
        return LogisticRegression(C=C).fit(df[["a"]], df["y"])

    fit(_frame())
    up = opskit.lineage("snap:1")
    (dataset,) = up.nodes("dataset")
    assert dataset.ref == "customers:1" and dataset.relation == "used"
    assert not up.nodes("data")
    evaluate(_frame())  # fingerprint only, same content
    train(_frame())  # churn:1, fingerprint only, same content
    down = opskit.lineage(data="customers:1")
    assert down.root.kind == "dataset" and down.root.ref == "customers:1"
    assert down.root.details["digest"] == opskit.data.get_dataset_version("customers:1").digest
    assert len(down.nodes("run")) == 3
    assert sorted(v.ref for v in down.nodes("model_version")) == ["churn:1", "snap:1"]
    assert opskit.lineage(data="customers").root.ref == "customers:1"
    opskit.data.set_alias("customers", "prod", 1)
    by_alias = opskit.lineage(data="customers@prod")
    assert by_alias.root.label == "customers:1 @prod" and len(by_alias.nodes("run")) == 3
    with pytest.raises(opskit.DatasetNotFound):
        opskit.lineage(data="customers:7")


@pytest.mark.parametrize(
    ("text", "clause"),
    [
        ("inputs.digest = 'xxh3_128:ab'", Clause("inputs", "digest", "=", "xxh3_128:ab")),
        ("input.name IN ('X', 'y')", Clause("inputs", "name", "IN", ("X", "y"))),
    ],
)
def test_input_filters_parse(text: str, clause: Clause) -> None:
    """inputs.digest and inputs.name parse with = and IN (input. is accepted too)."""
    assert parse_filter(text) == (clause,)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("inputs.digest LIKE 'x%'", "= or IN only"),
        ("inputs.digest != 'x'", "= or IN only"),
        ("inputs.shape = 'x'", "unknown input field 'shape'"),
        ("inputs.digest = 3", "quote the value"),
    ],
)
def test_input_filters_refuse_what_they_cannot_mean(text: str, message: str) -> None:
    """Other operators, unknown input fields and unquoted values are refused, naming the problem."""
    with pytest.raises(InvalidFilter, match=message):
        parse_filter(text)
    with pytest.raises(InvalidFilter, match="cannot be ordered by their inputs"):
        parse_order_by(["inputs.digest"])
