"""Drift reports with the names users really have (HTML/Markdown specials, unicode, newlines) and where they are written.

The Markdown is rendered with markdown-it (GitHub-flavoured tables) and the HTML opened in
headless Chromium: every name must come out as written, and nothing may break the page.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

import opskit
from browser import opened
from opskit.cli.main import main as cli
from opskit.errors import InvalidDataset, InvalidValue
from opskit.monitor import DriftReport

pytestmark = pytest.mark.filterwarnings("ignore:ks_2samp:RuntimeWarning")

OPSKIT = Path(sys.executable).with_name("opskit")
SPECIAL = [
    "<script>alert(1)</script>",
    "<!--<script>",
    "</script><b>x</b>",
    "a|b",
    "`tick`",
    "**bold**",
    "_under_",
    "~~gone~~",
    "[x](javascript:alert(1))",
    "<img src=x onerror=alert(1)>",
    "&amp; &#65;",
    "back\\slash\\|",
    "ünï©ødé 🚀",
    "line\nbreak",
]


def frames(names: list[str], n: int = 200, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A numeric column per name (shifted in current) and a categorical column with special categories."""
    rng = np.random.default_rng(seed)
    cats = ["<i>a</i>", "b|c", "`d`", "&lt;e"]
    ref = pd.DataFrame({name: rng.normal(size=n) for name in names})
    cur = pd.DataFrame({name: rng.normal(1.0, size=n) for name in names})
    ref["cat <b>"] = rng.choice(cats, n)
    cur["cat <b>"] = rng.choice(cats, n, p=[0.7, 0.1, 0.1, 0.1])
    return ref, cur


class _Cells(HTMLParser):
    """The text of each <td> of an HTML table, and of each <p>."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self.paragraphs: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in {"td", "p"}:
            self._in = tag
            (self.cells if tag == "td" else self.paragraphs).append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "td":
            self.cells[-1] += data
        elif self._in == "p":
            self.paragraphs[-1] += data


def rendered(markdown: str) -> _Cells:
    """The Markdown as GitHub renders tables (markdown-it, commonmark + tables + strikethrough), parsed back."""
    html = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)
    parser = _Cells()
    parser.feed(html)
    return parser


def shown(name: str) -> str:
    """How a name is shown in one table cell: its lines joined by spaces, outer spaces trimmed."""
    return " ".join(name.splitlines()).strip()


def test_markdown_shows_special_names_literally() -> None:
    """Column names, categories and ignored columns with |, newlines, HTML, backticks and ** render as written."""
    ref, cur = frames(SPECIAL)
    cur["pred|<x>"] = 1.0
    report = opskit.monitor.drift(ref, cur)
    md = report.to_markdown()
    table_lines = [line for line in md.splitlines() if line.startswith("| ")]
    assert len(table_lines) == 1 + len(
        report.columns
    )  # header + one line per column: no name broke a row
    out = rendered(md)
    width = 7
    first_cells = out.cells[::width]
    assert first_cells == [shown(name) for name in report.columns]
    assert out.cells[width - 1 :: width] == [
        "DRIFT" if c.drifted else "ok" for c in report.columns.values()
    ]
    assert any(p.endswith("Not compared (not in the reference): pred|<x>") for p in out.paragraphs)


names = st.text(
    st.one_of(
        st.characters(blacklist_categories=("Cs", "Cc")),
        st.sampled_from(list("\\`*_[]()|~<>&#!-+.\n {}")),
    ),
    min_size=1,
    max_size=12,
).filter(lambda s: s.strip() != "")


@settings(max_examples=150)
@given(name=names)
def test_markdown_cell_is_the_name_for_any_text(name: str) -> None:
    """For any column name, the rendered Markdown table's first cell is the name (lines joined) and the row stays whole."""
    ref, cur = frames([name], n=60)
    report = opskit.monitor.drift(ref, cur, columns=[name])
    md = report.to_markdown()
    out = rendered(md)
    assert len(out.cells) == 7, md
    assert out.cells[0] == shown(name), md


def test_json_has_no_nan_literals_for_non_finite_thresholds(tmp_path: Path) -> None:
    """thresholds of inf give a report whose to_dict() is strict JSON and whose HTML is written."""
    ref, cur = frames(["x"])
    for threshold in (math.inf, 1e308):
        report = opskit.monitor.drift(ref, cur, thresholds={"numeric": threshold})
        text = json.dumps(report.to_dict(), allow_nan=False)
        back = json.loads(text)["columns"]["x"]
        assert (
            back["method"] == "ks" and back["guard"] == "wasserstein"
        )  # 200 rows: the test decides
        assert back["guard_threshold"] == ("inf" if threshold == math.inf else threshold)
        report.to_html(tmp_path / "inf.html")
        assert "Infinity" not in (tmp_path / "inf.html").read_text(encoding="utf-8")


def test_html_with_special_names_renders_every_plot_in_chromium(tmp_path: Path) -> None:
    """Names like <!--<script> or </script> neither break the page's script nor inject markup; axis titles read as written."""
    names = [n for n in SPECIAL if "\n" not in n]
    ref, cur = frames(names)
    report = opskit.monitor.drift(ref, cur)
    path = report.to_html(tmp_path / "special.html")
    with opened(path, width=900) as visit:
        page = visit.page
        n = len(report.columns)
        page.wait_for_function(
            f"document.querySelectorAll('.plot .main-svg').length >= {n}", timeout=30_000
        )
        assert page.locator("section.column").count() == n
        assert page.locator("section.column img, section.column b, td b").count() == 0
        for i, name in enumerate(report.columns):
            assert page.locator(f"#plot-{i} .barlayer .point path").count() >= 2, name
            title = page.locator(f"#plot-{i} .xtitle").first.text_content()
            assert title == name, (title, name)
            assert page.locator(f"section.column h2 >> nth={i}").inner_text().startswith(name)
        ticks = page.locator(f"#plot-{n - 1} .xtick text").all_text_contents()
        assert set(ticks) == {"<i>a</i>", "b|c", "`d`", "&lt;e"}
        # The bundle, the data and the script: no element injected by a name.
        assert page.evaluate("document.scripts.length") == 3
    assert visit.console == []
    assert visit.leaving() == []


# -- where reports are written -------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """A reference CSV and a drifted current Parquet file."""
    ref, cur = frames(["x"])
    paths = {"ref": tmp_path / "ref.csv", "cur": tmp_path / "cur.parquet"}
    ref.to_csv(paths["ref"], index=False)
    cur.to_parquet(paths["cur"], index=False)
    return paths


@pytest.mark.parametrize("option", ["--html", "--markdown"])
@pytest.mark.parametrize("where", ["missing folder", "a folder"])
def test_cli_report_into_a_bad_path_exits_2_before_comparing(
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    option: str,
    where: str,
) -> None:
    """--html/--markdown into a missing folder or onto a folder: exit 2 naming it (not 1, which means drift), no output."""
    target = tmp_path / "nope" / "drift.out" if where == "missing folder" else tmp_path
    before = sorted(tmp_path.rglob("*"))
    args = ["monitor", "drift", "--reference", str(files["ref"]), "--current", str(files["cur"])]
    assert cli([*args, "--json", option, str(target)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # failed before the comparison: no report printed
    assert repr(str(target)) in captured.err
    assert sorted(tmp_path.rglob("*")) == before
    # The console script, in a subprocess: the exit status a CI job sees.
    done = subprocess.run(
        [str(OPSKIT), *args, option, str(target)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr


def test_to_html_onto_a_folder_is_a_clear_error(tmp_path: Path) -> None:
    """report.to_html(<a folder>) raises InvalidValue naming it; the folder is untouched."""
    ref, cur = frames(["x"])
    report: DriftReport = opskit.monitor.drift(ref, cur)
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(InvalidValue, match="it is a directory"):
        report.to_html(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


# -- profiles read from a file ---------------------------------------------------------------------------

column_values = st.lists(
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True, width=64),
        st.integers(-5, 5).map(float),
    ),
    min_size=1,
    max_size=60,
).filter(lambda v: any(not math.isnan(x) for x in v))


@settings(max_examples=60)
@given(values=column_values, cats=st.lists(st.sampled_from(["a", "b", "<c>", None]), min_size=1))
def test_every_profile_round_trips_through_its_json(
    values: list[float], cats: list[str | None]
) -> None:
    """Any profile() of numeric values (inf included) and categories reads back from its JSON, equal."""
    n = max(len(values), len(cats))
    frame = pd.DataFrame({"x": (values * n)[:n], "c": (cats * n)[:n]})
    if frame["c"].isna().all():
        frame = frame.drop(columns="c")
    prof = opskit.monitor.profile(frame)
    assert opskit.monitor.ReferenceProfile.from_json(prof.to_json()).to_json() == prof.to_json()


DAMAGE = [
    ("x", "points", [float("nan")] * 3, "a NaN sketch point"),
    ("x", "points", [], "no sketch points"),
    ("x", "points", [3.0, 2.0, 1.0], "sketch points out of order"),
    ("x", "count", -5, "count -5"),
    ("x", "missing", -1, "missing -1"),
    ("x", "std", -1.0, "std -1.0"),
    ("c", "counts", {"a": -3, "b": 5}, "negative counts"),
    ("c", "counts", {}, "no counted value"),
]


@pytest.mark.parametrize(("column", "key", "value", "message"), DAMAGE)
def test_a_damaged_profile_json_is_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    column: str,
    key: str,
    value: object,
    message: str,
) -> None:
    """A hand-edited or damaged profile JSON raises InvalidDataset naming the column (CLI: exit 2), not a silent report."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=3), "c": ["a", "b", "a"]})
    data = json.loads(opskit.monitor.profile(frame).to_json())
    data["columns"][column][key] = value
    if key == "points" and value:
        data["columns"][column]["count"] = len(value)  # only the points are wrong
    text = json.dumps(data)
    with pytest.raises(InvalidDataset, match=f"column {column!r} is damaged \\({message}"):
        opskit.monitor.ReferenceProfile.from_json(text)
    path = tmp_path / "profile.json"
    path.write_text(text)
    frame.to_csv(tmp_path / "cur.csv", index=False)
    code = cli(
        ["monitor", "drift", "--reference", str(path), "--current", str(tmp_path / "cur.csv")]
    )
    assert code == 2 and "is damaged" in capsys.readouterr().err
