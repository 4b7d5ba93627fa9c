"""The model card record: what opskit knows about one model version, as Markdown or one HTML file.

The record does no I/O: ``opskit.models.card(ref)`` gathers everything (the version, its run,
the validation report, the audit events) and builds it.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from typing import Any

from attrs import field, frozen

from opskit.records._common import freeze_map as _freeze_map
from opskit.records._common import when as _when
from opskit.records.audit import AuditEvent
from opskit.records.data import DataInput, Schema
from opskit.records.registry import AliasChange, ModelVersion
from opskit.records.runs import CodeInfo, EnvInfo
from opskit.records.validation import ValidationReport, ValidationResult

__all__ = ["ModelCard"]


def _tuple(items: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(items)


def _md(value: object) -> str:
    """*value* as text safe inside a Markdown table cell."""
    return " ".join(str(value).replace("\\", "\\\\").replace("|", "\\|").splitlines())


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if value is None:
        return "-"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str, sort_keys=True)
    return str(value)


def _shape(data: DataInput) -> str:
    return "-" if data.shape is None else " × ".join(str(n) for n in data.shape)


def _schema_text(schema: Schema | None) -> str:
    if schema is None:
        return "-"
    if schema.kind == "tensor":
        return f"tensor {schema.shape}"
    return ", ".join(f"{c.name}: {c.type}" for c in schema.columns) or "-"


def _state(doc: Mapping[str, Any] | None) -> str:
    """A short text for an audit event's before/after document: ``v3``, a status, or ``-``."""
    if not doc:
        return "-"
    if "version" in doc and "digest" not in doc:
        return f"v{doc['version']}"
    if "status" in doc:
        return str(doc["status"])
    return "-"


def _detail(event: AuditEvent) -> str:
    """What an audit event changed, in a few words, and why (its reason)."""
    if event.action == "version_registered":
        change = f"registered ({_state(event.after)})"
    else:
        change = f"{_state(event.before)} -> {_state(event.after)}"
    return change + (f"; {event.reason}" if event.reason else "")


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:60rem;
color:#1d232a;line-height:1.45;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;border-bottom:1px solid #d6dbe0;
padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0;font-size:.92rem}
th,td{border:1px solid #d6dbe0;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f5f7}.passed{color:#1a7f37;font-weight:600}.failed,.rejected{color:#cf222e;font-weight:600}
.error{color:#9a6700;font-weight:600}.muted{color:#57606a}.status{display:inline-block;padding:.1rem .5rem;
border-radius:.3rem;background:#f3f5f7;font-weight:600}pre{white-space:pre-wrap;background:#f6f8fa;
padding:.6rem;border-radius:.3rem}code{font-family:ui-monospace,monospace;font-size:.88em}
"""


@frozen(kw_only=True)
class ModelCard:
    """The model card of one version: model and version, status, intended use and limitations,
    training data, params, metrics, validation and fairness results, environment, approvals and
    alias history.

    ``intended_use`` holds the ``card=`` option of ``@opskit.train`` (``{section: text}``), else the
    training function's docstring under ``description``; empty when neither was given.
    ``audit`` holds the model's audit events (registrations, alias moves, status changes,
    approvals), oldest first; empty when the tracker keeps no audit chain (``history`` then
    still has the alias moves). ``ref`` is the reference the card was asked for
    (``wine@production``).
    """

    ref: str
    version: ModelVersion
    generated_at: float
    intended_use: Mapping[str, str] = field(factory=dict, converter=_freeze_map)
    run_id: str | None = None
    run_name: str | None = None
    experiment: str | None = None
    trained_by: str | None = None
    trained_at: float | None = None
    inputs: tuple[DataInput, ...] = field(default=(), converter=_tuple)
    params: Mapping[str, Any] = field(factory=dict, converter=_freeze_map)
    metrics: Mapping[str, float] = field(factory=dict, converter=_freeze_map)
    validation: ValidationReport | None = None
    env: EnvInfo | None = None
    code: CodeInfo | None = None
    history: tuple[AliasChange, ...] = field(default=(), converter=_tuple)
    audit: tuple[AuditEvent, ...] = field(default=(), converter=_tuple)

    @property
    def title(self) -> str:
        """``Model card: wine:7``."""
        return f"Model card: {self.version.ref}"

    @property
    def fairness(self) -> tuple[ValidationResult, ...]:
        """The fairness gates of the validation report (``opskit.gates.fairness``)."""
        if self.validation is None:
            return ()
        return tuple(r for r in self.validation.gates if r.name.startswith("fairness("))

    def _overview(self) -> list[tuple[str, str]]:
        v = self.version
        return [
            ("model", v.name),
            ("version", str(v.version)),
            ("status", v.status),
            ("aliases", ", ".join(v.aliases) or "-"),
            ("flavor", v.flavor),
            ("digest", v.digest),
            ("size", f"{v.size_bytes} bytes"),
            ("registered (UTC)", _when(v.created_at)),
            ("run", f"{self.run_id} ({self.run_name})" if self.run_id else "-"),
            ("experiment", self.experiment or "-"),
            ("trained by", self.trained_by or "-"),
            ("inputs", _schema_text(v.signature)),
        ]

    def _data_rows(self) -> list[tuple[str, str, str, str, str]]:
        return [(d.name, d.kind, d.dataset or "-", _shape(d), d.digest) for d in self.inputs]

    def _env_rows(self) -> list[tuple[str, str]]:
        rows: list[tuple[str, str]] = []
        if self.env is not None:
            rows += [
                ("python", f"{self.env.python} ({self.env.implementation})"),
                ("platform", self.env.platform),
                ("packages", str(len(self.env.packages))),
            ]
        if self.code is not None:
            if self.code.function:
                rows.append(("function", f"{self.code.module or '?'}.{self.code.function}"))
            if self.code.git_commit:
                rows.append(
                    (
                        "git commit",
                        self.code.git_commit + (" (dirty)" if self.code.git_dirty else ""),
                    )
                )
        return rows

    def _history_rows(self) -> list[tuple[str, str, str, str, str]]:
        if self.audit:
            return [
                (
                    _when(e.time),
                    e.action,
                    e.subject,
                    e.user or "-",
                    _detail(e),
                )
                for e in self.audit
            ]
        return [
            (
                _when(c.changed_at),
                "alias_removed" if c.version is None else "alias_moved",
                f"{c.model}@{c.alias}",
                c.user or "-",
                f"v{c.previous_version or '-'} -> v{c.version or '-'}",
            )
            for c in self.history
        ]

    def summary(self) -> str:
        v = self.version
        return (
            f"{self.title}  {v.status}  aliases={', '.join(v.aliases) or '-'}  "
            f"metrics={len(self.metrics)}  inputs={len(self.inputs)}  "
            f"validation={self.validation.status if self.validation else '-'}"
        )

    def __str__(self) -> str:
        return self.to_markdown()

    def to_markdown(self) -> str:
        """The card as Markdown (GitHub tables)."""
        out = [
            f"# {self.title}",
            "",
            f"_Generated by opskit on {_when(self.generated_at)} UTC._",
            "",
        ]

        def table(head: tuple[str, ...], rows: Iterable[tuple[object, ...]]) -> None:
            out.append("| " + " | ".join(head) + " |")
            out.append("|" + "---|" * len(head))
            out.extend("| " + " | ".join(_md(c) for c in row) + " |" for row in rows)
            out.append("")

        out += ["## Model", ""]
        table(("field", "value"), self._overview())
        out += ["## Intended use and limitations", ""]
        if self.intended_use:
            for section, text in self.intended_use.items():
                out += [f"### {section.strip().capitalize()}", "", text.strip(), ""]
        else:
            out += [
                "_Not stated: pass `card=` to `@opskit.train` or give the function a docstring._",
                "",
            ]
        out += ["## Training data", ""]
        if self.inputs:
            table(("argument", "kind", "dataset version", "shape", "digest"), self._data_rows())
            for d in self.inputs:
                if d.schema is not None and d.schema.columns:
                    out += [f"Schema of `{d.name}`:", ""]
                    table(("column", "type"), ((c.name, c.type) for c in d.schema.columns))
        else:
            out += ["_No data inputs recorded._", ""]
        out += ["## Parameters", ""]
        if self.params:
            table(("name", "value"), ((k, _fmt(v)) for k, v in sorted(self.params.items())))
        else:
            out += ["_None recorded._", ""]
        out += ["## Metrics", ""]
        if self.metrics:
            table(("name", "value"), ((k, _fmt(v)) for k, v in sorted(self.metrics.items())))
        else:
            out += ["_None recorded._", ""]
        out += ["## Validation", ""]
        if self.validation is not None:
            rep = self.validation
            out += [
                f"Status **{rep.status}**, outcome {rep.outcome or '-'}, "
                f"incumbent {rep.incumbent or '-'}.",
                "",
            ]
            table(
                ("kind", "name", "target", "status", "observed", "threshold"),
                (
                    (r.kind, r.name, r.target or "-", r.status, _fmt(r.observed), _fmt(r.threshold))
                    for r in rep.results
                ),
            )
        else:
            out += ["_No validation report (no checks or gates declared)._", ""]
        out += ["## Fairness", ""]
        if self.fairness:
            table(
                ("gate", "status", "observed", "limit", "message"),
                (
                    (r.name, r.status, _fmt(r.observed), _fmt(r.threshold), r.message)
                    for r in self.fairness
                ),
            )
        else:
            out += ["_No fairness gate was declared._", ""]
        out += ["## Environment", ""]
        if self._env_rows():
            table(("field", "value"), self._env_rows())
        else:
            out += ["_Not recorded._", ""]
        out += ["## Approvals and alias history", ""]
        if self._history_rows():
            table(("time (UTC)", "action", "subject", "by", "detail"), self._history_rows())
        else:
            out += ["_No events._", ""]
        return "\n".join(out).rstrip() + "\n"

    def _html_body(self) -> str:
        def table(head: tuple[str, ...], rows: Iterable[tuple[object, ...]], cls: int = -1) -> str:
            th = "".join(f"<th>{_e(h)}</th>" for h in head)
            body = ""
            for row in rows:
                cells = []
                for i, c in enumerate(row):
                    klass = f" class='{_e(c)}'" if i == cls else ""
                    cells.append(f"<td{klass}>{_e(c)}</td>")
                body += "<tr>" + "".join(cells) + "</tr>"
            return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"

        def none(text: str) -> str:
            return f"<p class='muted'>{_e(text)}</p>"

        v = self.version
        parts = [
            f"<h1>{_e(self.title)}</h1>",
            f"<p><span class='status {_e(v.status)}'>{_e(v.status)}</span> "
            f"<span class='muted'>generated by opskit on {_e(_when(self.generated_at))} UTC</span></p>",
            "<section id='model'><h2>Model</h2>",
            table(("field", "value"), self._overview()),
            "</section><section id='intended-use'><h2>Intended use and limitations</h2>",
        ]
        if self.intended_use:
            for section, text in self.intended_use.items():
                parts.append(
                    f"<h3>{_e(section.strip().capitalize())}</h3><pre>{_e(text.strip())}</pre>"
                )
        else:
            parts.append(
                none("Not stated: pass card= to @opskit.train or give the function a docstring.")
            )
        parts.append("</section><section id='training-data'><h2>Training data</h2>")
        if self.inputs:
            parts.append(
                table(("argument", "kind", "dataset version", "shape", "digest"), self._data_rows())
            )
            for d in self.inputs:
                if d.schema is not None and d.schema.columns:
                    parts.append(
                        f"<details><summary>schema of <code>{_e(d.name)}</code></summary>"
                        + table(("column", "type"), ((c.name, c.type) for c in d.schema.columns))
                        + "</details>"
                    )
        else:
            parts.append(none("No data inputs recorded."))
        parts.append("</section><section id='params'><h2>Parameters</h2>")
        parts.append(
            table(("name", "value"), ((k, _fmt(x)) for k, x in sorted(self.params.items())))
            if self.params
            else none("None recorded.")
        )
        parts.append("</section><section id='metrics'><h2>Metrics</h2>")
        parts.append(
            table(("name", "value"), ((k, _fmt(x)) for k, x in sorted(self.metrics.items())))
            if self.metrics
            else none("None recorded.")
        )
        parts.append("</section><section id='validation'><h2>Validation</h2>")
        if self.validation is not None:
            rep = self.validation
            parts.append(
                f"<p>Status <span class='{_e(rep.status)}'>{_e(rep.status)}</span>, outcome "
                f"{_e(rep.outcome or '-')}, incumbent {_e(rep.incumbent or '-')}.</p>"
            )
            parts.append(
                table(
                    ("kind", "name", "target", "status", "observed", "threshold"),
                    (
                        (
                            r.kind,
                            r.name,
                            r.target or "-",
                            r.status,
                            _fmt(r.observed),
                            _fmt(r.threshold),
                        )
                        for r in rep.results
                    ),
                    cls=3,
                )
            )
        else:
            parts.append(none("No validation report (no checks or gates declared)."))
        parts.append("</section><section id='fairness'><h2>Fairness</h2>")
        parts.append(
            table(
                ("gate", "status", "observed", "limit", "message"),
                (
                    (r.name, r.status, _fmt(r.observed), _fmt(r.threshold), r.message)
                    for r in self.fairness
                ),
                cls=1,
            )
            if self.fairness
            else none("No fairness gate was declared.")
        )
        parts.append("</section><section id='environment'><h2>Environment</h2>")
        env = self._env_rows()
        parts.append(table(("field", "value"), env) if env else none("Not recorded."))
        if self.env is not None and self.env.packages:
            parts.append(
                "<details><summary>packages</summary>"
                + table(("package", "version"), sorted(self.env.packages.items()))
                + "</details>"
            )
        parts.append("</section><section id='history'><h2>Approvals and alias history</h2>")
        rows = self._history_rows()
        parts.append(
            table(("time (UTC)", "action", "subject", "by", "detail"), rows)
            if rows
            else none("No events.")
        )
        parts.append("</section>")
        return "".join(parts)

    def to_html(self) -> str:
        """The card as one self-contained HTML page (inline CSS, no script, no network request)."""
        return (
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{_e(self.title)}</title><style>{_CSS}</style></head>"
            f"<body class='opskit-model-card'>{self._html_body()}</body></html>\n"
        )

    def _repr_html_(self) -> str:
        return f"<div class='opskit-model-card'>{self._html_body()}</div>"
