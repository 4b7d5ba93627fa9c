"""Versioning records: what differs between two runs (``RunDiff``) and where a model or data came from (``Lineage``).

Data only (no I/O): ``opskit.data.diff`` and ``opskit.data.lineage`` build them.
Each prints as readable text (``summary()`` / ``str``), renders in a notebook
(``_repr_html_``) and has a stable, JSON-plain ``to_dict()`` (what ``--json`` prints).
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from attrs import field, frozen

from opskit.records._common import freeze_map as _freeze_map

__all__ = [
    "CodeDiff",
    "ColumnRetype",
    "DataDiff",
    "EnvDiff",
    "Lineage",
    "LineageNode",
    "MetricDelta",
    "PackageChange",
    "ParamChange",
    "RunDiff",
]

PackageChangeKind = Literal["added", "removed", "upgraded", "downgraded", "changed"]
DataStatus = Literal["added", "removed", "changed", "same"]


def _tuple(items: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(items)


def _optional_map(value: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    return None if value is None else _freeze_map(value)


def _text(value: Any) -> str:
    """A param value as one line: JSON spelling (strings quoted), so 1 and '1' read differently."""
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def _signed(value: float) -> str:
    return f"{value:+.6g}"


# -- diff ----------------------------------------------------------------------------------------------


@frozen
class ParamChange:
    """A param both runs have, with different values."""

    key: str
    before: Any
    after: Any


@frozen
class MetricDelta:
    """A metric's latest value in each run (None: the run has no such metric) and the difference."""

    key: str
    before: float | None
    after: float | None

    @property
    def delta(self) -> float | None:
        """``after - before`` when both runs have the metric, else None."""
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    @property
    def changed(self) -> bool:
        if self.before is None or self.after is None:
            return self.before is not self.after
        if self.before != self.before and self.after != self.after:  # both NaN
            return False
        return self.before != self.after


@frozen
class CodeDiff:
    """The code of the two runs: functions, commits, dirty flags and a unified diff of the captured sources."""

    function_before: str | None
    function_after: str | None
    commit_before: str | None
    commit_after: str | None
    dirty_before: bool | None
    dirty_after: bool | None
    source_digest_before: str | None
    source_digest_after: str | None
    #: ``difflib.unified_diff`` of the captured function sources ('' when they are equal).
    source_diff: str = ""
    #: Why there is no source diff although something differs (a source was not captured).
    note: str | None = None

    @property
    def changed(self) -> bool:
        return bool(
            self.source_diff
            or self.note
            or self.function_before != self.function_after
            or self.commit_before != self.commit_after
            or self.dirty_before != self.dirty_after
        )


@frozen
class ColumnRetype:
    """A column both inputs have, with different types."""

    name: str
    before: str
    after: str


@frozen
class DataDiff:
    """One data argument (matched by name) in the two runs.

    ``status``: ``added`` (only in the second run), ``removed`` (only in the first),
    ``changed`` (different content digest) or ``same``. ``changed_values`` (column →
    number of rows whose value differs) is filled only when both inputs are dataset
    snapshots, both were loaded and their row counts match (rows compared by position).
    """

    name: str
    status: DataStatus
    digest_before: str | None = None
    digest_after: str | None = None
    kind_before: str | None = None
    kind_after: str | None = None
    shape_before: tuple[int, ...] | None = None
    shape_after: tuple[int, ...] | None = None
    dataset_before: str | None = None
    dataset_after: str | None = None
    columns_added: tuple[str, ...] = field(default=(), converter=_tuple)
    columns_removed: tuple[str, ...] = field(default=(), converter=_tuple)
    columns_retyped: tuple[ColumnRetype, ...] = field(default=(), converter=_tuple)
    columns_reordered: bool = False
    changed_values: Mapping[str, int] | None = field(default=None, converter=_optional_map)
    note: str | None = None

    @property
    def rows_before(self) -> int | None:
        return self.shape_before[0] if self.shape_before else None

    @property
    def rows_after(self) -> int | None:
        return self.shape_after[0] if self.shape_after else None


@frozen
class PackageChange:
    """A distribution whose presence or version differs between the two environments."""

    name: str
    before: str | None
    after: str | None
    kind: PackageChangeKind


@frozen
class EnvDiff:
    """Python, platform and packages of the two runs (None where a run has no captured environment)."""

    python_before: str | None
    python_after: str | None
    platform_before: str | None
    platform_after: str | None
    packages: tuple[PackageChange, ...] = field(default=(), converter=_tuple)
    note: str | None = None

    @property
    def changed(self) -> bool:
        return bool(
            self.packages
            or self.note
            or self.python_before != self.python_after
            or self.platform_before != self.platform_after
        )

    def of_kind(self, kind: PackageChangeKind) -> list[PackageChange]:
        return [p for p in self.packages if p.kind == kind]


@frozen
class RunDiff:
    """What differs between run ``a`` (before) and run ``b`` (after): params, metrics, code, data, environment."""

    run_before: str
    run_after: str
    name_before: str
    name_after: str
    params_added: Mapping[str, Any] = field(factory=dict, converter=_freeze_map)
    params_removed: Mapping[str, Any] = field(factory=dict, converter=_freeze_map)
    params_changed: tuple[ParamChange, ...] = field(default=(), converter=_tuple)
    #: Every metric either run has, sorted by key (unchanged ones too: the values side by side).
    metrics: tuple[MetricDelta, ...] = field(default=(), converter=_tuple)
    code: CodeDiff | None = None
    data: tuple[DataDiff, ...] = field(default=(), converter=_tuple)
    env: EnvDiff | None = None

    @property
    def identical(self) -> bool:
        """True when no section differs."""
        return not (
            self.params_added
            or self.params_removed
            or self.params_changed
            or any(m.changed for m in self.metrics)
            or (self.code is not None and self.code.changed)
            or any(d.status != "same" for d in self.data)
            or (self.env is not None and self.env.changed)
        )

    # -- text --------------------------------------------------------------------------------------

    def summary(self) -> str:
        lines = [
            f"diff {self.run_before} ({self.name_before})",
            f"  -> {self.run_after} ({self.name_after})",
        ]
        lines += ["", "params", *(_params_lines(self) or ["  (no differences)"])]
        lines += ["", "metrics", *(_metric_lines(self.metrics) or ["  (none)"])]
        lines += ["", "code", *_code_lines(self.code)]
        lines += ["", "data", *(_data_lines(self.data) or ["  (no data inputs)"])]
        lines += ["", "environment", *_env_lines(self.env)]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return (
            f"<div><strong>Run diff</strong> {html.escape(self.run_before)} &rarr; "
            f"{html.escape(self.run_after)}<pre>{html.escape(self.summary())}</pre></div>"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-plain and stable: keys in a fixed order, lists sorted by name."""
        code = self.code
        env = self.env
        return {
            "run_before": self.run_before,
            "run_after": self.run_after,
            "name_before": self.name_before,
            "name_after": self.name_after,
            "identical": self.identical,
            "params": {
                "added": dict(sorted(self.params_added.items())),
                "removed": dict(sorted(self.params_removed.items())),
                "changed": [
                    {"key": c.key, "before": c.before, "after": c.after}
                    for c in self.params_changed
                ],
            },
            "metrics": [
                {"key": m.key, "before": m.before, "after": m.after, "delta": m.delta}
                for m in self.metrics
            ],
            "code": None
            if code is None
            else {
                "changed": code.changed,
                "function": [code.function_before, code.function_after],
                "commit": [code.commit_before, code.commit_after],
                "dirty": [code.dirty_before, code.dirty_after],
                "source_digest": [code.source_digest_before, code.source_digest_after],
                "source_diff": code.source_diff,
                "note": code.note,
            },
            "data": [_data_dict(d) for d in self.data],
            "env": None
            if env is None
            else {
                "changed": env.changed,
                "python": [env.python_before, env.python_after],
                "platform": [env.platform_before, env.platform_after],
                "packages": [
                    {"name": p.name, "before": p.before, "after": p.after, "kind": p.kind}
                    for p in env.packages
                ],
                "note": env.note,
            },
        }


def _data_dict(d: DataDiff) -> dict[str, Any]:
    return {
        "name": d.name,
        "status": d.status,
        "digest": [d.digest_before, d.digest_after],
        "kind": [d.kind_before, d.kind_after],
        "shape": [
            list(d.shape_before) if d.shape_before is not None else None,
            list(d.shape_after) if d.shape_after is not None else None,
        ],
        "rows": [d.rows_before, d.rows_after],
        "dataset": [d.dataset_before, d.dataset_after],
        "columns_added": list(d.columns_added),
        "columns_removed": list(d.columns_removed),
        "columns_retyped": [
            {"name": c.name, "before": c.before, "after": c.after} for c in d.columns_retyped
        ],
        "columns_reordered": d.columns_reordered,
        "changed_values": None if d.changed_values is None else dict(d.changed_values),
        "note": d.note,
    }


def _params_lines(diff: RunDiff) -> list[str]:
    lines = [f"  + {k} = {_text(v)}" for k, v in sorted(diff.params_added.items())]
    lines += [f"  - {k} = {_text(v)}" for k, v in sorted(diff.params_removed.items())]
    lines += [f"  ~ {c.key}: {_text(c.before)} -> {_text(c.after)}" for c in diff.params_changed]
    return lines


def _metric_lines(metrics: Iterable[MetricDelta]) -> list[str]:
    lines = []
    for m in metrics:
        if m.before is None:
            lines.append(f"  + {m.key}: {_number(m.after)}")
        elif m.after is None:
            lines.append(f"  - {m.key}: {_number(m.before)}")
        elif not m.changed:
            lines.append(f"    {m.key}: {_number(m.before)} (same)")
        else:
            delta = m.delta
            shown = f" ({_signed(delta)})" if delta is not None and delta == delta else ""
            lines.append(f"  ~ {m.key}: {_number(m.before)} -> {_number(m.after)}{shown}")
    return lines


def _commit(commit: str | None, dirty: bool | None) -> str:
    return (commit[:12] if commit else "no git") + (" (dirty)" if dirty else "")


def _code_lines(code: CodeDiff | None) -> list[str]:
    if code is None:
        return ["  (no code captured in either run)"]
    lines = []
    if code.function_before != code.function_after:
        lines.append(f"  function: {code.function_before or '-'} -> {code.function_after or '-'}")
    else:
        lines.append(f"  function: {code.function_before or '-'}")
    before = _commit(code.commit_before, code.dirty_before)
    after = _commit(code.commit_after, code.dirty_after)
    lines.append(f"  commit:   {before} -> {after}" if before != after else f"  commit:   {before}")
    if code.note:
        lines.append(f"  note:     {code.note}")
    if code.source_diff:
        lines.append("  source:")
        lines += ["    " + line for line in code.source_diff.rstrip("\n").splitlines()]
    elif not code.note:
        lines.append("  source:   same")
    return lines


def _short_digest(digest: str | None) -> str:
    if not digest:
        return "-"
    algo, _, hexpart = digest.partition(":")
    return f"{algo}:{hexpart[:12]}" if hexpart else digest[:16]


def _shape(shape: tuple[int, ...] | None) -> str:
    return "-" if shape is None else "x".join(str(n) for n in shape) or "()"


def _data_lines(data: Iterable[DataDiff]) -> list[str]:
    lines: list[str] = []
    for d in data:
        if d.status == "added":
            lines.append(
                f"  + {d.name}: {d.kind_after} {_shape(d.shape_after)} {_short_digest(d.digest_after)}"
            )
        elif d.status == "removed":
            lines.append(
                f"  - {d.name}: {d.kind_before} {_shape(d.shape_before)} {_short_digest(d.digest_before)}"
            )
        elif d.status == "same":
            lines.append(f"    {d.name}: same content {_short_digest(d.digest_before)}")
        else:
            lines.append(
                f"  ~ {d.name}: {_short_digest(d.digest_before)} -> {_short_digest(d.digest_after)}"
            )
            if d.dataset_before or d.dataset_after:
                lines.append(
                    f"      datasets: {d.dataset_before or '-'} -> {d.dataset_after or '-'}"
                )
            if d.kind_before != d.kind_after:
                lines.append(f"      kind:     {d.kind_before} -> {d.kind_after}")
            if d.rows_before != d.rows_after:
                lines.append(f"      rows:     {d.rows_before} -> {d.rows_after}")
            if d.shape_before != d.shape_after:
                lines.append(f"      shape:    {_shape(d.shape_before)} -> {_shape(d.shape_after)}")
            if d.columns_added:
                lines.append("      columns added:   " + ", ".join(d.columns_added))
            if d.columns_removed:
                lines.append("      columns removed: " + ", ".join(d.columns_removed))
            for c in d.columns_retyped:
                lines.append(f"      column retyped:  {c.name}: {c.before} -> {c.after}")
            if d.columns_reordered:
                lines.append("      columns reordered")
            if d.changed_values is not None:
                changed = {k: v for k, v in d.changed_values.items() if v}
                text = ", ".join(f"{k}={v}" for k, v in changed.items()) or "none"
                lines.append(f"      changed values:  {text}")
        if d.note:
            lines.append(f"      note: {d.note}")
    return lines


def _env_lines(env: EnvDiff | None) -> list[str]:
    if env is None:
        return ["  (no environment captured in either run)"]
    lines = []
    for label, before, after in (
        ("python", env.python_before, env.python_after),
        ("platform", env.platform_before, env.platform_after),
    ):
        if before == after:
            lines.append(f"  {label}: {before or '-'}")
        else:
            lines.append(f"  {label}: {before or '-'} -> {after or '-'}")
    if env.note:
        lines.append(f"  note: {env.note}")
    marks = {"added": "+", "removed": "-", "upgraded": "^", "downgraded": "v", "changed": "~"}
    for p in env.packages:
        if p.kind == "added":
            lines.append(f"  + {p.name} {p.after}")
        elif p.kind == "removed":
            lines.append(f"  - {p.name} {p.before}")
        else:
            lines.append(f"  {marks[p.kind]} {p.name} {p.before} -> {p.after} ({p.kind})")
    if not env.packages and not env.note:
        lines.append("  packages: same")
    return lines


# -- lineage -------------------------------------------------------------------------------------------

NodeKind = Literal[
    "model_version",
    "run",
    "dataset",
    "data",
    "code",
    "params",
    "environment",
    "deployment",
]


@frozen
class LineageNode:
    """One thing in a lineage tree: a model version, run, dataset version, input, code, deployment...

    ``label`` is its one-line description; ``ref`` what identifies it (``churn:3``, a run id,
    ``customers:2``, a digest, a deployment name); ``details`` the facts shown under it;
    ``children`` what it came from (upstream) or what came from it (downstream).
    """

    kind: NodeKind
    label: str
    ref: str | None = None
    #: How it relates to its parent ("produced by", "used", "served by", ...).
    relation: str | None = None
    details: Mapping[str, Any] = field(factory=dict, converter=_freeze_map)
    #: Long text kept whole in ``to_dict()`` (a dirty diff) and only announced in ``summary()``.
    text: str | None = None
    children: tuple[LineageNode, ...] = field(default=(), converter=_tuple)

    def walk(self) -> Iterable[LineageNode]:
        """This node and every node under it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()

    def find(self, kind: NodeKind) -> list[LineageNode]:
        """Every node of *kind* in this tree."""
        return [n for n in self.walk() if n.kind == kind]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "label": self.label,
            "ref": self.ref,
            "relation": self.relation,
            "details": {k: self.details[k] for k in self.details},
            "text": self.text,
            "children": [c.to_dict() for c in self.children],
        }


@frozen
class Lineage:
    """Where something came from and what came from it: ``root`` (a model version or a data version)
    with ``upstream`` (run, data, code, params, environment) and ``downstream`` (runs, model
    versions, deployments) trees."""

    subject: str
    direction: Literal["model", "data"]
    root: LineageNode

    def summary(self) -> str:
        lines = [_node_line(self.root)]
        lines += _detail_lines(self.root, "")
        _tree_lines(self.root.children, "", lines)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return (
            f"<div><strong>Lineage of {html.escape(self.subject)}</strong>"
            f"<ul>{_node_html(self.root)}</ul></div>"
        )

    def to_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "direction": self.direction, "root": self.root.to_dict()}

    def nodes(self, kind: NodeKind) -> list[LineageNode]:
        """Every node of *kind* (``"run"``, ``"model_version"``, ``"deployment"``, ...) in the tree."""
        return self.root.find(kind)


def _node_line(node: LineageNode) -> str:
    relation = f"{node.relation}: " if node.relation else ""
    return f"{relation}{node.kind.replace('_', ' ')} {node.label}"


def _detail_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return _text(value)


def _detail_lines(node: LineageNode, prefix: str) -> list[str]:
    bar = "│ " if node.children else "  "
    out = []
    for key in node.details:
        text = _detail_text(node.details[key])
        first, *rest = text.splitlines() or [""]
        out.append(f"{prefix}{bar} {key}: {first}")
        out += [f"{prefix}{bar}   {line}" for line in rest]
    if node.text:
        count = len(node.text.splitlines())
        out.append(f"{prefix}{bar} ({count} more lines in to_dict() / --json)")
    return out


def _tree_lines(children: tuple[LineageNode, ...], prefix: str, out: list[str]) -> None:
    for i, child in enumerate(children):
        last = i == len(children) - 1
        out.append(f"{prefix}{'└── ' if last else '├── '}{_node_line(child)}")
        inner = prefix + ("    " if last else "│   ")
        out += _detail_lines(child, inner)
        _tree_lines(child.children, inner, out)


def _node_html(node: LineageNode) -> str:
    details = "".join(
        f"<li><em>{html.escape(k)}</em>: <code>{html.escape(_detail_text(v))}</code></li>"
        for k, v in node.details.items()
    )
    children = "".join(_node_html(c) for c in node.children)
    if node.text:
        details += f"<li><pre>{html.escape(node.text)}</pre></li>"
    inner = f"<ul>{details}{children}</ul>" if details or children else ""
    relation = f"{html.escape(node.relation)}: " if node.relation else ""
    return (
        f"<li>{relation}<strong>{html.escape(node.kind.replace('_', ' '))}</strong> "
        f"{html.escape(node.label)}{inner}</li>"
    )
