"""The prediction log: one record per scored input row, written as Parquet batches partitioned by day.

The request path only appends to an in-memory buffer (no I/O); a daemon thread
turns what is buffered into Arrow tables, one row per input row with
``request_id``, ``row``, ``ts``, ``deployment``, ``variant``, ``role``,
``version``, the input columns and the prediction column(s), and writes each
table as one Parquet blob to the storage (blobs are written atomically: a
reader never sees half a file). Each blob is then indexed by a tracker state
document of kind ``predictions/<deployment>/<YYYY-MM-DD>`` (UTC day), and the
day itself by a document of kind ``prediction-days``: reading a day lists that
day's batches only, never every batch ever written. A batch written after its
day is over (a late one) marks its day again (``written_at`` in the day's
document), so that ``opskit.monitor.check`` lists that day.

Nothing is dropped silently. The buffer holds at most ``max_records`` rows; a
row that arrives when it is full, or that the store refused ``retries`` times,
is counted (``opskit_prediction_log_dropped_rows_total{reason=...}`` on
``/metrics``) and reported in the server log. A failed write keeps its rows for
the next flush, except those of the batches it already indexed (never written twice).
"""

from __future__ import annotations

import io
import json
import math
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from opskit.coerce import Cast

__all__ = [
    "DAYS_KIND",
    "LEGACY_KIND",
    "META_COLUMNS",
    "PredictionLog",
    "combine_tables",
    "common_schema",
    "day_kind",
    "read_predictions",
    "to_table",
]

#: The kind of the old JSON-lines index (opskit < 0.x); still read, never written.
LEGACY_KIND = "predictions"
#: One document per (deployment, day) that has batches: key ``<deployment>/<YYYY-MM-DD>``.
DAYS_KIND = "prediction-days"
#: The columns every record has, before the inputs and the predictions.
META_COLUMNS = ("request_id", "row", "ts", "deployment", "variant", "role", "version")
#: Input columns whose name clashes with a meta column or starts with ``prediction`` (the output
#: columns' prefix) are stored as ``input.<name>``.
INPUT_PREFIX = "input."


def day_kind(deployment: str, day: str) -> str:
    """The state kind indexing *deployment*'s batches of UTC day *day* (``YYYY-MM-DD``)."""
    return f"predictions/{deployment}/{day}"


def utc_day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


class _Request:
    """One scored request as buffered: cheap to make on the request path."""

    __slots__ = (
        "columns",
        "model_input",
        "predictions",
        "request_id",
        "role",
        "rows",
        "ts",
        "variant",
        "version",
    )

    def __init__(
        self,
        ts: float,
        request_id: str,
        variant: str,
        role: str,
        version: str,
        columns: tuple[str, ...] | None,
        rows: list[list[Any]],
        predictions: list[Any],
        model_input: Cast | None = None,
    ) -> None:
        self.ts, self.request_id, self.variant, self.role = ts, request_id, variant, role
        self.version, self.columns, self.rows, self.predictions = (
            version,
            columns,
            rows,
            predictions,
        )
        self.model_input = model_input


def _array(values: list[Any]) -> pa.Array:
    """An Arrow array of *values*; values Arrow cannot type together become JSON text."""
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        return pa.array(
            [None if v is None else json.dumps(v, default=str, sort_keys=True) for v in values],
            pa.string(),
        )


def _prediction_columns(predictions: list[Any]) -> dict[str, list[Any]]:
    """``prediction`` for scalars; ``prediction_<i>`` for fixed-length lists; ``prediction_<key>`` for dicts."""
    if predictions and all(isinstance(p, dict) for p in predictions):
        keys = list(dict.fromkeys(k for p in predictions for k in p))
        return {f"prediction_{k}": [p.get(k) for p in predictions] for k in keys}
    if predictions and all(isinstance(p, list | tuple) for p in predictions):
        widths = {len(p) for p in predictions}
        if len(widths) == 1:
            width = widths.pop()
            return {f"prediction_{i}": [p[i] for p in predictions] for i in range(width)}
    return {"prediction": list(predictions)}


def _input_arrays(columns: tuple[str, ...], requests: Sequence[_Request]) -> list[pa.Array]:
    """One Arrow array per input column: the values the model received, with its dtypes.

    Logged from the model's input frame (``Cast``), so a column has the signature's
    type whatever the request format was (CSV text, ISO or epoch datetimes, ints for
    floats) and every batch of a deployment agrees; the values as received only when
    no model input was kept (or a column Arrow cannot type).
    """
    import pyarrow as pa

    from opskit.coerce import merge_casts

    frame = None
    if all(r.model_input is not None for r in requests):
        frame = merge_casts([r.model_input for r in requests if r.model_input is not None])
        if not hasattr(frame, "iloc") or frame.shape[1] != len(columns):
            frame = None
    if frame is None:
        for r in requests:
            for row in r.rows:
                if len(row) != len(columns):  # a malformed record fails its batch, as before
                    raise ValueError(f"a row has {len(row)} values for {len(columns)} columns")
    out: list[pa.Array] = []
    for j in range(len(columns)):
        if frame is not None:
            try:
                array = pa.array(frame.iloc[:, j], from_pandas=True)
                if pa.types.is_dictionary(array.type):  # a pandas Categorical: its values
                    array = array.dictionary_decode()
                out.append(array)
                continue
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                pass
        out.append(_array([row[j] for r in requests for row in r.rows]))
    return out


def to_table(deployment: str, requests: Sequence[_Request]) -> pa.Table:
    """The Arrow table of *requests* (all with the same input columns): one row per input row."""
    import pyarrow as pa

    n = sum(len(r.rows) for r in requests)
    meta: dict[str, list[Any]] = {name: [] for name in META_COLUMNS}
    preds: list[Any] = []
    for r in requests:
        k = len(r.rows)
        meta["request_id"] += [r.request_id] * k
        meta["row"] += range(k)
        meta["ts"] += [int(r.ts * 1_000_000)] * k
        meta["variant"] += [r.variant] * k
        meta["role"] += [r.role] * k
        meta["version"] += [r.version] * k
        preds += r.predictions
    arrays: dict[str, pa.Array] = {
        "request_id": pa.array(meta["request_id"], pa.string()),
        "row": pa.array(meta["row"], pa.int32()),
        "ts": pa.array(meta["ts"], pa.timestamp("us", tz="UTC")),
        "deployment": pa.array([deployment] * n, pa.string()),
        "variant": pa.array(meta["variant"], pa.string()),
        "role": pa.array(meta["role"], pa.string()),
        "version": pa.array(meta["version"], pa.string()),
    }
    outputs = _prediction_columns(preds)
    taken = set(META_COLUMNS) | set(outputs)
    columns = requests[0].columns
    if columns is None:  # tensor input: the row as one list column
        arrays["input"] = _array([row for r in requests for row in r.rows])
    else:
        for name, array in zip(columns, _input_arrays(columns, requests), strict=True):
            # An input named like an output (prediction, prediction_<x>) would be read as one.
            clash = name in taken or name.startswith("prediction")
            arrays[INPUT_PREFIX + name if clash else name] = array
    for name, values in outputs.items():
        arrays[name] = _array(values)
    return pa.table(arrays)


def _parquet_bytes(table: pa.Table) -> bytes:
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


class PredictionLog:
    """Buffer prediction records and write them from a background thread (see the module doc)."""

    def __init__(
        self,
        deployment: str,
        *,
        sample: float = 1.0,
        interval: float = 1.0,
        max_records: int = 100_000,
        retries: int = 5,
        on_written: Callable[[int], None] | None = None,
        on_dropped: Callable[[int, str], None] | None = None,
        pii: Sequence[str] = (),
        pii_mode: str = "hash",
    ) -> None:
        self.deployment = deployment
        #: Input columns that are personal data: hashed (keyed) or dropped before a batch is written.
        self.pii = tuple(pii)
        self.pii_mode = pii_mode
        self.sample = min(max(float(sample), 0.0), 1.0)
        self.interval = interval
        self.max_records = max(int(max_records), 1)
        self.retries = retries
        self._on_written = on_written
        self._on_dropped = on_dropped
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._buffer: list[_Request] = []
        self._buffered_rows = 0
        self._failures = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._seq = 0
        self._days: set[str] = set()
        self._unlisted: dict[str, float] = {}  # day documents due: day -> written_at
        self._thread: threading.Thread | None = None
        self.written = 0
        self.dropped: dict[str, int] = {}
        self._last_warning = 0.0

    def record(
        self,
        request_id: str,
        variant: str,
        role: str,
        version: str,
        columns: tuple[str, ...] | None,
        rows: list[list[Any]],
        predictions: list[Any],
        *,
        ts: float | None = None,
        model_input: Cast | None = None,
    ) -> None:
        """Keep one request's rows and predictions (sampled per request). Cheap: no I/O here.

        *ts* (epoch seconds) defaults to now. *model_input* is the request as the model
        received it (``opskit.coerce.Cast``): when given, its typed values are logged
        rather than *rows* as received.
        """
        if self.sample <= 0 or (self.sample < 1 and random.random() >= self.sample):
            return
        entry = _Request(
            time.time() if ts is None else ts,
            request_id,
            variant,
            role,
            version,
            columns,
            rows,
            predictions,
            model_input,
        )
        with self._lock:
            room = self._buffered_rows + len(rows) <= self.max_records
            if room:
                self._buffer.append(entry)
                self._buffered_rows += len(rows)
            full = self._buffered_rows * 2 >= self.max_records
        if not room:
            self._drop(len(rows), "buffer_full")
        if full:
            self._wake.set()  # flush now rather than at the next interval

    def _drop(self, rows: int, reason: str) -> None:
        with self._lock:
            self.dropped[reason] = self.dropped.get(reason, 0) + rows
            total = self.dropped[reason]
            now = time.monotonic()
            warn = now - self._last_warning >= 10.0
            if warn:
                self._last_warning = now
        if self._on_dropped is not None:
            self._on_dropped(rows, reason)
        if warn:
            why = (
                f"the buffer of {self.max_records} rows was full; raise log_buffer or lower log_sample"
                if reason == "buffer_full"
                else "the store refused them"
            )
            print(
                f"opskit: prediction log of {self.deployment!r} dropped {total} row(s) so far "
                f"({reason}: {why}); counted in opskit_prediction_log_dropped_rows_total on /metrics",
                flush=True,
            )

    def start(self) -> None:
        if self.sample > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="opskit-predlog", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            self.flush()
        self.flush()

    def flush(self) -> int:
        """Write everything buffered; returns the number of rows written."""
        with self._flushing:
            with self._lock:
                taken, self._buffer = self._buffer, []
                rows = self._buffered_rows
                self._buffered_rows = 0
            if not taken:
                if self._unlisted:  # day documents a failed flush left due
                    from opskit.runtime import get_tracker

                    try:
                        self._list_days(get_tracker())
                    except Exception as exc:
                        print(
                            f"opskit: prediction log could not list its days ({type(exc).__name__}: {exc}); "
                            "retried at the next flush",
                            flush=True,
                        )
                return 0
            done: list[_Request] = []
            try:
                self._write(taken, done)
            except Exception as exc:  # the log must never take the server down
                if done:  # the groups already indexed are written: never again (no duplicates)
                    kept = {id(r) for r in done}
                    written = sum(len(r.rows) for r in done)
                    taken = [r for r in taken if id(r) not in kept]
                    rows -= written
                    self.written += written
                    if self._on_written is not None:
                        self._on_written(written)
                self._failures += 1
                if self._failures > self.retries:
                    self._failures = 0
                    self._drop(rows, "store_error")
                    return 0
                with self._lock:  # keep them for the next flush, ahead of newer rows
                    self._buffer[:0] = taken
                    self._buffered_rows += rows
                print(
                    f"opskit: prediction log write failed ({type(exc).__name__}: {exc}); "
                    f"{rows} row(s) kept for retry {self._failures}/{self.retries}",
                    flush=True,
                )
                return 0
            self._failures = 0
            self.written += rows
            if self._on_written is not None:
                self._on_written(rows)
            return rows

    def _write(self, requests: list[_Request], done: list[_Request]) -> None:
        """Write *requests* as one batch per (day, input columns); each group indexed is appended to *done*."""
        from opskit.runtime import get_storage, get_tracker

        groups: dict[tuple[str, tuple[str, ...] | None], list[_Request]] = {}
        for r in requests:
            groups.setdefault((utc_day(r.ts), r.columns), []).append(r)
        storage, tracker = get_storage(), get_tracker()
        for (day, _), part in groups.items():
            table = to_table(self.deployment, part)
            if self.pii:  # before any byte leaves the process (opskit.pii)
                from opskit.pii import protect_table

                table = protect_table(
                    table, self.pii, "drop" if self.pii_mode == "drop" else "hash"
                )
            blob = storage.put_bytes(_parquet_bytes(table))  # atomic: whole file or none
            self._seq += 1
            first, last = min(r.ts for r in part), max(r.ts for r in part)
            key = f"{first:017.6f}-{os.getpid()}-{self._seq}"
            written_at = time.time()
            tracker.put_state(
                day_kind(self.deployment, day),
                key,
                {
                    "deployment": self.deployment,
                    "day": day,
                    "digest": blob.digest,
                    "format": "parquet",
                    "records": table.num_rows,
                    "first_ts": first,
                    "last_ts": last,
                    "written_at": written_at,
                },
            )
            done.extend(part)  # indexed: its rows are in the log, never to be written again
            if day not in self._days or day < utc_day(written_at):
                # Once per process and day the day is listed; a batch written after its day
                # (a late one) marks the day again, so that monitor.check lists that day.
                self._unlisted[day] = written_at
        self._list_days(tracker)

    def _list_days(self, tracker: Any) -> None:
        """Write the day documents still due (kept for the next flush when the tracker fails)."""
        for day, written_at in list(self._unlisted.items()):
            tracker.put_state(
                DAYS_KIND,
                f"{self.deployment}/{day}",
                {"deployment": self.deployment, "day": day, "written_at": written_at},
            )
            self._days.add(day)
            del self._unlisted[day]

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        else:
            self.flush()
        with self._lock:
            left = self._buffered_rows
        if left:
            self._drop(left, "store_error")


# -- reading ---------------------------------------------------------------------------------------


def _days(deployment: str) -> list[str]:
    from opskit.runtime import get_tracker

    prefix = f"{deployment}/"
    found = get_tracker().list_state(DAYS_KIND)
    return sorted(k[len(prefix) :] for k in found if k.startswith(prefix))


def batches(
    deployment: str,
    since: float | None = None,
    until: float | None = None,
    days: list[str] | None = None,
) -> list[dict[str, Any]]:
    """The index documents of *deployment*'s batches that may hold records in ``[since, until)``."""
    from opskit.runtime import get_tracker

    tracker = get_tracker()
    low = utc_day(since) if since is not None else None
    high = utc_day(until - 1e-6) if until is not None else None  # until is exclusive
    out: list[dict[str, Any]] = []
    for day in days if days is not None else _days(deployment):
        if (low is not None and day < low) or (high is not None and day > high):
            continue  # a day outside the range is not even listed
        for _, entry in sorted(tracker.list_state(day_kind(deployment, day)).items()):
            if since is not None and entry["last_ts"] < since:
                continue
            if until is not None and entry["first_ts"] >= until:
                continue
            out.append(entry)
    return out


def _legacy_tables(deployment: str) -> Iterable[pa.Table]:
    """Records of the old JSON-lines log (one document per request), as tables of the new layout."""
    from opskit.runtime import get_storage, get_tracker

    index = get_tracker().list_state(LEGACY_KIND)
    entries = sorted((k, v) for k, v in index.items() if v.get("deployment") == deployment)
    storage = get_storage()
    by_columns: dict[Any, list[_Request]] = {}
    for _, entry in entries:
        for line in storage.get_bytes(entry["digest"]).decode().splitlines():
            old = json.loads(line)
            columns = tuple(old["columns"]) if old.get("columns") is not None else None
            by_columns.setdefault(columns, []).append(
                _Request(
                    float(old["ts"]),
                    "",
                    str(old.get("variant")),
                    str(old.get("role")),
                    str(old.get("variant")),
                    columns,
                    old["rows"],
                    old["predictions"],
                )
            )
    for part in by_columns.values():
        yield to_table(deployment, part)


def _read_batch(storage: Any, entry: dict[str, Any]) -> pa.Table:
    """One batch: memory-mapped from the local storage's file, else read through the storage."""
    import pyarrow.parquet as pq

    from opskit.storage.local import LocalStorage

    if isinstance(storage, LocalStorage):
        path = storage._path(str(entry["digest"]))
        if path.is_file():
            return pq.read_table(path, memory_map=True)
    return pq.read_table(io.BytesIO(storage.get_bytes(str(entry["digest"]))))


def _empty() -> pa.Table:
    import pyarrow as pa

    return pa.table(
        {
            "request_id": pa.array([], pa.string()),
            "row": pa.array([], pa.int32()),
            "ts": pa.array([], pa.timestamp("us", tz="UTC")),
            "deployment": pa.array([], pa.string()),
            "variant": pa.array([], pa.string()),
            "role": pa.array([], pa.string()),
            "version": pa.array([], pa.string()),
        }
    )


def _no_records(storage: Any, deployment: str, days: list[str]) -> pa.Table:
    """An empty table with the columns of *deployment*'s latest batch (inputs and outputs
    included, so code that selects them works on an empty range), else the fixed columns.

    Only the latest day that holds a batch is listed, and one batch is read.
    """
    for day in reversed(days):
        entries = batches(deployment, days=[day])
        if entries:
            latest = max(entries, key=lambda e: (e["last_ts"], e["first_ts"]))
            return combine_tables([_read_batch(storage, latest).slice(0, 0)])
    return _empty()


def _common_type(types: Sequence[pa.DataType]) -> pa.DataType:
    """One type every batch's column converts to: itself when they agree; numbers → float64;
    timestamps → ``timestamp[us]`` (with UTC if any has a zone); anything else → string."""
    import pyarrow as pa

    distinct = [t for t in dict.fromkeys(types) if not pa.types.is_null(t)]
    if not distinct:
        return pa.null()
    if len(distinct) == 1:
        return distinct[0]
    if all(
        pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
        for t in distinct
    ):
        return pa.float64()
    if all(pa.types.is_timestamp(t) for t in distinct):
        zoned = any(t.tz is not None for t in distinct)
        return pa.timestamp("us", tz="UTC" if zoned else None)
    return pa.string()


def _decoded(schema: pa.Schema) -> list[tuple[str, pa.DataType]]:
    import pyarrow as pa

    return [
        (f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type) for f in schema
    ]


def common_schema(schemas: Sequence[pa.Schema]) -> pa.Schema:
    """The schema batches of one log are read as: every column of any batch (first-seen order),
    each with the type from :func:`_common_type` (dictionary columns as their values)."""
    import pyarrow as pa

    seen: dict[str, list[pa.DataType]] = {}
    for schema in schemas:
        for name, typ in _decoded(schema):
            seen.setdefault(name, []).append(typ)
    return pa.schema([(name, _common_type(types)) for name, types in seen.items()])


def _to_type(column: pa.ChunkedArray, typ: pa.DataType) -> pa.ChunkedArray:
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(column.type):
        column = pc.cast(column, column.type.value_type)
    if column.type == typ:
        return column
    try:
        return pc.cast(column, typ)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        # No Arrow cast (a list, a struct): the value's JSON text.
        values = [
            None if v is None else json.dumps(v, default=str, sort_keys=True)
            for v in column.to_pylist()
        ]
        return pa.chunked_array([pa.array(values, pa.string())])


def combine_tables(tables: Sequence[pa.Table]) -> pa.Table:
    """Batches of one log as one table, whatever types each batch gave a column.

    A log written by an older opskit could hold a column as text in one batch and as
    numbers in another (it logged values as received); each column is converted to
    :func:`common_schema`'s type, so reading never fails on a type conflict. A column
    missing from a batch is null there.
    """
    import pyarrow as pa

    if len(tables) == 1 and not any(pa.types.is_dictionary(f.type) for f in tables[0].schema):
        return tables[0]
    schema = common_schema([t.schema for t in tables])
    conformed = []
    for table in tables:
        arrays = [
            _to_type(table.column(f.name), f.type)
            if f.name in table.column_names
            else pa.chunked_array([pa.nulls(table.num_rows, f.type)])
            for f in schema
        ]
        conformed.append(pa.Table.from_arrays(arrays, schema=schema))
    return pa.concat_tables(conformed)


def read_table(deployment: str, since: float | None = None, until: float | None = None) -> pa.Table:
    """*deployment*'s records in ``[since, until)`` (epoch seconds; None: unbounded) as one Arrow table, oldest first."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from opskit.runtime import get_storage

    storage = get_storage()
    days = _days(deployment)
    entries = sorted(batches(deployment, since, until, days), key=lambda e: e["first_ts"])
    tables = [_read_batch(storage, e) for e in entries]
    # Only a batch that straddles a bound needs its rows filtered.
    straddles = any(
        (since is not None and e["first_ts"] < since)
        or (until is not None and e["last_ts"] >= until)
        for e in entries
    )
    if since is None or not days or utc_day(since) < days[0]:
        # The old JSON-lines log predates the first Parquet day: read it only when the range reaches back.
        legacy = list(_legacy_tables(deployment))
        tables = legacy + tables
        straddles = straddles or bool(legacy and (since is not None or until is not None))
    if not tables:
        return _no_records(storage, deployment, days)
    table = combine_tables(tables)
    stamp = pa.timestamp("us", tz="UTC")
    if straddles:
        ts = table.column("ts")
        mask = None
        if since is not None:
            mask = pc.greater_equal(ts, pa.scalar(int(since * 1_000_000), stamp))
        if until is not None:
            upper = pc.less(ts, pa.scalar(int(until * 1_000_000), stamp))
            mask = upper if mask is None else pc.and_(mask, upper)
        table = table.filter(mask)
    ts = table.column("ts")
    if len(ts) > 1 and not pc.all(pc.greater_equal(ts[1:], ts[:-1])).as_py():
        # Batches of several workers interleave: a stable sort on ts keeps each request's rows in order.
        table = table.take(pc.sort_indices(table, sort_keys=[("ts", "ascending")]))
    return table


def read_predictions(deployment: str) -> list[dict[str, Any]]:
    """Every logged record of *deployment*, one dict per input row, oldest first."""
    rows: list[dict[str, Any]] = read_table(deployment).to_pylist()
    for row in rows:
        ts = row.get("ts")
        if isinstance(ts, datetime):
            row["ts"] = ts.timestamp()
        for key, value in row.items():
            if isinstance(value, float) and math.isnan(value):
                row[key] = None
    return rows
