"""Drift reports: the self-contained HTML file in headless Chromium, the notebook view, JSON and Markdown."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opskit
from browser import opened
from opskit.errors import InvalidValue
from opskit.monitor import DriftReport
from opskit.monitor.detect import PLOT_BINS, PLOT_CATEGORIES, _distribution
from opskit.monitor.stats import CategoricalData, NumericData

pytestmark = pytest.mark.filterwarnings("ignore:ks_2samp:RuntimeWarning")


def frames(n: int = 4_000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current data: one shifted numeric column, one stable, one categorical with a new mix."""
    rng = np.random.default_rng(0)
    ref = pd.DataFrame(
        {
            "alcohol": rng.normal(10.4, 1.1, n),
            "acidity": rng.lognormal(2.0, 0.2, n),
            "colour": rng.choice(["red", "white", "rose"], n, p=[0.5, 0.4, 0.1]),
        }
    )
    cur = pd.DataFrame(
        {
            "alcohol": rng.normal(11.4, 1.1, n),
            "acidity": rng.lognormal(2.0, 0.2, n),
            "colour": rng.choice(["red", "white", "rose"], n, p=[0.2, 0.4, 0.4]),
            "prediction": rng.random(n),
        }
    )
    return ref, cur


@pytest.fixture
def report() -> DriftReport:
    """A report computed from a stored-style profile (the plots come from its sketch, not raw data)."""
    ref, cur = frames()
    prof = opskit.monitor.ReferenceProfile.from_json(opskit.monitor.profile(ref).to_json())
    return opskit.monitor.drift(reference=prof, current=cur)


def test_html_report_renders_offline_in_headless_chromium(
    report: DriftReport, tmp_path: Path
) -> None:
    """The HTML file loads in Chromium with no console error, no request leaving file://, a drawn plot per column."""
    path = report.to_html(tmp_path / "drift.html")
    text = path.read_text(encoding="utf-8")
    assert "<script src" not in text and "<link" not in text  # everything inline
    with opened(path, width=900) as visit:
        page = visit.page
        n = len(report.columns)
        page.wait_for_function(
            f"document.querySelectorAll('.plot .main-svg').length >= {n}", timeout=30_000
        )
        for i, name in enumerate(report.columns):
            bars = page.locator(f"#plot-{i} .barlayer .point path").count()
            assert bars >= 2, f"column {name!r}: no bars drawn"
            box = page.locator(f"#plot-{i} .main-svg").first.bounding_box()
            assert box is not None and box["width"] > 100 and box["height"] > 100
        assert page.locator("section.column").count() == n
        assert "DRIFTED" in page.locator(".status").inner_text()
        shot = tmp_path / "drift-report.png"
        page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot of the drift report: {shot}")
    assert shot.stat().st_size > 10_000
    assert visit.console == []
    assert visit.leaving() == [] and visit.requests, visit.requests


def test_report_json_carries_the_plotted_distributions(report: DriftReport) -> None:
    """to_dict() is plain JSON with each column's reference/current shares (they sum to 1) and the statistic."""
    plain = report.to_dict()
    assert json.loads(json.dumps(plain, allow_nan=False)) == plain
    alcohol = plain["columns"]["alcohol"]
    dist = alcohol["distribution"]
    assert dist["kind"] == "numeric" and len(dist["edges"]) == len(dist["reference"]) + 1
    assert sum(dist["reference"]) == pytest.approx(1.0) and sum(dist["current"]) == pytest.approx(
        1.0
    )
    # The shift is visible: the current mass sits to the right of the reference mass.
    centres = [(a + b) / 2 for a, b in zip(dist["edges"][:-1], dist["edges"][1:], strict=True)]
    mean_ref = sum(c * s for c, s in zip(centres, dist["reference"], strict=True))
    mean_cur = sum(c * s for c, s in zip(centres, dist["current"], strict=True))
    assert mean_cur - mean_ref == pytest.approx(1.0, abs=0.15)
    colour = plain["columns"]["colour"]["distribution"]
    assert colour["kind"] == "categorical" and set(colour["labels"]) == {"red", "white", "rose"}
    shares = dict(zip(colour["labels"], colour["current"], strict=True))
    assert shares["rose"] == pytest.approx(0.4, abs=0.03)


def test_many_categories_are_summed_into_one_plot_bar() -> None:
    """A categorical column with more than 20 values plots the 20 most frequent and one '(other: N values)' bar."""
    rng = np.random.default_rng(1)
    values = [f"v{i}" for i in range(50)]
    ref = pd.DataFrame({"c": rng.choice(values, 5_000)})
    dist = opskit.monitor.drift(ref, ref).columns["c"].distribution
    assert dist is not None and len(dist.labels) == 21 and dist.labels[-1] == "(other: 30 values)"
    assert sum(dist.reference) == pytest.approx(1.0)


def test_markdown_and_notebook_views(report: DriftReport) -> None:
    """to_markdown() is a table row per column with the verdict; _repr_html_ is a light table without script."""
    md = report.to_markdown()
    lines = md.splitlines()
    assert lines[0].startswith("**Drift: DRIFTED")
    assert lines[2] == "| column | kind | method | statistic | p-value | threshold | result |"
    rows = [line for line in lines if line.startswith("| alcohol")]
    assert len(rows) == 1 and rows[0].endswith("| **DRIFT** |")
    assert "Not compared (not in the reference): prediction" in md
    view = report._repr_html_()
    assert "<script" not in view and "<table>" in view and "alcohol" in view
    assert len(view) < 20_000


def test_to_html_into_a_missing_folder_is_a_clear_error(
    report: DriftReport, tmp_path: Path
) -> None:
    """to_html() into a folder that does not exist raises InvalidValue naming it and writes nothing."""
    target = tmp_path / "nope" / "drift.html"
    with pytest.raises(InvalidValue, match="nope"):
        report.to_html(target)
    assert not target.parent.exists()


finite = st.lists(
    st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.integers(-3, 3).map(float)),
    min_size=1,
    max_size=80,
)


@settings(max_examples=200, deadline=None)
@given(finite, finite)
def test_numeric_plot_shares_count_the_values_in_each_bin(
    ref: list[float], cur: list[float]
) -> None:
    """Each plotted share is the exact share of values in its right-closed bin (outer bins open-ended); shares sum to 1."""
    dist = _distribution(NumericData.from_values(ref), NumericData.from_values(cur))
    edges = dist.edges
    assert len(edges) == PLOT_BINS + 1 and all(a < b for a, b in itertools.pairwise(edges))
    for values, shares in ((ref, dist.reference), (cur, dist.current)):
        expected = [0] * PLOT_BINS
        for v in values:
            i = next((k for k in range(PLOT_BINS - 1) if v <= edges[k + 1]), PLOT_BINS - 1)
            expected[i] += 1
        assert shares == pytest.approx([c / len(values) for c in expected], abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.text(min_size=1, max_size=3), st.integers(1, 50), min_size=1, max_size=40),
    st.dictionaries(st.text(min_size=1, max_size=3), st.integers(1, 50), min_size=1, max_size=40),
)
def test_categorical_plot_shares_are_the_category_shares(
    ref: dict[str, int], cur: dict[str, int]
) -> None:
    """Categories are plotted with their exact shares, the 20 most frequent then one bar for the rest; shares sum to 1."""
    dist = _distribution(CategoricalData(ref), CategoricalData(cur))
    shown = dist.labels[:PLOT_CATEGORIES]
    for counts, shares in ((ref, dist.reference), (cur, dist.current)):
        total = sum(counts.values())
        for label, share in zip(shown, shares, strict=False):
            assert share == pytest.approx(counts.get(label, 0) / total)
        assert sum(shares) == pytest.approx(1.0)
    assert len(dist.labels) == min(len(set(ref) | set(cur)), PLOT_CATEGORIES + 1)


@pytest.mark.parametrize(
    ("ref", "cur"), [([0.0], [5e-324]), ([1.0], [1.0]), ([1e6], [1e6 + 1e-9]), ([-0.0], [0.0])]
)
def test_numeric_plot_of_a_range_too_narrow_for_its_bins_still_has_widths(
    ref: list[float], cur: list[float]
) -> None:
    """Values that are equal or closer than the bins can split (0 and 5e-324): strictly increasing edges, every value counted."""
    dist = _distribution(NumericData.from_values(ref), NumericData.from_values(cur))
    assert all(a < b for a, b in itertools.pairwise(dist.edges))
    assert sum(dist.reference) == pytest.approx(1.0) and sum(dist.current) == pytest.approx(1.0)
