"""The records of ``opskit.reproduce``: environment differences and the metric rule (pure, no store)."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opskit.data.reproduce import environment_diff
from opskit.records import EnvInfo
from opskit.records.reproduction import (
    EnvironmentDiff,
    MetricComparison,
    Reproduction,
    metrics_match,
)

names = st.text("abcdefgh-", min_size=1, max_size=6)
versions = st.sampled_from(["1.0", "1.1", "2.0.post1"])


@given(st.dictionaries(names, versions), st.dictionaries(names, versions))
def test_package_differences_partition_the_two_environments(
    old: dict[str, str], new: dict[str, str]
) -> None:
    """Added, removed and changed packages are exactly the differences between the two package maps."""
    diff = environment_diff(
        EnvInfo("3.11.1", "cpython", "Linux", old), EnvInfo("3.12.0", "cpython", "Linux", new)
    )
    if not old:  # nothing captured then: no package can be said to differ
        assert not diff.packages_known and not (diff.added or diff.removed or diff.changed)
        return
    assert dict(diff.added) == {k: v for k, v in new.items() if k not in old}
    assert dict(diff.removed) == {k: v for k, v in old.items() if k not in new}
    assert dict(diff.changed) == {k: (old[k], new[k]) for k in old if k in new and old[k] != new[k]}
    assert diff.python == ("3.11.1", "3.12.0") and diff.implementation is None
    assert not diff.same
    json.dumps(diff.to_dict())


def test_environment_report_lines_name_every_difference() -> None:
    """The summary printed before running names the Python change and each package added/removed/changed."""
    diff = environment_diff(
        EnvInfo("3.11.1", "cpython", "Linux-a", {"numpy": "1.26", "pandas": "2.2", "old": "1"}),
        EnvInfo("3.11.1", "cpython", "Linux-b", {"numpy": "2.1", "pandas": "2.2", "new": "3"}),
    )
    assert diff.lines() == [
        "platform: Linux-a -> Linux-b",
        "changed: numpy 1.26 -> 2.1",
        "added:   new 3",
        "removed: old 1",
    ]
    same = environment_diff(
        EnvInfo("3.11.1", "cpython", "L", {"a": "1"}), EnvInfo("3.11.1", "cpython", "L", {"a": "1"})
    )
    assert same.same and same.summary() == "environment: the same as the original run's"
    assert environment_diff(None, EnvInfo("3", "cpython", "L")).packages_known is False


@given(st.floats(allow_nan=True), st.floats(allow_nan=True))
def test_metric_rule_is_isclose_with_nan_matching_nan(a: float, b: float) -> None:
    """A metric matches when math.isclose within the tolerance; NaN matches only NaN; a missing value never matches."""
    expected = (
        (math.isnan(a) and math.isnan(b))
        if math.isnan(a) or math.isnan(b)
        else math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    )
    assert metrics_match(a, b, 1e-9) is expected
    assert metrics_match(a, None, 1e-9) is False and metrics_match(None, b, 1e-9) is False


def test_matched_needs_every_metric_and_the_same_model_bytes() -> None:
    """matched: all metrics match and identical model digests; no model (a @track run) leaves only the metrics."""
    same = EnvironmentDiff()
    ok = MetricComparison("acc", 0.9, 0.9, True)
    bad = MetricComparison("loss", 0.1, 0.2, False)
    base = {"original_run_id": "a" * 32, "run_id": "b" * 32, "environment": same}
    assert Reproduction(**base, metrics=[ok]).matched  # no model: metrics decide
    assert Reproduction(**base, metrics=[ok]).model_identical is None
    assert not Reproduction(**base, metrics=[ok, bad]).matched
    digest = "sha256:" + "0" * 64
    other = "sha256:" + "1" * 64
    assert Reproduction(
        **base, metrics=[ok], original_model_digest=digest, new_model_digest=digest
    ).matched
    differs = Reproduction(
        **base,
        metrics=[ok],
        original_model="m:1",
        new_model="m:2",
        original_model_digest=digest,
        new_model_digest=other,
    )
    assert differs.model_identical is False and not differs.matched
    assert "DIFFERENT bytes" in differs.summary() and "different bytes" in differs._repr_html_()
    assert json.loads(json.dumps(differs.to_dict()))["model"]["identical"] is False


@pytest.mark.parametrize("bad", [-1e-9, float("nan"), float("inf"), "0.1", True, None])
def test_a_bad_tolerance_is_refused_before_anything_is_loaded(bad: object) -> None:
    """reproduce(tolerance=...) must be a finite number >= 0: InvalidValue naming it, before the run is even looked up."""
    import opskit

    with pytest.raises(opskit.InvalidValue, match="tolerance must be a finite number"):
        opskit.reproduce("0" * 32, tolerance=bad)  # type: ignore[arg-type]
