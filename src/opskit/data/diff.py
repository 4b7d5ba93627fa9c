"""``opskit.diff(a, b)``: what differs between two runs, section by section (a ``RunDiff``).

Params and metrics compare the runs' records; code compares the captured
function sources (a unified diff), commits and dirty flags; data matches the
inputs by argument name and compares their digests, shapes and schemas, and,
when both inputs are dataset snapshots (``data="snapshot"``), loads both and
counts the changed values per column; the environment compares Python, the
platform and every captured distribution (added, removed, upgraded, downgraded).
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from opskit.records.versioning import (
    CodeDiff,
    ColumnRetype,
    DataDiff,
    EnvDiff,
    MetricDelta,
    PackageChange,
    PackageChangeKind,
    ParamChange,
    RunDiff,
)

if TYPE_CHECKING:
    from opskit.records import CodeInfo, DataInput, EnvInfo, Run

__all__ = [
    "diff",
    "diff_code",
    "diff_data",
    "diff_env",
    "diff_packages",
    "diff_runs",
    "normal_name",
]

#: ``(dataset_ref) -> object``: how snapshots are loaded for the value-level comparison.
SnapshotLoader = Callable[[str], object]


def normal_name(name: str) -> str:
    """A distribution name as PEP 503 compares it (``Scikit_Learn`` → ``scikit-learn``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _version_key(text: str) -> Any:
    """A sortable version, or None when it cannot be read (then only "changed" is said)."""
    try:
        from packaging.version import InvalidVersion, Version
    except ImportError:  # pragma: no cover - packaging comes with pip/pytest nearly everywhere
        parts = re.findall(r"\d+", text)
        return tuple(int(p) for p in parts) if parts else None
    try:
        return Version(text)
    except InvalidVersion:
        return None


def diff_packages(before: Mapping[str, str], after: Mapping[str, str]) -> tuple[PackageChange, ...]:
    """Distributions added, removed, upgraded, downgraded (or "changed" when a version is unreadable), by name."""
    a = {normal_name(k): (k, v) for k, v in before.items()}
    b = {normal_name(k): (k, v) for k, v in after.items()}
    changes: list[PackageChange] = []
    for key in sorted(a.keys() | b.keys()):
        if key not in a:
            changes.append(PackageChange(b[key][0], None, b[key][1], "added"))
        elif key not in b:
            changes.append(PackageChange(a[key][0], a[key][1], None, "removed"))
        elif a[key][1] != b[key][1]:
            old, new = _version_key(a[key][1]), _version_key(b[key][1])
            kind: PackageChangeKind = "changed"
            if old is not None and new is not None and old != new:
                kind = "upgraded" if new > old else "downgraded"
            changes.append(PackageChange(b[key][0], a[key][1], b[key][1], kind))
    return tuple(changes)


def diff_env(before: EnvInfo | None, after: EnvInfo | None) -> EnvDiff | None:
    """Python, platform and package differences; None when neither run captured its environment."""
    if before is None and after is None:
        return None
    note = None
    if before is None or after is None:
        note = f"run {'a' if before is None else 'b'} has no captured environment"
    elif bool(before.packages) != bool(after.packages):
        note = "one run captured no packages (capture_env off): package differences not shown"
    packages: tuple[PackageChange, ...] = ()
    if before is not None and after is not None and bool(before.packages) == bool(after.packages):
        packages = diff_packages(before.packages, after.packages)
    return EnvDiff(
        python_before=before.python if before else None,
        python_after=after.python if after else None,
        platform_before=before.platform if before else None,
        platform_after=after.platform if after else None,
        packages=packages,
        note=note,
    )


def _source_digest(code: CodeInfo | None) -> str | None:
    if code is None or code.source is None:
        return None
    return "sha256:" + hashlib.sha256(code.source.encode("utf-8")).hexdigest()


def diff_code(before: CodeInfo | None, after: CodeInfo | None) -> CodeDiff | None:
    """Functions, commits, dirty flags and the unified diff of the two captured sources."""
    if before is None and after is None:
        return None
    a_source = before.source if before else None
    b_source = after.source if after else None
    note = None
    text = ""
    if a_source is not None and b_source is not None:
        a_name = (before.function if before else None) or "source"
        b_name = (after.function if after else None) or "source"
        text = "".join(
            difflib.unified_diff(
                a_source.splitlines(keepends=True),
                b_source.splitlines(keepends=True),
                fromfile=f"a/{a_name}",
                tofile=f"b/{b_name}",
            )
        )
        if text and not text.endswith("\n"):
            text += "\n"
    elif a_source is not None or b_source is not None:
        note = (
            f"run {'a' if a_source is None else 'b'} has no captured source: sources not compared"
        )
    return CodeDiff(
        function_before=before.function if before else None,
        function_after=after.function if after else None,
        commit_before=before.git_commit if before else None,
        commit_after=after.git_commit if after else None,
        dirty_before=before.git_dirty if before else None,
        dirty_after=after.git_dirty if after else None,
        source_digest_before=_source_digest(before),
        source_digest_after=_source_digest(after),
        source_diff=text,
        note=note,
    )


def _columns(data: DataInput) -> list[tuple[str, str]] | None:
    if data.schema is None or data.schema.kind != "table":
        return None
    return [(c.name, c.type) for c in data.schema.columns]


def _dataset(data: DataInput) -> str | None:
    return data.dataset or None


def _default_loader(ref: str) -> object:
    from opskit.data.datasets import load_data

    return load_data(ref)


def changed_values(before: object, after: object) -> dict[str, int] | None:
    """Per common column, how many rows differ (by position; missing equals missing), or None.

    For two DataFrames (or Series: one column named after the series) with the same number
    of rows and unique column names; columns only one side has are reported as
    added/removed by the schema comparison instead. Two NumPy arrays of the same shape
    give ``{"values": number of differing elements}``. Anything else: None.
    """
    import sys

    np = sys.modules.get("numpy")
    if np is not None and isinstance(before, np.ndarray) and isinstance(after, np.ndarray):
        if before.shape != after.shape:
            return None
        flat_a, flat_b = before.reshape(-1), after.reshape(-1)
        try:
            import pandas as pd

            return {"values": _count_changed(pd.Series(flat_a), pd.Series(flat_b))}
        except ImportError:  # pragma: no cover - arrays without pandas
            return {"values": int(flat_a.size - int(np.asarray(flat_a == flat_b).sum()))}
    import pandas as pd

    if isinstance(before, pd.Series):
        before = before.to_frame(name=str(before.name) if before.name is not None else "values")
    if isinstance(after, pd.Series):
        after = after.to_frame(name=str(after.name) if after.name is not None else "values")
    if not isinstance(before, pd.DataFrame) or not isinstance(after, pd.DataFrame):
        return None
    if len(before) != len(after) or not before.columns.is_unique or not after.columns.is_unique:
        return None
    counts: dict[str, int] = {}
    after_names = {str(c): c for c in after.columns}
    for column in before.columns:
        other = after_names.get(str(column))
        if other is None:
            continue
        counts[str(column)] = _count_changed(before[column], after[other])
    return counts


def _count_changed(a: Any, b: Any) -> int:
    missing_a = a.isna().to_numpy(dtype=bool)
    missing_b = b.isna().to_numpy(dtype=bool)
    values_a = a.to_numpy(dtype=object, copy=True)
    values_b = b.to_numpy(dtype=object, copy=True)
    values_a[missing_a] = None
    values_b[missing_b] = None
    same = _equal(values_a, values_b)
    return int(len(same) - int(same.sum()))


def _equal(a: Any, b: Any) -> Any:
    """Element-wise equality of two object arrays (None is missing; missing equals missing)."""
    import numpy as np

    try:
        same = np.asarray(a == b, dtype=bool)
        if same.shape == a.shape:
            return same
    except (TypeError, ValueError):
        pass
    return np.fromiter((_same(x, y) for x, y in zip(a, b, strict=True)), dtype=bool, count=len(a))


def _same(x: object, y: object) -> bool:
    try:
        return bool(x == y)
    except (TypeError, ValueError):
        return False


def diff_data(
    before: tuple[DataInput, ...],
    after: tuple[DataInput, ...],
    *,
    load: SnapshotLoader | None = None,
) -> tuple[DataDiff, ...]:
    """Inputs matched by argument name: added, removed, same or changed (digest, shape, schema, values)."""
    a = {d.name: d for d in before}
    b = {d.name: d for d in after}
    names = [d.name for d in before] + [d.name for d in after if d.name not in a]
    loader = load or _default_loader
    out: list[DataDiff] = []
    for name in names:
        x, y = a.get(name), b.get(name)
        if y is None and x is not None:
            out.append(
                DataDiff(
                    name,
                    "removed",
                    digest_before=x.digest,
                    kind_before=x.kind,
                    shape_before=x.shape,
                    dataset_before=_dataset(x),
                )
            )
            continue
        if x is None and y is not None:
            out.append(
                DataDiff(
                    name,
                    "added",
                    digest_after=y.digest,
                    kind_after=y.kind,
                    shape_after=y.shape,
                    dataset_after=_dataset(y),
                )
            )
            continue
        assert x is not None and y is not None
        out.append(_compare_input(x, y, loader))
    return tuple(out)


def _compare_input(x: DataInput, y: DataInput, loader: SnapshotLoader) -> DataDiff:
    common: dict[str, Any] = {
        "digest_before": x.digest,
        "digest_after": y.digest,
        "kind_before": x.kind,
        "kind_after": y.kind,
        "shape_before": x.shape,
        "shape_after": y.shape,
        "dataset_before": _dataset(x),
        "dataset_after": _dataset(y),
    }
    if x.digest == y.digest:
        return DataDiff(x.name, "same", **common)
    cols_a, cols_b = _columns(x), _columns(y)
    added: list[str] = []
    removed: list[str] = []
    retyped: list[ColumnRetype] = []
    reordered = False
    if cols_a is not None and cols_b is not None:
        types_a, types_b = dict(cols_a), dict(cols_b)
        added = [n for n, _ in cols_b if n not in types_a]
        removed = [n for n, _ in cols_a if n not in types_b]
        retyped = [
            ColumnRetype(n, t, types_b[n]) for n, t in cols_a if n in types_b and types_b[n] != t
        ]
        shared_a = [n for n, _ in cols_a if n in types_b]
        shared_b = [n for n, _ in cols_b if n in types_a]
        reordered = shared_a != shared_b
    values: dict[str, int] | None = None
    note = None
    ref_a, ref_b = _dataset(x), _dataset(y)
    if ref_a and ref_b:
        try:
            values = changed_values(loader(ref_a), loader(ref_b))
        except Exception as exc:  # the summary stays useful when a snapshot cannot be read
            note = f"snapshots not compared value by value: {type(exc).__name__}: {exc}"
        else:
            if values is None:
                note = (
                    "values not compared: the snapshots are not two tables with the same row count"
                )
    return DataDiff(
        x.name,
        "changed",
        **common,
        columns_added=added,
        columns_removed=removed,
        columns_retyped=retyped,
        columns_reordered=reordered,
        changed_values=values,
        note=note,
    )


def _params(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    added = {k: after[k] for k in sorted(after.keys() - before.keys())}
    removed = {k: before[k] for k in sorted(before.keys() - after.keys())}
    changed = [
        ParamChange(k, before[k], after[k])
        for k in sorted(before.keys() & after.keys())
        if not _same_param(before[k], after[k])
    ]
    return {"params_added": added, "params_removed": removed, "params_changed": changed}


def _same_param(x: Any, y: Any) -> bool:
    if type(x) is not type(y) and not (
        isinstance(x, int | float)
        and isinstance(y, int | float)
        and not isinstance(x, bool)
        and not isinstance(y, bool)
    ):
        return False
    if isinstance(x, float) and isinstance(y, float) and x != x and y != y:
        return True
    return bool(x == y)


def _metrics(before: Mapping[str, float], after: Mapping[str, float]) -> list[MetricDelta]:
    return [
        MetricDelta(k, before.get(k), after.get(k)) for k in sorted(before.keys() | after.keys())
    ]


def diff_runs(before: Run, after: Run, *, load: SnapshotLoader | None = None) -> RunDiff:
    """The ``RunDiff`` of two run records (no tracker access, except loading snapshots for values)."""
    return RunDiff(
        run_before=before.id,
        run_after=after.id,
        name_before=before.name,
        name_after=after.name,
        **_params(before.params, after.params),
        metrics=_metrics(before.metrics, after.metrics),
        code=diff_code(before.code, after.code),
        data=diff_data(before.inputs, after.inputs, load=load),
        env=diff_env(before.env, after.env),
    )


def diff(a: str | Run, b: str | Run) -> RunDiff:
    """What differs between run *a* (before) and run *b* (after): params, metrics, code, data, environment.

    *a* and *b* are ``Run`` records or run ids. Print the result for a readable
    report; ``to_dict()`` for JSON. Raises ``RunNotFound`` for an unknown id.
    """
    from opskit.records import Run
    from opskit.tracking.runs import get_run

    before = a if isinstance(a, Run) else get_run(_run_id(a))
    after = b if isinstance(b, Run) else get_run(_run_id(b))
    return diff_runs(before, after)


def _run_id(value: object) -> str:
    from opskit.errors import InvalidValue

    if not isinstance(value, str) or not value:
        raise InvalidValue(
            f"opskit.diff takes two runs (Run records or run ids), got {value!r}; "
            "e.g. opskit.diff(opskit.search_runs()[1], opskit.last_run())"
        )
    return value
