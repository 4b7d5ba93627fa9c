"""Model cards: ``opskit.models.card(ref)`` gathers what opskit knows; Markdown, one offline HTML page, the CLI."""

from __future__ import annotations

import html.parser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, ClassifierMixin

import opskit
from browser import opened
from opskit import gates
from opskit.cli.main import main
from opskit.records.card import ModelCard
from opskit.records.registry import ModelVersion

pytestmark = pytest.mark.trackers("local", "mlflow")

#: Debian's chromium (the noxfile installs it); Playwright never downloads a browser here.


class Threshold(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Predicts 1 when score > 0: its selection rate per group is known by construction."""

    classes_ = np.array([0, 1])

    def fit(self, X: pd.DataFrame, y: Any) -> Threshold:
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (X["score"].to_numpy() > 0).astype(int)


def fairness_data() -> tuple[pd.DataFrame, pd.Series]:
    """Group A: 80 of 100 selected; group B: 30 of 100; half of each group positive."""
    score = np.r_[np.ones(80), -np.ones(20), np.ones(30), -np.ones(70)]
    sex = np.r_[["A"] * 100, ["B"] * 100]
    label = np.r_[np.ones(50), np.zeros(50), np.ones(50), np.zeros(50)].astype(int)
    return pd.DataFrame({"score": score, "sex": sex}), pd.Series(label, name="label")


CARD = {
    "intended use": "Screen <loan> applications for manual review & triage.",
    "limitations": "Not validated for applicants under 21 | outside the EU.",
}


def _train_fair(card: dict[str, str] | str | None = CARD) -> opskit.ModelVersion:
    """Two versions of `fair`: the second, with a fairness gate, promoted to production."""

    @opskit.train(
        model="fair",
        data="snapshot",
        evaluate=("X_test", "y_test"),
        metrics=["accuracy"],
        gates=[
            gates.fairness("sex", "demographic_parity_difference", at_most=0.6),
            gates.at_least("accuracy", 0.5),
        ],
        card=card,
    )
    def train(X_test: pd.DataFrame, y_test: pd.Series, depth: int = 3) -> Threshold:
        opskit.log_metric("train_rows", float(len(X_test)))
        return Threshold()

    X, y = fairness_data()
    train(X, y, depth=2)
    train(X, y, depth=4)
    opskit.models.set_alias("fair", "staging", 1)
    opskit.models.promote("fair:2", "production", comment="fairness within limits")
    return opskit.models.get_version("fair@production")


def _text(page: str) -> str:
    """The visible text of an HTML page (entities decoded), whitespace collapsed."""
    parts: list[str] = []

    class Text(html.parser.HTMLParser):
        def handle_data(self, data: str) -> None:
            parts.append(data)

    Text().feed(page)
    return " ".join(" ".join(parts).split())


def test_card_holds_what_opskit_knows_about_the_version(tracker: str) -> None:
    """The card of fair@production: version, status, card text, data, params, metrics, validation, fairness, env, history."""
    version = _train_fair()
    card = opskit.models.card("fair@production")
    assert isinstance(card, ModelCard)
    assert card.version.ref == "fair:2" == version.ref and card.ref == "fair@production"
    assert card.version.status == version.status
    assert dict(card.intended_use) == CARD
    assert card.run_id == version.run_id
    assert card.params["depth"] == 4
    assert card.metrics["train_rows"] == 200.0 and "accuracy" in card.metrics
    [data_x, data_y] = sorted(card.inputs, key=lambda d: d.name)
    assert (data_x.name, data_x.shape, data_y.shape) == ("X_test", (200, 2), (200,))
    assert data_x.dataset is not None and data_x.dataset.startswith("fair.X_test:")
    assert data_x.schema is not None and data_x.schema.names == ["score", "sex"]
    assert card.validation is not None and card.validation.status == "passed"
    [fair] = card.fairness
    assert fair.observed == pytest.approx(0.5) and fair.threshold == 0.6
    assert card.env is not None and card.env.python
    actions = [(e.action, e.subject) for e in card.audit]
    assert ("version_registered", "fair:2") in actions
    assert ("alias_set", "fair@production") in actions
    assert [e.reason for e in card.audit if e.subject == "fair@production"] == [
        "fairness within limits"
    ]
    assert [(c.alias, c.version) for c in card.history] == [("staging", 1), ("production", 2)]

    md = card.to_markdown()
    for expected in (
        "# Model card: fair:2",
        "### Intended use",
        "Screen <loan> applications",
        "Not validated for applicants under 21 | outside the EU.",
        "| depth | 4 |",
        "fairness(sex, demographic_parity_difference, at_most=0.6)",
        data_x.dataset,
        "200 × 2",
        "| score | float64 |",
        "- -> v2; fairness within limits",  # the production alias: from nothing to v2, and why
        "registered (candidate)",
        "alias_set",
    ):
        assert expected in md, expected
    page = card.to_html()
    for fetching in ("<script", "<link", "src=", "href=", "url(", "@import"):
        assert fetching not in page, fetching  # nothing the browser would load
    assert "&lt;loan&gt;" in page and "<loan>" not in page
    text = _text(page)
    for expected in (
        "Model card: fair:2",
        "Screen <loan> applications for manual review & triage.",
        "Not validated for applicants under 21 | outside the EU.",
        data_x.dataset,
        "fairness within limits",
        "demographic_parity_difference",
    ):
        assert expected in text, expected
    assert card._repr_html_().startswith("<div class='opskit-model-card'>")
    assert "Model card: fair:2" in card.summary()


def test_the_docstring_is_the_intended_use_without_card(tracker: str) -> None:
    """Without card= the training function's docstring is the card's description; without either it says so."""

    @opskit.train(model="documented")
    def documented(X: pd.DataFrame, y: pd.Series) -> Threshold:
        """Ranks wines by quality.

        Only trained on Portuguese red wines.
        """
        return Threshold()

    @opskit.train(model="silent")
    def silent(X: pd.DataFrame, y: pd.Series) -> Threshold:
        return Threshold()

    X, y = fairness_data()
    documented(X, y)
    silent(X, y)
    card = opskit.models.card("documented")
    assert dict(card.intended_use) == {
        "description": "Ranks wines by quality.\n\nOnly trained on Portuguese red wines."
    }
    assert "Only trained on Portuguese red wines." in card.to_markdown()
    quiet = opskit.models.card("silent:1")
    assert dict(quiet.intended_use) == {}
    assert "Not stated: pass `card=`" in quiet.to_markdown()
    assert "Not stated: pass card=" in _text(quiet.to_html())


def test_a_version_registered_without_a_run_has_a_card(tracker: str) -> None:
    """models.register (no run): the card has the version and its history, and says what is not recorded."""
    version = opskit.models.register(Threshold(), "plain", signature=fairness_data()[0])
    card = opskit.models.card("plain:1")
    assert card.version == version and card.run_id is None
    assert card.params == {} and card.inputs == () and card.validation is None
    md = card.to_markdown()
    assert "_No data inputs recorded._" in md and "score: float64" in md


@pytest.mark.parametrize(
    ("card", "match"),
    [
        (42, "neither text nor a dict"),
        ({"limitations": 3}, "is not text"),
        ({"": "x"}, "is not text"),
        ("x" * 5000, "more than the 4000"),
    ],
)
def test_a_bad_card_option_is_refused_when_decorating(card: Any, match: str) -> None:
    """card= that is not text or {section: text}, or too long for a tag: InvalidValue at decoration, no run."""
    with pytest.raises(opskit.InvalidValue, match=match):
        opskit.train(model="bad", card=card)
    assert opskit.search_runs() == []


def test_unknown_refs_raise_model_not_found(tracker: str) -> None:
    """A card of an unknown model, version or alias is ModelNotFound naming it."""
    _train_fair()
    for ref in ("nope", "fair:9", "fair@canary"):
        with pytest.raises(opskit.ModelNotFound):
            opskit.models.card(ref)


_text_st = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(
    sections=st.dictionaries(_text_st.filter(str.strip), _text_st, max_size=3),
    params=st.dictionaries(_text_st, _text_st, min_size=1, max_size=3),
)
def test_any_text_is_escaped_in_html_and_kept_in_one_markdown_cell(
    sections: dict[str, str], params: dict[str, str]
) -> None:
    """Whatever the card text and params hold, the HTML shows it as text (no markup) and each param stays one table row."""
    version = ModelVersion(name="m", version=1, digest="sha256:0", size_bytes=1, flavor="pickle")
    card = ModelCard(
        ref="m:1", version=version, generated_at=0.0, intended_use=sections, params=params
    )
    page = card.to_html()
    parser_tags: list[str] = []

    class Tags(html.parser.HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            parser_tags.append(tag)

    Tags().feed(page)
    assert "script" not in parser_tags and "img" not in parser_tags and "a" not in parser_tags
    text = _text(page)
    for value in [*sections.values(), *params.keys(), *params.values()]:
        if value.strip():
            assert " ".join(value.split()) in text
    md = card.to_markdown()
    param_table = md.split("## Parameters")[1].split("## Metrics")[0]
    rows = [line for line in param_table.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + len(params)  # the header and one row per param


def test_the_cli_prints_markdown_and_writes_html(
    tracker: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`opskit models card REF` prints Markdown; --format html -o FILE writes the page; bad input exits non-zero."""
    _train_fair()
    assert main(["models", "card", "fair@production"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Model card: fair:2") and "fairness within limits" in out
    target = tmp_path / "card.html"
    assert main(["models", "card", "fair@production", "--format", "html", "-o", str(target)]) == 0
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "wrote the html card of fair:2" in capsys.readouterr().err
    assert main(["models", "card", "fair@canary"]) != 0
    assert "canary" in capsys.readouterr().err
    missing = tmp_path / "no" / "card.md"
    assert main(["models", "card", "fair:1", "-o", str(missing)]) != 0
    assert "does not exist" in capsys.readouterr().err
    assert not missing.parent.exists()


def test_html_card_renders_offline_in_headless_chromium(tracker: str, tmp_path: Path) -> None:
    """The HTML card loads in Chromium with no console error and no request leaving file://; a screenshot is kept."""
    _train_fair()
    path = tmp_path / "card.html"
    path.write_text(opskit.models.card("fair@production").to_html(), encoding="utf-8")
    with opened(path, width=1000) as visit:
        page = visit.page
        assert page.title() == "Model card: fair:2"
        assert page.locator("section").count() == 9
        assert "fairness within limits" in page.locator("#history").inner_text()
        box = page.locator("#fairness table").bounding_box()
        assert box is not None and box["width"] > 300
        shot = tmp_path / f"model-card-{tracker}.png"
        page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot of the model card: {shot}")
    assert shot.stat().st_size > 10_000
    assert visit.console == []
    assert visit.leaving() == []
