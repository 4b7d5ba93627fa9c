"""Rendering drift reports: one self-contained HTML file, the notebook view, Markdown for CI.

The HTML file embeds Plotly's offline bundle (``plotly.min.js`` from the ``plotly``
package, in the ``monitor`` extra) inline, with the report's data as JSON and a few
lines of script that draw one reference-vs-current bar chart per column: no request
leaves the file, so it opens offline, from a CI artifact, or attached to an e-mail.
Plotly rather than Altair: its Python package ships the bundle in the wheel (Altair
needs the Vega, Vega-Lite and vega-embed bundles from elsewhere), and one bundle
draws both bar kinds.

The notebook view (``_repr_html_``) is the summary and the table without plots: a
4.8 MB bundle in every cell output would bloat each saved notebook;
``report.to_html(path)`` gives the plots. The records call these functions and do no
I/O of their own.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from opskit.errors import InvalidValue

__all__ = ["markdown", "notebook_html", "page", "plotly_bundle", "write_html"]

_HEAD = ("column", "kind", "method", "statistic", "p-value", "threshold", "result")


class _Report(Protocol):
    """What rendering needs of a ``DriftReport`` (a Protocol: the record imports this module)."""

    @property
    def columns(self) -> Mapping[str, Any]: ...
    @property
    def drift_share(self) -> float: ...
    @property
    def n_reference(self) -> int: ...
    @property
    def n_current(self) -> int: ...
    @property
    def reference_source(self) -> str: ...
    @property
    def current_source(self) -> str: ...
    @property
    def ignored_columns(self) -> tuple[str, ...]: ...
    @property
    def drifted(self) -> bool: ...
    @property
    def share_drifted(self) -> float: ...
    @property
    def drifted_columns(self) -> list[str]: ...

    def rows(self) -> list[tuple[str, str, str, str, str, str, str]]: ...
    def to_dict(self) -> dict[str, Any]: ...


def plotly_bundle() -> str:
    """The text of Plotly's offline bundle, from the installed ``plotly`` package."""
    from importlib import resources

    try:
        bundle = resources.files("plotly") / "package_data" / "plotly.min.js"
        text = bundle.read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        from opskit.distribution import require_extra

        require_extra(
            "monitor", "the HTML drift report (it embeds Plotly's offline bundle)", ("plotly",)
        )
        raise InvalidValue(
            f"the installed plotly package has no offline bundle (package_data/plotly.min.js): "
            f"reinstall it ({exc})"
        ) from exc
    return text.replace("</script", "<\\/script")


def _headline(report: _Report) -> str:
    status = "DRIFTED" if report.drifted else "no drift"
    return (
        f"Drift: {status} - {len(report.drifted_columns)}/{len(report.columns)} columns drifted "
        f"(share {report.share_drifted:.2f}, threshold {report.drift_share:.2f}); "
        f"reference: {report.reference_source} ({report.n_reference} rows); "
        f"current: {report.current_source} ({report.n_current} rows)"
    )


def _table(report: _Report) -> str:
    cells = "".join(f"<th>{h}</th>" for h in _HEAD)
    body = "".join(
        f'<tr class="{"drift" if row[-1] == "DRIFT" else "ok"}">'
        + "".join(f"<td>{html.escape(v)}</td>" for v in row)
        + "</tr>"
        for row in report.rows()
    )
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def notebook_html(report: _Report) -> str:
    """The notebook view: the summary line and the per-column table (no script, no plots)."""
    return (
        f"<div><strong>{html.escape(_headline(report))}</strong>{_table(report)}"
        "<small>report.to_html(path) writes the report with one plot per column</small></div>"
    )


#: Characters GitHub-flavoured Markdown reads as formatting inside a table cell (emphasis, code,
#: links, strikethrough, cell borders, escapes): backslash-escaped. (``#``, ``-``, ``+``, ``.``
#: only matter at the start of a line, which a cell never is.)
_MD_SPECIAL = "\\`*_[]|~"


def md_text(text: str) -> str:
    """*text* shown literally in a Markdown table cell: one line, HTML and Markdown syntax escaped."""
    text = " ".join(str(text).splitlines()) if text else ""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in text)


def markdown(report: _Report) -> str:
    """A Markdown summary and table (GitHub-flavoured), e.g. for a CI job summary or PR comment.

    Column names, categories and sources are user data: each is shown literally (a ``|``,
    a newline, ``<script>``, backticks or ``**`` cannot break the table or format it).
    """
    lines = [
        f"**{md_text(_headline(report))}**",
        "",
        "| " + " | ".join(_HEAD) + " |",
        "|" + "---|" * len(_HEAD),
    ]
    for row in report.rows():
        shown = [md_text(v) for v in row[:-1]]
        shown.append("**DRIFT**" if row[-1] == "DRIFT" else "ok")
        lines.append("| " + " | ".join(shown) + " |")
    if report.ignored_columns:
        lines += [
            "",
            "Not compared (not in the reference): "
            + ", ".join(md_text(c) for c in report.ignored_columns),
        ]
    return "\n".join(lines) + "\n"


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-bottom: .2rem; }
.status { padding: .6rem 1rem; border-radius: 4px; }
.status.drift { background: #fde2e1; } .status.ok { background: #e3f4e1; }
table { border-collapse: collapse; margin: 1rem 0; }
td, th { border: 1px solid #ccc; padding: .25rem .6rem; text-align: left; }
tr.drift td { background: #fdf0ef; }
section { margin: 1.5rem 0; } .meta { color: #555; font-size: .9rem; }
.plot { width: 760px; height: 300px; }
"""

_SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById("opskit-report").textContent);
  // Plotly reads <b>, <br>, <a> and entities in text: show names and categories as written.
  function text(value) {
    return String(value).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }
  var names = Object.keys(data.columns);
  names.forEach(function (name, i) {
    var col = data.columns[name], dist = col.distribution;
    var el = document.getElementById("plot-" + i);
    if (!dist) { el.textContent = "no current values to plot"; return; }
    var x, width;
    if (dist.kind === "numeric") {
      x = []; width = [];
      for (var k = 0; k + 1 < dist.edges.length; k++) {
        x.push((dist.edges[k] + dist.edges[k + 1]) / 2);
        width.push(dist.edges[k + 1] - dist.edges[k]);
      }
    } else { x = dist.labels.map(text); width = null; }
    var traces = [
      {type: "bar", name: "reference", x: x, y: dist.reference, width: width,
       marker: {color: "#7f8c8d"}, opacity: 0.6},
      {type: "bar", name: "current", x: x, y: dist.current, width: width,
       marker: {color: col.drifted ? "#d62728" : "#1f77b4"}, opacity: 0.6}
    ];
    var layout = {
      barmode: dist.kind === "numeric" ? "overlay" : "group",
      margin: {l: 50, r: 10, t: 10, b: 60}, yaxis: {title: {text: "share of values"}},
      xaxis: {title: {text: text(name)}, type: dist.kind === "numeric" ? "linear" : "category"},
      legend: {orientation: "h", y: 1.12}
    };
    Plotly.newPlot(el, traces, layout, {displaylogo: false, responsive: true});
  });
})();
"""


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def _column_section(index: int, name: str, col: Any) -> str:
    stats = col.statistics
    if col.p_value is not None:
        rule = f"{col.method} p-value = {_fmt(col.p_value)}, drifts below {_fmt(col.threshold)} (statistic {_fmt(col.statistic)})"
    else:
        rule = f"{col.method} = {_fmt(col.statistic)}, drifts at or above {_fmt(col.threshold)}"
    if col.guard:
        p_value = stats.get(f"{col.guard}_p_value")
        if p_value is not None and col.p_value is None:
            rule += f"; and {col.guard} p-value = {_fmt(p_value)} below {_fmt(col.guard_threshold)}"
        else:
            rule += f"; and {col.guard} = {_fmt(stats.get(col.guard))} at or above {_fmt(col.guard_threshold)}"
    missing = (
        f"missing share {_fmt(stats.get('missing_share_reference'))} → "
        f"{_fmt(stats.get('missing_share_current'))}"
        + (" (drifted)" if col.missing_drifted else "")
    )
    verdict = "DRIFT" if col.drifted else "ok"
    return (
        f'<section class="column" data-column="{html.escape(name)}">'
        f"<h2>{html.escape(name)} <small>({html.escape(col.kind)}): {verdict}</small></h2>"
        f'<p class="meta">{html.escape(rule, quote=False)}; {html.escape(missing)}; '
        f"{col.n_reference} reference / {col.n_current} current values</p>"
        f'<div class="plot" id="plot-{index}"></div></section>'
    )


def script_json(value: Any) -> str:
    """*value* as JSON safe inside ``<script>``: ``<``, ``>`` and ``&`` as ``\\u`` escapes.

    Escaping only ``</`` is not enough: a column named ``<!--<script>`` puts the HTML parser
    in its "double-escaped" script state, where our own ``</script>`` no longer ends the
    element and the report's script is swallowed as data.
    """
    text = json.dumps(value, allow_nan=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page(report: _Report, *, title: str = "Drift report") -> str:
    """The whole self-contained HTML document (Plotly bundle, data and script inline)."""
    data = script_json(report.to_dict())
    status = "drift" if report.drifted else "ok"
    sections = "".join(
        _column_section(i, name, col) for i, (name, col) in enumerate(report.columns.items())
    )
    ignored = (
        f"<p class='meta'>Not compared (not in the reference): {html.escape(', '.join(report.ignored_columns))}</p>"
        if report.ignored_columns
        else ""
    )
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_CSS}</style><script>{plotly_bundle()}</script></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f'<p class="status {status}">{html.escape(_headline(report))}</p>'
        f"{_table(report)}{ignored}{sections}"
        f'<script type="application/json" id="opskit-report">{data}</script>'
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


def write_html(report: _Report, path: str | os.PathLike[str]) -> Path:
    """Write :func:`page` to *path* (its folder must exist), atomically; return the path.

    Raises :class:`~opskit.errors.OutputNotWritable` (an ``InvalidValue`` and an ``OSError``)
    naming *path* when it is a directory, its folder is missing or it cannot be written.
    """
    from opskit._files import write_text_atomic

    return write_text_atomic(path, page(report), what="the drift report", example="drift.html")
