"""Delayed labels, performance and fairness over time, and ``check()``: monitoring a deployment from its prediction log.

    opskit.monitor.log_labels("wine-prod", request_ids, y_true)        # ground truth, days later
    opskit.monitor.performance("wine-prod", window="1d", thresholds=[gates.at_least("accuracy", 0.8)])
    opskit.monitor.fairness("wine-prod", column="sex")
    opskit.monitor.check("wine-prod")                                   # drift since the last check + thresholds

Labels are stored like the prediction log: one Parquet blob per ``log_labels`` call,
indexed by a tracker state document of kind ``labels/<deployment>/<YYYY-MM-DD>`` (the UTC
day the labels were logged), the day itself listed under kind ``label-days``. A label
joins the logged prediction rows with the same request id and row index (every variant
that scored the request: primary, canary and shadow). Relabelling a (request id, row)
keeps the latest label.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from opskit.errors import (
    ColumnNotFound,
    InvalidDataset,
    InvalidModelRef,
    InvalidValue,
    ModelNotFound,
    ProfileNotFound,
)
from opskit.monitor.perf_records import (
    FairnessReport,
    FairnessWindow,
    GateOutcome,
    LabelsLogged,
    MonitorCheck,
    PerformanceReport,
    PerformanceWindow,
)
from opskit.monitor.prediction_log import deployment_inputs

__all__ = [
    "CHECK_KIND",
    "CLASSIFICATION_METRICS",
    "LABEL_DAYS_KIND",
    "REGRESSION_METRICS",
    "check",
    "deployment_inputs",
    "fairness",
    "labels",
    "log_labels",
    "performance",
]

#: One document per (deployment, day) that has labels: key ``<deployment>/<YYYY-MM-DD>``.
LABEL_DAYS_KIND = "label-days"
#: The state of ``check()``: one document per deployment (``opskit.monitor.checkpoint``).
CHECK_KIND = "monitor-checks"
#: Default metrics by task (any name of :data:`METRICS` can be asked for).
CLASSIFICATION_METRICS = ("accuracy", "f1_macro", "precision_macro", "recall_macro")
REGRESSION_METRICS = ("rmse", "mae", "r2")
#: How many unknown request ids ``LabelsLogged`` lists.
EXAMPLES = 10
#: The joined ground truth's column; an input column of that name is read as ``input.label``.
LABEL = "label"
INPUT_LABEL = "input.label"

_seq = 0


def labels_kind(deployment: str, day: str) -> str:
    """The state kind indexing *deployment*'s label batches logged on UTC day *day*."""
    return f"labels/{deployment}/{day}"


def _metric_table() -> dict[str, Callable[[Any, Any], float]]:
    import numpy as np
    from sklearn import metrics as m

    def rmse(y: Any, p: Any) -> float:
        return float(np.sqrt(m.mean_squared_error(y, p)))

    return {
        "accuracy": m.accuracy_score,
        "balanced_accuracy": m.balanced_accuracy_score,
        "f1_macro": lambda y, p: m.f1_score(y, p, average="macro", zero_division=0),
        "f1_weighted": lambda y, p: m.f1_score(y, p, average="weighted", zero_division=0),
        "f1_micro": lambda y, p: m.f1_score(y, p, average="micro", zero_division=0),
        "precision_macro": lambda y, p: m.precision_score(y, p, average="macro", zero_division=0),
        "recall_macro": lambda y, p: m.recall_score(y, p, average="macro", zero_division=0),
        "rmse": rmse,
        "mse": m.mean_squared_error,
        "mae": m.mean_absolute_error,
        "r2": m.r2_score,
        "mape": m.mean_absolute_percentage_error,
        "median_absolute_error": m.median_absolute_error,
    }


def _fairlearn_table() -> dict[str, Callable[[Any, Any], float]]:
    import fairlearn.metrics as fm

    return {
        "selection_rate": fm.selection_rate,
        "count": fm.count,
        "false_positive_rate": fm.false_positive_rate,
        "false_negative_rate": fm.false_negative_rate,
        "true_positive_rate": fm.true_positive_rate,
        "true_negative_rate": fm.true_negative_rate,
        "mean_prediction": fm.mean_prediction,
    }


# -- labels ----------------------------------------------------------------------------------------


def _check_deployment(deployment: object) -> str:
    from opskit.monitor.prediction_log import _check_known, _name

    deployment = _name(deployment)
    _check_known(deployment)
    return deployment


def _values(values: object, name: str, what: str) -> list[Any]:
    """*values* (a list, tuple, NumPy array, pandas Series/Index, any iterable) as a list, one entry per label.

    A text, a mapping (it iterates over its keys), a DataFrame (over its column names),
    a scalar or an array of more than one column raise ``InvalidValue`` naming it.
    """
    kind = type(values).__name__
    if isinstance(values, str | bytes | Mapping) or kind == "DataFrame":
        raise InvalidValue(
            f"{name} is a {kind} ({_short(values)}): pass a list, array or Series of {what}, one per label"
            + (" (a DataFrame's column: frame['y'])" if kind == "DataFrame" else "")
        )
    shape = getattr(values, "shape", None)
    if isinstance(shape, tuple) and len(shape) > 1:
        if len(shape) == 2 and shape[1] == 1:
            values = values.reshape(-1) if hasattr(values, "reshape") else values
        else:
            raise InvalidValue(
                f"{name} has shape {shape}: pass one {what[:-1]} per label (a 1-D list or array)"
            )
    if not isinstance(values, Iterable):
        raise InvalidValue(
            f"{name}={_short(values)} is a single {kind}: pass a list of {what}, one per label"
        )
    return [
        v.item() if hasattr(v, "item") and not isinstance(v, str | bytes) else v for v in values
    ]


def _short(value: object) -> str:
    """A one-line repr of at most 80 characters (a DataFrame by its columns)."""
    if type(value).__name__ == "DataFrame":
        return f"columns {list(getattr(value, 'columns', []))!r}"
    text = " ".join(repr(value).split())
    return text if len(text) <= 80 else text[:77] + "..."


def _missing(value: object) -> bool:
    """None, NaN, NaT, pandas.NA, numpy NaT: a value that is not there."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if type(value).__name__ in {"NaTType", "NAType"}:
        return True
    return type(value).__module__ == "numpy" and str(value) == "NaT"


def _label_array(values: list[Any]) -> Any:
    import pyarrow as pa

    for i, v in enumerate(values):
        if _missing(v):
            raise InvalidValue(
                f"y_true[{i}] is {v!r}: a label must be a value; leave that request out and log it when known"
            )
        if isinstance(v, float) and not math.isfinite(v):
            raise InvalidValue(f"y_true[{i}] is {v!r}: a label must be a finite number or a text")
    try:
        array = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError) as exc:
        raise InvalidValue(
            f"y_true mixes values that do not make one column ({exc}): pass numbers or strings, one kind"
        ) from None
    if pa.types.is_nested(array.type) or pa.types.is_null(array.type):
        raise InvalidValue(
            f"y_true holds {array.type} values: pass one scalar label (number, string or bool) per row"
        )
    return array


def _row_indices(rows: object, n: int) -> list[int]:
    """*rows* as row indices (whole numbers in 0 .. 2**31-1), or ``InvalidValue`` naming the first bad one."""
    found = _values(rows, "rows", "row indices")
    if len(found) != n:
        raise InvalidValue(f"{n} request ids but {len(found)} rows: pass one row per label")
    out: list[int] = []
    for i, r in enumerate(found):
        whole = isinstance(r, int) or (isinstance(r, float) and r.is_integer())
        if isinstance(r, bool) or not whole:
            raise InvalidValue(
                f"rows[{i}] is {r!r}: a row index in its request is a whole number (0 for the first row)"
            )
        if not 0 <= int(r) < 2**31:
            raise InvalidValue(f"rows[{i}] is {r}: a row index in its request is 0 or more")
        out.append(int(r))
    return out


def log_labels(
    deployment: str,
    request_ids: Sequence[str] | Iterable[str],
    y_true: Sequence[Any] | Iterable[Any],
    *,
    rows: Sequence[int] | Iterable[int] | None = None,
) -> LabelsLogged:
    """Store delayed ground truth for predictions *deployment* logged: ``y_true[i]`` labels ``request_ids[i]``.

    *rows* gives the row index within each request (for requests that scored several
    rows); without it, the k-th occurrence of a request id in *request_ids* labels row k
    (so a single-row request is labelled by its id alone). Labels whose (request id, row)
    the prediction log does not hold are stored all the same (their prediction may still
    be in the server's buffer) and counted in ``unknown`` with examples. Relabelling a
    (request id, row) later keeps the latest label.

    Raises ``DeploymentNotFound`` for an unknown deployment and ``InvalidValue`` (storing
    nothing) for lengths that differ, an empty or non-text request id, a missing label,
    a negative row, or labels that do not make one column.
    """
    global _seq
    import pandas as pd
    import pyarrow as pa

    from opskit.monitor.prediction_log import predictions_dataset
    from opskit.runtime import get_storage, get_tracker
    from opskit.serve.predlog import _parquet_bytes, utc_day

    _check_deployment(deployment)
    ids = _values(request_ids, "request_ids", "request ids")
    truth = _values(y_true, "y_true", "labels")
    if len(ids) != len(truth):
        raise InvalidValue(
            f"{len(ids)} request ids but {len(truth)} labels: pass one label per request id (and row)"
        )
    if not ids:
        raise InvalidValue("no labels given: pass request ids and their y_true")
    for i, rid in enumerate(ids):
        if not isinstance(rid, str) or not rid:
            raise InvalidValue(
                f"request_ids[{i}] is {rid!r}: pass the X-Request-Id the server returned (a non-empty text)"
            )
    # Which (request id, row) the log holds (it may lag the server by a flush interval).
    logged = predictions_dataset(deployment).to_table(columns=["request_id", "row"]).to_pandas()
    if rows is None:
        seen: dict[str, int] = {}
        row_index = []
        for rid in ids:
            row_index.append(seen.get(rid, 0))
            seen[rid] = row_index[-1] + 1
        _check_whole_requests(seen, logged)
    else:
        row_index = _row_indices(rows, len(ids))
    label = _label_array(truth)
    now = time.time()
    _seq += 1
    table = pa.table(
        {
            "request_id": pa.array(ids, pa.string()),
            "row": pa.array(row_index, pa.int32()),
            "label": label,
            "labelled_at": pa.array(
                [int(now * 1_000_000)] * len(ids), pa.timestamp("us", tz="UTC")
            ),
            "seq": pa.array(range(len(ids)), pa.int64()),
        }
    )
    wanted = pd.MultiIndex.from_arrays(
        [pd.Index(ids, dtype=object), pd.Index(row_index, dtype="int64")]
    )
    present = pd.MultiIndex.from_arrays(
        [pd.Index(logged["request_id"], dtype=object), pd.Index(logged["row"], dtype="int64")]
    )
    missing = ~wanted.isin(present)
    unknown = [rid for rid, gone in zip(ids, missing, strict=True) if gone]
    day = utc_day(now)
    blob = get_storage().put_bytes(_parquet_bytes(table))
    tracker = get_tracker()
    tracker.put_state(
        labels_kind(deployment, day),
        f"{now:017.6f}-{os.getpid()}-{_seq}",
        {
            "deployment": deployment,
            "day": day,
            "digest": blob.digest,
            "format": "parquet",
            "records": table.num_rows,
            "labelled_at": now,
        },
    )
    tracker.put_state(
        LABEL_DAYS_KIND, f"{deployment}/{day}", {"deployment": deployment, "day": day}
    )
    examples = tuple(dict.fromkeys(unknown))[:EXAMPLES]
    return LabelsLogged(deployment, len(ids), len(ids) - len(unknown), len(unknown), examples, day)


def _check_whole_requests(given: Mapping[str, int], logged: Any) -> None:
    """Without ``rows=``, a logged request gets a label for each of its rows, or none: else which rows is a guess."""
    if not len(logged):
        return
    scored = logged[logged["request_id"].isin(list(given))].groupby("request_id")["row"].nunique()
    for rid, count in scored.items():
        if given[str(rid)] != int(count):
            raise InvalidValue(
                f"request {rid!r} scored {int(count)} rows but {given[str(rid)]} label(s) name it without rows=: "
                f"pass rows=[...] (the row index of each label in its request), or one label per row, in order"
            )


def _common_labels(table: Any, tables: Sequence[Any]) -> Any:
    """*table* with its labels in the one type all *tables* can share.

    Numbers and booleans from different calls are numbers (True is 1.0); with any text
    among them, every label is its Python text (``str(1)``, ``str(True)``), which is how
    performance compares text labels with the logged predictions.
    """
    import pyarrow as pa
    import pyarrow.types as pt

    def numeric(t: Any) -> bool:
        kind = t.schema.field("label").type
        return bool(pt.is_integer(kind) or pt.is_floating(kind) or pt.is_boolean(kind))

    column = table.column("label")
    if all(numeric(t) for t in tables):
        if pt.is_boolean(column.type):
            column = column.cast(pa.int8())
        column = column.cast(pa.float64())
    else:
        column = pa.array([str(v) for v in column.to_pylist()], pa.string())
    return table.set_column(table.schema.get_field_index("label"), "label", column)


def labels(deployment: str, since: object = None) -> Any:
    """The labels of *deployment* as a pandas DataFrame: ``request_id``, ``row``, ``label``, ``labelled_at``.

    The latest label of each (request id, row) only. *since* skips label days before it.
    """
    import pandas as pd
    import pyarrow as pa

    from opskit.monitor.prediction_log import _epoch
    from opskit.runtime import get_storage, get_tracker
    from opskit.serve.predlog import _read_batch, utc_day

    low = _epoch(since, "since")
    tracker = get_tracker()
    prefix = f"{deployment}/"
    days = sorted(
        k[len(prefix) :] for k in tracker.list_state(LABEL_DAYS_KIND) if k.startswith(prefix)
    )
    if not days:
        _check_deployment(deployment)  # a typo is DeploymentNotFound, not "no labels"
    if low is not None:
        days = [d for d in days if d >= utc_day(low)]
    storage = get_storage()
    tables = []
    for day in days:
        for _, entry in sorted(tracker.list_state(labels_kind(deployment, day)).items()):
            tables.append(_read_batch(storage, entry))
    if not tables:
        return pd.DataFrame(
            {
                "request_id": pd.Series([], dtype=object),
                "row": pd.Series([], dtype="int32"),
                "label": pd.Series([], dtype=object),
                "labelled_at": pd.Series([], dtype="datetime64[us, UTC]"),
            }
        )
    try:
        table = pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        table = pa.concat_tables([_common_labels(t, tables) for t in tables])
    frame = table.to_pandas()
    frame = frame.sort_values(["labelled_at", "seq"], kind="stable")
    frame = frame.drop_duplicates(["request_id", "row"], keep="last").drop(columns="seq")
    return frame.reset_index(drop=True)


# -- joining ---------------------------------------------------------------------------------------


_UNITS = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
#: Window lengths outside [1 s, 100 years] are refused (sub-second windows split requests; longer
#: ones end beyond the dates pandas and datetime can represent): None gives one window.
WINDOW_MIN = 1.0
WINDOW_MAX = 100 * 365.25 * 86400.0


def _window(window: object, name: str = "window") -> tuple[str, float | None]:
    """``"30m"``, ``"1h"``, ``"1d"``, ``"7d"``, ``"1w"`` (or a ``timedelta``) as seconds; None: one window."""
    import re
    from datetime import timedelta

    if window is None:
        return "all", None
    seconds = math.nan
    if isinstance(window, timedelta):  # pandas.Timedelta too
        seconds = window.total_seconds()
    elif isinstance(window, str):
        # "M" is a month in pandas' aliases: refuse it rather than read a minute.
        found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*", window, re.IGNORECASE)
        if found and found.group(2) != "M":
            seconds = float(found.group(1)) * _UNITS[found.group(2).lower()]
    if not seconds > 0:
        raise InvalidValue(
            f"{name}={window!r} is not a positive duration: pass e.g. '30m', '1h', '1d', '7d' "
            "(s, m or min, h, d, w; months and years vary in length: use '30d', '365d'), "
            "a timedelta, or None for one window"
        )
    if not WINDOW_MIN <= seconds <= WINDOW_MAX:
        raise InvalidValue(
            f"{name}={window!r} is {seconds:g} seconds: pass a duration from 1 second to 100 years "
            "(e.g. '1h', '1d', '7d'), or None for one window"
        )
    return str(window), seconds


def _joined(deployment: str, since: object, until: object) -> tuple[Any, int]:
    """Logged prediction rows in range joined with their latest labels, and the number of prediction rows."""
    from opskit.monitor.prediction_log import predictions

    preds = predictions(deployment, since, until)
    if "prediction" not in preds.columns:
        outputs = [c for c in preds.columns if str(c).startswith("prediction_")]
        if outputs:
            raise InvalidDataset(
                f"deployment {deployment!r} logs several outputs per row ({', '.join(outputs)}): "
                "performance needs one prediction per row"
            )
    if LABEL in preds.columns:
        # An input column named "label" (the log keeps it as is): the joined truth takes the name.
        preds = preds.rename(columns={LABEL: INPUT_LABEL})
    labelled = labels(deployment, since=since)
    if len(preds) == 0 or len(labelled) == 0:
        return preds.iloc[0:0].assign(label=[]), len(preds)
    joined = preds.merge(
        labelled[["request_id", "row", "label"]], on=["request_id", "row"], how="inner"
    )
    return joined, len(preds)


def _input_columns(frame: Any) -> dict[str, str]:
    """Input column name -> its column in a joined frame (``input.<name>`` for names the log had to prefix)."""
    from opskit.monitor.prediction_log import _output_columns
    from opskit.serve.predlog import INPUT_PREFIX, META_COLUMNS

    reserved = {*META_COLUMNS, LABEL, "_start", *_output_columns(frame.columns)}
    out: dict[str, str] = {}
    for column in map(str, frame.columns):
        if column in reserved:
            continue
        name = column[len(INPUT_PREFIX) :] if column.startswith(INPUT_PREFIX) else column
        out[name] = column
    return out


def _task(y: Any) -> str:
    from sklearn.utils.multiclass import type_of_target

    kind = type_of_target(y)
    return "regression" if kind in {"continuous", "continuous-multioutput"} else "classification"


def _starts(ts: Any, seconds: float | None, since: float | None) -> Any:
    import numpy as np

    epoch = ts.astype("int64").to_numpy() / 1e6 if str(ts.dtype).endswith("UTC]") else ts.to_numpy()
    if seconds is None:
        start = since if since is not None else float(np.min(epoch)) if len(epoch) else 0.0
        return np.full(len(epoch), start)
    return np.floor(epoch / seconds) * seconds


def _end(start: float, seconds: float | None, high: float | None, part: Any) -> float:
    """The end of a window: start + its length; for one window (None), ``until`` or just after the last row."""
    if seconds is not None:
        return start + seconds
    if high is not None:
        return high
    return float(part["ts"].max().timestamp()) + 1e-6


def _resolve(
    names: Sequence[str] | None,
    task: str,
    table: Mapping[str, Callable[[Any, Any], float]],
    default: Sequence[str],
) -> dict[str, Callable[[Any, Any], float]]:
    chosen = list(default if names is None else names)
    if isinstance(names, str):
        chosen = [names]
    if not chosen:
        raise InvalidValue(
            "metrics=[] asks for nothing: name at least one metric, or leave metrics out"
        )
    out: dict[str, Callable[[Any, Any], float]] = {}
    for name in chosen:
        if name not in table:
            raise InvalidValue(
                f"unknown metric {name!r} for {task}: use one of {', '.join(sorted(table))}"
            )
        out[name] = table[name]
    return out


def _score(fn: Callable[[Any, Any], float], y: Any, p: Any) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return float(fn(y, p))
        except (ValueError, ZeroDivisionError):
            return math.nan


def _align(y: Any, p: Any, task: str) -> tuple[Any, Any]:
    """Labels and predictions of one comparable type (classification labels as logged, else float)."""
    import numpy as np

    if task == "regression":
        out = []
        for name, values in (("label", y), ("prediction", p)):
            try:
                out.append(np.asarray(values, dtype=float))
            except (TypeError, ValueError):
                bad = next((v for v in values if not _is_number(v)), values)
                raise InvalidValue(
                    f"task='regression' but a {name} is {bad!r}, not a number: log numeric labels, "
                    "or leave task= out (text labels are classification)"
                ) from None
        return out[0], out[1]
    y, p = np.asarray(y), np.asarray(p)
    # 1 vs 1.0 vs True: compare numbers as numbers.
    if y.dtype.kind != p.dtype.kind and y.dtype.kind in "biuf" and p.dtype.kind in "biuf":
        return y.astype(float), p.astype(float)
    if y.dtype.kind in "OUS" or p.dtype.kind in "OUS":
        return y.astype(str), p.astype(str)
    return y, p


def _is_number(value: object) -> bool:
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


#: Metrics of one task only: asking for one on the other task's labels is an error, not a NaN.
CLASSIFICATION_ONLY = frozenset(
    {
        "accuracy",
        "balanced_accuracy",
        "f1_macro",
        "f1_weighted",
        "f1_micro",
        "precision_macro",
        "recall_macro",
    }
)
REGRESSION_ONLY = frozenset({"rmse", "mse", "mae", "r2", "mape", "median_absolute_error"})
#: fairlearn's rates count the class 1 as positive: meaningless (always 0) on other labels.
RATE_METRICS = frozenset(
    {
        "selection_rate",
        "false_positive_rate",
        "false_negative_rate",
        "true_positive_rate",
        "true_negative_rate",
    }
)


def _check_task_metrics(names: Iterable[str], task: str, joined: Any) -> None:
    """``InvalidValue`` for a metric the task cannot compute: a NaN would count as a breached threshold.

    Classification metrics on regression labels; regression metrics on text labels or
    predictions (numeric class labels may use them: an ordinal error).
    """
    for name in names:
        if task == "regression" and name in CLASSIFICATION_ONLY:
            raise InvalidValue(
                f"metric {name!r} is for classification, and the labels are continuous (regression): "
                f"use one of {', '.join(sorted(REGRESSION_ONLY))}, or task='classification'"
            )
        if name in RATE_METRICS and len(joined):
            for column in ("label", "prediction"):
                values = set(joined[column].drop_duplicates().tolist())
                if not (values <= {0, 1} or values <= {-1, 1}):
                    shown = ", ".join(map(repr, sorted(values, key=str)[:4]))
                    raise InvalidValue(
                        f"fairness metric {name!r} counts the positive class 1, and the {column}s "
                        f"are {shown}: it needs 0/1 (or -1/1, True/False) labels and predictions"
                    )
        if task == "classification" and name in REGRESSION_ONLY and len(joined):
            kinds = {joined[c].to_numpy().dtype.kind for c in ("label", "prediction")}
            if kinds & set("OUSb"):
                raise InvalidValue(
                    f"metric {name!r} is for numbers, and the labels or predictions are text: "
                    f"use one of {', '.join(sorted(CLASSIFICATION_ONLY))}"
                )


def _warn_disjoint(joined: Any, task: str, deployment: str) -> None:
    """Warn when no classification label equals any prediction: labels of another kind (0/1 vs 'yes'/'no')."""
    import numpy as np

    from opskit.errors import OpskitWarning

    if task != "classification" or not len(joined):
        return
    raw_y, raw_p = joined["label"].to_numpy(), joined["prediction"].to_numpy()
    y, p = _align(raw_y, raw_p, task)
    labels_, predicted = np.unique(y), np.unique(p)
    if np.intersect1d(labels_, predicted).size:
        return
    # A model wrong on every row of a small sample is no mistake of the user: warn when the
    # kinds differ (numbers vs text) or both sides have several values and none is shared.
    kinds_differ = (raw_y.dtype.kind in "OUS") != (raw_p.dtype.kind in "OUS")
    if not kinds_differ and min(len(labels_), len(predicted)) < 2:
        return
    warnings.warn(
        OpskitWarning(
            f"no label of {deployment!r} equals any of its predictions (labels: "
            f"{', '.join(map(repr, labels_[:3].tolist()))}; predictions: "
            f"{', '.join(map(repr, predicted[:3].tolist()))}): every metric counts them all wrong. "
            "Log labels of the kind the model predicts (its classes)"
        ),
        stacklevel=3,
    )


def _gates(thresholds: Iterable[object] | None) -> tuple[Any, ...]:
    """*thresholds* as validation gates that read a metric (``at_least``, ``at_most``, a callable)."""
    if thresholds is None:
        return ()
    from opskit.validation.gates import Beats, Fairness, as_gates

    if isinstance(thresholds, str | bytes) or not isinstance(thresholds, Iterable):
        raise InvalidValue(
            f"thresholds={thresholds!r}: pass a list of gates, e.g. [gates.at_least('accuracy', 0.8)]"
        )
    found = as_gates(list(thresholds))
    for gate in found:
        if isinstance(gate, Beats | Fairness):
            raise InvalidValue(
                f"thresholds= cannot use {gate.name}: it needs a model and evaluation data; "
                "use gates.at_least / gates.at_most on a metric (or fairness() for disparities)"
            )
    return found


def _with_gate_metrics(
    chosen: dict[str, Callable[[Any, Any], float]],
    gate_list: Sequence[Any],
    table: Mapping[str, Callable[[Any, Any], float]],
) -> dict[str, Callable[[Any, Any], float]]:
    """Also compute every metric a threshold reads; a threshold on an unknown metric is an error, not a breach."""
    out = dict(chosen)
    for gate in gate_list:
        metric = getattr(gate, "metric", None)
        if metric is None or metric in out:
            continue
        if metric not in table:
            raise InvalidValue(
                f"threshold {gate.name} reads metric {metric!r}, which performance() does not compute: "
                f"use one of {', '.join(sorted(table))}"
            )
        out[metric] = table[metric]
    return out


def performance(
    deployment: str,
    window: str | None = "1d",
    metrics: Sequence[str] | None = None,
    *,
    since: object = None,
    until: object = None,
    thresholds: Iterable[object] | None = None,
    task: str | None = None,
) -> PerformanceReport:
    """Scikit-learn metrics of *deployment*'s labelled predictions, per variant per time *window*.

    Predictions in ``[since, until)`` are joined with their latest labels
    (``log_labels``); each variant (``wine@production``, ``wine@challenger``, the shadow)
    is scored on the rows it predicted, window by window (``"1h"``, ``"1d"``, ``"7d"``
    aligned on UTC epoch multiples; ``None``: one window over the whole range). The task
    is ``classification`` unless scikit-learn's ``type_of_target`` calls the labels
    continuous (then ``regression``), or as *task* says; *metrics* default to
    ``CLASSIFICATION_METRICS`` / ``REGRESSION_METRICS``. *thresholds* are validation
    gates (``gates.at_least("accuracy", 0.8)``, ``gates.at_most("rmse", 3)``) decided on
    each variant's latest window; a failing one marks the variant ``degraded``, and the
    ``on_performance_degraded`` alert fires (when opskit's alerts are installed).
    """
    report = _performance(
        deployment, window, metrics, since=since, until=until, thresholds=thresholds, task=task
    )
    _notify_performance(deployment, report)
    return report


def _performance(
    deployment: str,
    window: str | None,
    metrics: Sequence[str] | None,
    *,
    since: object,
    until: object,
    thresholds: Iterable[object] | None,
    task: str | None,
) -> PerformanceReport:
    """``performance()`` without its side effects (the ``/metrics`` values, the alert)."""

    from opskit.monitor.prediction_log import _range

    _check_deployment(deployment)
    label, seconds = _window(window)
    low, high = _range(since, until)
    gate_list = _gates(thresholds)
    joined, n_predictions = _joined(deployment, since, until)
    if task is not None and task not in {"classification", "regression"}:
        raise InvalidValue(f"task={task!r}: use 'classification' or 'regression' (or leave it out)")
    found_task = task or (_task(joined["label"].to_numpy()) if len(joined) else "classification")
    _warn_disjoint(joined, found_task, deployment)
    table = _metric_table()
    default = CLASSIFICATION_METRICS if found_task == "classification" else REGRESSION_METRICS
    chosen = _with_gate_metrics(_resolve(metrics, found_task, table, default), gate_list, table)
    _check_task_metrics(chosen, found_task, joined)
    windows: list[PerformanceWindow] = []
    if len(joined):
        joined = joined.assign(_start=_starts(joined["ts"], seconds, low))
        for (variant, start), part in joined.groupby(["variant", "_start"], sort=True):
            y, p = _align(part["label"].to_numpy(), part["prediction"].to_numpy(), found_task)
            end = _end(float(start), seconds, high, part)
            windows.append(
                PerformanceWindow(
                    variant=str(variant),
                    start=float(start),
                    end=float(end),
                    count=len(part),
                    metrics={name: _score(fn, y, p) for name, fn in chosen.items()},
                    versions=tuple(sorted(set(part["version"].astype(str)))),
                )
            )
    outcomes: list[GateOutcome] = []
    degraded: dict[str, bool] = {}
    if gate_list:
        from opskit.validation.gates import GateContext

        for variant in dict.fromkeys(w.variant for w in windows):
            latest = [w for w in windows if w.variant == variant][-1]
            ctx = GateContext(metrics=dict(latest.metrics))
            bad = False
            for gate in gate_list:
                result = gate.decide(ctx)
                observed = result.observed if isinstance(result.observed, int | float) else None
                threshold = result.threshold if isinstance(result.threshold, int | float) else None
                outcomes.append(
                    GateOutcome(
                        variant, gate.name, bool(result.passed), observed, threshold, result.message
                    )
                )
                bad = bad or not result.passed
            degraded[variant] = bad
    return PerformanceReport(
        deployment=deployment,
        task=found_task,
        metrics=tuple(chosen),
        window=label,
        windows=tuple(windows),
        n_predictions=n_predictions,
        n_labelled=len(joined),
        gates=tuple(outcomes),
        degraded=degraded,
    )


def _notify_performance(deployment: str, report: PerformanceReport) -> None:
    """Record *report*'s latest metrics for the deployment's ``/metrics`` and alert on a breach."""
    newest: dict[str, Mapping[str, float]] = {}
    for win in report.windows:  # ordered by variant, then time: the last one per variant wins
        newest[win.variant] = win.metrics
    from opskit.monitor import alerts

    try:  # an alert or a gauge must never break monitoring: a failure is logged
        if (
            newest
        ):  # the deployment's /metrics exports them (opskit_monitor_metric{variant, metric})
            alerts.record_metrics(deployment, newest, degraded=dict(report.degraded))
        if report.any_degraded:
            alerts.performance_degraded(report)
    except Exception:
        alerts.logger.exception("could not record or alert the performance of %r", deployment)


# -- fairness --------------------------------------------------------------------------------------


def fairness(
    deployment: str,
    column: str | Sequence[str] = "sex",
    metrics: Sequence[str] | None = None,
    *,
    window: str | None = "1d",
    since: object = None,
    until: object = None,
    task: str | None = None,
) -> FairnessReport:
    """Fairlearn ``MetricFrame`` per sensitive *column*, variant and window of *deployment*'s labelled predictions.

    *column* is an input column of the prediction log (or several). *metrics*: names of
    performance metrics (``accuracy``, ``rmse``, ...) or of fairlearn's group metrics
    (``selection_rate``, ``false_positive_rate``, ``true_positive_rate``, ``count``, ...);
    default ``accuracy`` (plus ``selection_rate`` for binary labels) or ``mae``/``rmse``
    for regression. Each window holds the metric per group, the parity difference
    (``MetricFrame.difference()``: largest minus smallest group value) and ratio.
    """
    import numpy as np
    from fairlearn.metrics import MetricFrame

    from opskit.monitor.prediction_log import _range

    _check_deployment(deployment)
    columns = [column] if isinstance(column, str) else list(column)
    if not columns or not all(isinstance(c, str) and c for c in columns):
        raise InvalidValue(
            f"column={column!r}: name one or more input columns of the prediction log"
        )
    columns = list(dict.fromkeys(columns))
    label, seconds = _window(window)
    low, high = _range(since, until)
    joined, n_predictions = _joined(deployment, since, until)
    inputs = _input_columns(joined)
    if n_predictions:  # an empty log has no columns to check against
        for name in columns:
            if name not in inputs:
                raise ColumnNotFound(
                    f"sensitive column {name!r} is not an input column of {deployment!r}'s prediction log "
                    f"(input columns: {', '.join(sorted(inputs)) or 'none'})"
                )
    found_task = task or (_task(joined["label"].to_numpy()) if len(joined) else "classification")
    _warn_disjoint(joined, found_task, deployment)
    table = {**_metric_table(), **_fairlearn_table()}
    if metrics is None:
        if found_task == "regression":
            default: tuple[str, ...] = ("mae", "rmse")
        else:
            binary = len(joined) and all(
                set(joined[c].drop_duplicates().tolist()) <= {0, 1} for c in ("label", "prediction")
            )
            default = ("accuracy", "selection_rate") if binary else ("accuracy",)
        chosen = _resolve(None, found_task, table, default)
    else:
        chosen = _resolve(metrics, found_task, table, ())
    _check_task_metrics(chosen, found_task, joined)
    windows: list[FairnessWindow] = []
    frames: dict[tuple[str, str, float], Any] = {}
    if len(joined):
        joined = joined.assign(_start=_starts(joined["ts"], seconds, low))
        for name in columns:
            source = inputs[name]
            for (variant, start), part in joined.groupby(["variant", "_start"], sort=True):
                groups = _groups(part[source])
                _warn_continuous(name, groups, deployment)
                y, p = _align(part["label"].to_numpy(), part["prediction"].to_numpy(), found_task)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        frame = MetricFrame(
                            metrics=dict(chosen),
                            y_true=y,
                            y_pred=p,
                            sensitive_features=groups,
                        )
                    except (ValueError, TypeError) as exc:
                        raise InvalidValue(
                            f"fairness metrics {', '.join(chosen)} cannot be computed on {deployment!r}'s "
                            f"labels {np.unique(y)[:3].tolist()} and predictions {np.unique(p)[:3].tolist()} "
                            f"(fairlearn: {exc}); the rates (selection_rate, false_positive_rate, ...) "
                            "need 0/1 labels and predictions, mean_prediction numbers"
                        ) from None
                    diff = frame.difference()
                    ratio = frame.ratio()
                by_group = frame.by_group
                end = _end(float(start), seconds, high, part)
                windows.append(
                    FairnessWindow(
                        variant=str(variant),
                        column=name,
                        start=float(start),
                        end=end,
                        count=len(part),
                        by_group={
                            m: {str(g): float(by_group.loc[g, m]) for g in by_group.index}
                            for m in chosen
                        },
                        overall={m: float(frame.overall[m]) for m in chosen},
                        difference={m: float(diff[m]) for m in chosen},
                        ratio={m: float(ratio[m]) for m in chosen},
                        counts={
                            str(g): int(c)
                            for g, c in zip(*np.unique(groups, return_counts=True), strict=True)
                        },
                    )
                )
                frames[(name, str(variant), float(start))] = frame
    return FairnessReport(deployment, tuple(columns), tuple(chosen), label, tuple(windows), frames)


#: A sensitive column with more distinct values than this, most rows alone in their group, warns.
MANY_GROUPS = 20


def _warn_continuous(column: str, groups: Any, deployment: str) -> None:
    """Warn when a sensitive column looks continuous: groups of one row make every disparity extreme."""
    import numpy as np

    from opskit.errors import OpskitWarning

    distinct = len(np.unique(groups))
    if distinct > MANY_GROUPS and distinct > len(groups) / 2:
        warnings.warn(
            OpskitWarning(
                f"sensitive column {column!r} of {deployment!r} has {distinct} distinct values in "
                f"{len(groups)} rows: each value is a group, so the parity differences compare single "
                "rows. Log a grouped column (age band, region), or bin the values before serving"
            ),
            stacklevel=3,
        )


#: The group of a missing sensitive value (None, NaN, NaT, pd.NA), whatever the column's type.
MISSING_GROUP = "<missing>"


def _groups(values: Any) -> Any:
    """Sensitive values as text groups; every kind of missing value is one group, :data:`MISSING_GROUP`."""
    import numpy as np

    text = values.astype(object).where(values.notna(), None)
    return np.array([MISSING_GROUP if v is None else str(v) for v in text], dtype=object)


# -- check -----------------------------------------------------------------------------------------

#: How many times a check plans again after a concurrent check of the same deployment committed first.
CHECK_ATTEMPTS = 8


def _batch_frame(chosen: Any) -> Any:
    """The prediction rows of the batches *chosen* takes (with the old JSON-lines log on a first check)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from opskit.runtime import get_storage
    from opskit.serve.predlog import _empty, _legacy_tables, _read_batch, combine_tables

    storage = get_storage()
    tables = list(_legacy_tables(chosen.deployment)) if chosen.legacy_log else []
    tables += [_read_batch(storage, entry) for _, _, entry in chosen.entries]
    if not tables:
        return _empty().to_pandas()
    table = combine_tables(tables)
    stamp = pa.timestamp("us", tz="UTC")
    if chosen.legacy_since is not None:  # continuing a ts-range check: the rows from its end on
        table = table.filter(
            pc.greater_equal(
                table.column("ts"), pa.scalar(int(chosen.legacy_since * 1_000_000), stamp)
            )
        )
    if table.num_rows > 1:
        table = table.take(pc.sort_indices(table, sort_keys=[("ts", "ascending")]))
    return table.to_pandas()


def check(
    deployment: str,
    *,
    thresholds: Iterable[object] | None = None,
    lookback: str = "7d",
    settle: float | None = None,
    drift_share: float | None = None,
    alpha: float | None = None,
    advance: bool = True,
) -> MonitorCheck:
    """Check *deployment*: drift of the predictions logged since the last check, and performance thresholds.

    The unit of a check is the prediction log's *batch*: every batch indexed since the
    last check is taken, however late it reached the index (a store outage, a slow
    tracker, a server flushing at close), and no batch is taken twice, even by two
    checks running at once (``opskit.monitor.checkpoint``). Its primary and canary rows
    are compared with the stored reference profile of the version the primary serves;
    ``result.since`` / ``result.until`` are the request times of the rows covered. When
    labels exist, performance over the last *lookback* is computed as one window per
    variant and *thresholds* (validation gates) are decided on it. The state (kind
    ``monitor-checks``) moves past the batches taken unless *advance* is False.
    *settle* is deprecated and ignored: no delay is needed for a row to be checked.
    ``result.alert`` is ``drifted or degraded``; ``opskit monitor check`` exits 1 on it.
    """
    from opskit.monitor import checkpoint
    from opskit.runtime import get_tracker

    _check_deployment(deployment)
    if settle is not None:
        if not (
            isinstance(settle, int | float)
            and not isinstance(settle, bool)
            and settle >= 0
            and math.isfinite(settle)
        ):
            raise InvalidValue(f"settle={settle!r}: pass a number of seconds >= 0, or leave it out")
        warnings.warn(
            "check(settle=...) is deprecated and ignored: every batch of the prediction log is "
            "checked once, however late it is written; leave settle out",
            DeprecationWarning,
            stacklevel=2,
        )
    _, lookback_seconds = _window(lookback, "lookback")
    gate_list = _gates(thresholds)
    tracker = get_tracker()
    for _attempt in range(CHECK_ATTEMPTS):
        chosen = checkpoint.plan(tracker, deployment)
        result, report, perf = _check_batches(
            deployment, chosen, lookback, lookback_seconds, gate_list, drift_share, alpha
        )
        if not advance:
            break
        extra = {
            "since": result.since,
            "until": result.until,
            "checked_at": time.time(),
            "rows": result.rows,
            "batches": len(chosen.entries),
            "reference": result.reference,
            "drifted": result.drifted,
            "share_drifted": None if report is None else report.share_drifted,
            "degraded": result.degraded,
        }
        if checkpoint.commit(tracker, chosen, extra):
            break
    else:
        from opskit.errors import StoreError

        raise StoreError(
            f"{CHECK_ATTEMPTS} other checks of {deployment!r} committed while this one ran: "
            "nothing was stored; run the check again"
        )
    # Side effects only for the check that took the batches (a losing attempt was recomputed).
    from opskit.monitor import alerts

    if report is not None:
        try:
            alerts.record_drift(deployment, report)
        except Exception:  # the result is still returned (and alerted)
            alerts.logger.exception("could not store the latest drift of %r", deployment)
        if report.drifted:
            alerts.drift_detected(report, deployment=deployment)
    if perf is not None:
        _notify_performance(deployment, perf)
    return result


def _check_batches(
    deployment: str,
    chosen: Any,
    lookback: str,
    lookback_seconds: float | None,
    gate_list: Sequence[Any],
    drift_share: float | None,
    alpha: float | None,
) -> tuple[MonitorCheck, Any, PerformanceReport | None]:
    """The check of the batches *chosen* takes, computed without side effects."""
    from opskit.monitor.detect import ALPHA, DRIFT_SHARE, drift

    now = time.time()
    notes = list(chosen.notes)
    frame = _batch_frame(chosen)
    served = frame[frame["role"] != "shadow"]
    reference: str | None = None
    report = None
    if len(frame):
        since: float | None = float(frame["ts"].min().timestamp())
        until = float(frame["ts"].max().timestamp()) + 1e-6
    else:
        since = until = now
    if len(served) == 0:
        notes.append("no new predictions since the last check: drift not computed")
    else:
        primary = served[served["role"] == "primary"]
        reference = str((primary if len(primary) else served)["version"].iloc[-1])
        try:
            report = drift(
                reference=reference,
                current=deployment_inputs(served),
                drift_share=DRIFT_SHARE if drift_share is None else drift_share,
                alpha=ALPHA if alpha is None else alpha,
                alert=False,  # check() records and alerts once its batches are its own
            )
        except (ProfileNotFound, ModelNotFound, InvalidModelRef) as exc:
            # A version registered without table data, or gone: say so, check what can be checked.
            notes.append(f"drift not computed: {exc}")
    perf = None
    if labels(deployment).shape[0]:
        assert lookback_seconds is not None
        perf = _performance(
            deployment,
            None,
            None,
            since=now - lookback_seconds,
            until=now,
            thresholds=gate_list,
            task=None,
        )
        if perf.n_labelled == 0:
            notes.append(f"no labelled predictions in the last {lookback}: performance not checked")
    elif gate_list:
        notes.append("no labels logged yet (opskit.monitor.log_labels): thresholds not checked")
    result = MonitorCheck(
        deployment,
        since,
        until,
        len(served),
        reference,
        report,
        perf,
        tuple(notes),
        batches=len(chosen.entries),
        batch_keys=tuple(f"{day}/{key}" for day, key, _ in chosen.entries),
    )
    return result, report, perf
