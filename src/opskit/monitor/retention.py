"""Data retention for prediction logs: forget one data subject's rows, drop expired day partitions.

``forget(column, value)`` rewrites every prediction-log batch holding a row whose *column*
equals *value*: the batch without those rows is written as a new Parquet blob (blobs are
written atomically), then the day's index entry is switched to it in one tracker transaction
together with a ``data_forgotten`` audit event, and only then is the old blob deleted. A
reader sees the old batch or the new one, never half of either; a crash between the steps
leaves at worst an unreferenced blob. Dataset snapshots are immutable (content-addressed,
referenced by runs): those holding the value are reported, with the command to supersede
them, not changed.

``forget_expired(retention)`` removes whole UTC days older than the retention period
(``"30d"``), each removal a ``data_expired`` audit event.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from attrs import field, frozen

from opskit.errors import InvalidValue
from opskit.periods import parse_period
from opskit.serve.predlog import DAYS_KIND, _read_batch, day_kind, utc_day

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "ForgetReport",
    "SnapshotHit",
    "forget",
    "forget_expired",
    "parse_retention",
]


def _strs(items: Sequence[str]) -> tuple[str, ...]:
    return tuple(items)


def _hits(items: Sequence[SnapshotHit]) -> tuple[SnapshotHit, ...]:
    return tuple(items)


@frozen
class SnapshotHit:
    """An immutable dataset snapshot that holds the forgotten value, and how to supersede it."""

    dataset: str
    rows: int
    command: str


@frozen(kw_only=True)
class ForgetReport:
    """What ``forget`` removed, and what it could not remove.

    ``rows`` prediction-log rows were removed from ``batches`` rewritten batches;
    ``days`` lists the ``deployment/YYYY-MM-DD`` partitions removed whole (``forget_expired``);
    ``not_removed`` lists the immutable dataset snapshots that still hold the value.
    """

    column: str | None = None
    value: str | None = None
    rows: int = 0
    batches: int = 0
    days: tuple[str, ...] = field(default=(), converter=_strs)
    not_removed: tuple[SnapshotHit, ...] = field(default=(), converter=_hits)

    def summary(self) -> str:
        lines = []
        if self.column is not None:
            lines.append(
                f"removed {self.rows} prediction-log row(s) with {self.column} = {self.value!r} "
                f"from {self.batches} batch(es)"
            )
        if self.days or self.column is None:
            lines.append(f"removed {len(self.days)} expired day partition(s) ({self.rows} row(s))")
            lines += [f"  {d}" for d in self.days]
        if self.not_removed:
            lines.append(
                f"NOT removed: {len(self.not_removed)} immutable dataset snapshot(s) hold the value; "
                "supersede each, then delete the old version when no run needs it:"
            )
            lines += [f"  {h.dataset} ({h.rows} row(s)): {h.command}" for h in self.not_removed]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def parse_retention(value: str | int | float) -> float:
    """Seconds in a retention period: ``"30d"``, ``"12h"``, ``"2w"`` or a number of days."""
    return parse_period(value, name="retention")


def _deployment_days() -> list[tuple[str, str]]:
    from opskit.runtime import get_tracker

    out = []
    for key in get_tracker().list_state(DAYS_KIND):
        deployment, _, day = key.rpartition("/")
        out.append((deployment, day))
    return sorted(out)


def _matches(table: pa.Table, column: str, value: str, hashed: str | None = None) -> list[bool]:
    """For each row: does *column* equal *value* (compared as text, so ``--value 123`` finds the int 123),
    or its keyed hash *hashed* (a ``pii=`` column logged hashed)?"""
    names = [column, f"input.{column}"]
    found = [n for n in names if n in table.column_names]
    if not found:
        return [False] * table.num_rows
    out = [False] * table.num_rows
    for name in found:
        for i, cell in enumerate(table.column(name).to_pylist()):
            if cell is None:
                continue
            text = str(cell)
            if isinstance(cell, float) and cell.is_integer():
                text = str(int(cell))
            if text == value or (hashed is not None and text == hashed):
                out[i] = True
    return out


def _parquet(table: pa.Table) -> bytes:
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def _event(kind: str, subject: str, before: Any, after: Any, reason: str) -> Any:
    from opskit.registry.events import RegistryEvent
    from opskit.sdk import identity

    return RegistryEvent(
        kind=kind,  # type: ignore[arg-type]
        subject=subject,
        model=None,
        before=before,
        after=after,
        user=identity.user(),
        time=time.time(),
        reason=reason,
    )


def _drop_blob(digest: str) -> None:
    from opskit.runtime import get_storage

    storage = get_storage()
    if storage.exists(digest):
        storage.delete(digest)


def _snapshot_hits(column: str, value: str, hashed: str | None) -> list[SnapshotHit]:
    """Dataset versions with a *column* whose content holds *value* (they are immutable)."""
    import pyarrow as pa

    from opskit.data.datasets import list_datasets, load_version

    hits = []
    for dataset in list_datasets():
        for version in dataset.versions:
            if version.schema is None or column not in version.schema.names:
                continue
            data = load_version(version)
            try:
                table = pa.Table.from_pandas(data, preserve_index=False)
            except (TypeError, ValueError, pa.ArrowException):
                continue
            n = sum(_matches(table, column, value, hashed))
            if n:
                ref = f"{version.name}:{version.version}"
                hits.append(
                    SnapshotHit(
                        dataset=ref,
                        rows=n,
                        command=(
                            f"df = opskit.load_data({ref!r}); "
                            f"opskit.log_data({version.name!r}, "
                            f"df[~df[{column!r}].astype(str).isin({[v for v in (value, hashed) if v is not None]!r})])"
                        ),
                    )
                )
    return hits


def forget(column: str, value: object, *, deployment: str | None = None) -> ForgetReport:
    """Remove every prediction-log row whose *column* equals *value* (as text); report the snapshots that keep it.

    Each rewritten batch is one ``data_forgotten`` audit event (subject ``deployment/day``,
    before/after the batch's digest and row count); the value itself is never written to the
    audit log. *deployment* limits the search to one deployment's log.
    """
    from opskit.runtime import get_tracker

    if not isinstance(column, str) or not column.strip():
        raise InvalidValue(f"column={column!r}: name the column that identifies the data subject")
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidValue(f"value={value!r}: give the value of {column!r} to forget")
    from opskit.pii import hash_value, pii_key

    text = str(value)
    hashed = hash_value(text, pii_key())
    tracker = get_tracker()
    from opskit.runtime import get_storage

    storage = get_storage()
    rows = rewritten = 0
    for dep, day in _deployment_days():
        if deployment is not None and dep != deployment:
            continue
        kind = day_kind(dep, day)
        for key, entry in sorted(tracker.list_state(kind).items()):
            table = _read_batch(storage, entry)
            mask = _matches(table, column, text, hashed)
            n = sum(mask)
            if not n:
                continue
            import pyarrow as pa

            kept = table.filter(pa.array([not m for m in mask]))
            blob = storage.put_bytes(_parquet(kept))
            new = {**entry, "digest": blob.digest, "records": kept.num_rows}
            event = _event(
                "data_forgotten",
                f"{dep}/{day}",
                {"digest": entry["digest"], "records": entry.get("records")},
                {"digest": blob.digest, "records": kept.num_rows},
                f"forgot {n} row(s) with column {column!r}",
            )
            tracker.put_state(
                kind, key, new, event=event
            )  # the switch and its audit event: one transaction
            if blob.digest != entry["digest"]:
                _drop_blob(str(entry["digest"]))
            rows += n
            rewritten += 1
    return ForgetReport(
        column=column,
        value=text,
        rows=rows,
        batches=rewritten,
        not_removed=_snapshot_hits(column, text, hashed),
    )


def forget_expired(
    retention: str | int | float, *, deployment: str | None = None, now: float | None = None
) -> ForgetReport:
    """Remove the prediction-log day partitions that ended more than *retention* ago; each one audited (``data_expired``)."""
    from opskit.runtime import get_tracker

    cutoff = (time.time() if now is None else now) - parse_retention(retention)
    # a day expires once all of it is older than the cutoff
    last_expired_day = utc_day(cutoff - 86400.0)
    tracker = get_tracker()
    removed: list[str] = []
    rows = 0
    for dep, day in _deployment_days():
        if (deployment is not None and dep != deployment) or day > last_expired_day:
            continue
        kind = day_kind(dep, day)
        entries = tracker.list_state(kind)
        n = sum(int(e.get("records") or 0) for e in entries.values())
        # The audit event first (with a tombstone of the day, one transaction), then the removal:
        # a crash in between leaves the day listed, and the next run removes it (audited again).
        tracker.put_state(
            DAYS_KIND + "-expired",
            f"{dep}/{day}",
            {"deployment": dep, "day": day, "records": n, "expired_at": time.time()},
            event=_event(
                "data_expired",
                f"{dep}/{day}",
                {"batches": len(entries), "records": n},
                None,
                f"older than the retention period {retention}",
            ),
        )
        for key, entry in entries.items():
            tracker.delete_state(kind, key)
            _drop_blob(str(entry["digest"]))
        tracker.delete_state(DAYS_KIND, f"{dep}/{day}")
        removed.append(f"{dep}/{day}")
        rows += n
    return ForgetReport(rows=rows, days=removed)


def forget_all_expired(*, now: float | None = None) -> ForgetReport:
    """``forget_expired`` for every deployment whose record has a ``retention=`` option."""
    from opskit.runtime import get_tracker

    #: ``opskit.deployments.client.STATE_KIND`` (not imported: deployments sit above monitor).
    records = get_tracker().list_state("deployment")
    days: list[str] = []
    rows = 0
    for name, doc in sorted(records.items()):
        retention = (doc.get("options") or {}).get("retention")
        if retention:
            report = forget_expired(retention, deployment=name, now=now)
            days += report.days
            rows += report.rows
    return ForgetReport(rows=rows, days=days)
