"""Reading a deployment's prediction log: a DataFrame, or Parquet files / a pyarrow dataset to stream.

    df = opskit.monitor.predictions("wine-prod", since="2026-11-30", until="2026-12-01")
    ds = opskit.monitor.predictions_dataset("wine-prod", since=yesterday)   # pyarrow.dataset
    opskit.monitor.drift(reference="wine@production", current=ds.to_table())

Only the days in ``[since, until)`` are listed (one index per deployment and UTC
day, see ``opskit.serve.predlog``). ``since`` and ``until`` take a ``datetime``
(naive means UTC), a ``date`` (its UTC midnight), an ISO 8601 text, a pandas
``Timestamp`` or epoch seconds.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

from opskit.errors import InvalidValue

__all__ = [
    "deployment_inputs",
    "prediction_files",
    "predictions",
    "predictions_dataset",
    "served_inputs",
]

#: ``opskit.deployments.client.STATE_KIND`` (not imported: the client imports this module).
_DEPLOYMENT_KIND = "deployment"


#: The epoch seconds a bound may take: the range Python's datetime can represent, less a day each side.
EPOCH_MIN = datetime(1, 1, 2, tzinfo=UTC).timestamp()
EPOCH_MAX = datetime(9999, 12, 30, tzinfo=UTC).timestamp()


def _epoch(value: object, name: str) -> float | None:
    """*value* as epoch seconds (UTC), or ``InvalidValue`` naming it.

    Takes a ``datetime`` (naive means UTC; a pandas ``Timestamp`` is one), a ``date``, an
    ISO 8601 text, epoch seconds (int, float, NumPy numbers) or a NumPy ``datetime64``.
    """
    if value is None:
        return None
    if isinstance(value, bool) or _is_missing_time(value):
        raise _bad(value, name)
    if type(value).__module__ == "numpy":
        value = _from_numpy(value, name)
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise _bad(value, name)
        seconds = float(value)
        if not EPOCH_MIN <= seconds <= EPOCH_MAX:
            hint = (
                f" (it looks like milliseconds: pass {seconds / 1000:.3f})"
                if EPOCH_MAX < seconds <= EPOCH_MAX * 1000
                else ""
            )
            raise InvalidValue(
                f"{name}={value!r} epoch seconds is outside the years 1-9999{hint}: pass epoch "
                "seconds, a datetime, a date or an ISO 8601 text"
            )
        return seconds
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise _bad(value, name) from None
    if isinstance(value, datetime):  # pandas.Timestamp is a datetime
        stamp = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        try:
            seconds = stamp.timestamp()
        except (OverflowError, ValueError):
            raise _bad(value, name) from None
        return min(max(seconds, EPOCH_MIN), EPOCH_MAX)  # datetime.max and .min mean "no bound"
    if isinstance(value, date):
        seconds = datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
        return min(max(seconds, EPOCH_MIN), EPOCH_MAX)
    raise _bad(value, name)


def _is_missing_time(value: object) -> bool:
    """pandas.NaT, pandas.NA, numpy NaT: no point in time."""
    if type(value).__name__ in {"NaTType", "NAType"}:
        return True
    return type(value).__module__ == "numpy" and str(value) == "NaT"


def _from_numpy(value: Any, name: str) -> object:
    """A NumPy scalar as a Python number or datetime (``datetime64`` in any unit)."""
    kind = getattr(getattr(value, "dtype", None), "kind", "")
    if kind == "M":
        microseconds = int(value.astype("datetime64[us]").astype("int64"))
        return microseconds / 1_000_000
    if kind in "iuf":
        return value.item()
    raise _bad(value, name)


def _bad(value: object, name: str) -> InvalidValue:
    return InvalidValue(
        f"{name}={value!r} is not a point in time: pass a datetime (naive means UTC), a date, "
        f"an ISO 8601 text such as '2026-12-01T08:00:00+00:00', or epoch seconds"
    )


def _name(deployment: object) -> str:
    """*deployment* as a deployment name, or ``InvalidValue`` (None, "" or not a text)."""
    if not isinstance(deployment, str) or not deployment.strip():
        raise InvalidValue(
            f"deployment={deployment!r}: pass a deployment's name (opskit deployments list shows them)"
        )
    return deployment


def _range(since: object, until: object) -> tuple[float | None, float | None]:
    low, high = _epoch(since, "since"), _epoch(until, "until")
    if low is not None and high is not None and high < low:
        raise InvalidValue(f"until={until!r} is before since={since!r}: swap them")
    return low, high


def predictions(deployment: str, since: object = None, until: object = None) -> Any:
    """The prediction log of *deployment* in ``[since, until)`` as a pandas DataFrame.

    One row per scored input row: ``request_id``, ``row`` (index in its request),
    ``ts`` (UTC), ``deployment``, ``variant`` (the reference served, e.g.
    ``wine@challenger``), ``role`` (``primary``, ``canary`` or ``shadow``),
    ``version`` (``wine:2``), the input columns, and ``prediction`` (or
    ``prediction_<i>`` / ``prediction_<key>`` for models that return several
    values per row). Oldest first. A range with no records gives an empty frame with
    the columns and types of the log's latest batch (the fixed columns alone when
    nothing was logged yet).

    Raises ``InvalidValue`` for a bad name or bound, ``DeploymentNotFound`` for a name
    never deployed nor logged.
    """
    from opskit.serve.predlog import read_table

    _name(deployment)
    low, high = _range(since, until)
    table = read_table(deployment, low, high)
    if table.num_rows == 0:
        _check_known(deployment)
    return table.to_pandas(self_destruct=True, split_blocks=True)


def _check_known(deployment: str) -> None:
    """``DeploymentNotFound`` when *deployment* was never deployed nor logged (a typo, not an empty log)."""
    from opskit.errors import DeploymentNotFound
    from opskit.runtime import get_tracker
    from opskit.serve.predlog import DAYS_KIND

    tracker = get_tracker()
    if tracker.get_state(_DEPLOYMENT_KIND, deployment) is not None:
        return
    if any(key.startswith(f"{deployment}/") for key in tracker.list_state(DAYS_KIND)):
        return
    known = ", ".join(sorted(tracker.list_state(_DEPLOYMENT_KIND))) or "none"
    raise DeploymentNotFound(
        f"no deployment named {deployment!r} and no prediction log for it (known deployments: {known})"
    )


def prediction_files(deployment: str, since: object = None, until: object = None) -> list[str]:
    """Local paths of the Parquet batches that may hold records of *deployment* in ``[since, until)``.

    With the local storage these are the stored blobs themselves (read-only, nothing
    is copied); with another storage each blob is downloaded (verified) once into
    ``<home>/cache/predictions/``. Batches hold whole requests, so a file may hold a
    few records just outside the range: filter on ``ts`` (``predictions_dataset`` does).
    """
    from opskit.runtime import get_config, get_storage
    from opskit.serve.predlog import batches
    from opskit.storage.local import LocalStorage

    _name(deployment)
    low, high = _range(since, until)
    storage = get_storage()
    out: list[str] = []
    cache = get_config().home / "cache" / "predictions"
    for entry in batches(deployment, low, high):
        digest = str(entry["digest"])
        if isinstance(storage, LocalStorage):
            out.append(str(storage._path(digest)))
            continue
        local = cache / digest.replace(":", "-")
        if not local.exists():
            storage.get_file(digest, local)
        out.append(str(local))
    return out


def predictions_dataset(deployment: str, since: object = None, until: object = None) -> Any:
    """A ``pyarrow.dataset`` over *deployment*'s log in ``[since, until)``, for streaming (filtered on ``ts``).

    ``predictions_dataset(...).to_batches()`` reads batch by batch; monitoring's
    Parquet streaming takes it through ``.to_table()`` or its files
    (``prediction_files``). The schema is the union of the batches' schemas.
    """
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    _name(deployment)
    low, high = _range(since, until)
    files = prediction_files(deployment, since, until)
    if not files:
        from opskit.serve.predlog import read_table

        return ds.dataset(read_table(deployment, low, high))
    schemas = [pq.read_schema(f) for f in files]
    try:
        schema = pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # Batches that typed a column differently (a log written by an older opskit, which
        # logged values as received): read them whole, each column converted to one type.
        from opskit.serve.predlog import read_table

        return ds.dataset(read_table(deployment, low, high))
    dataset = ds.dataset(files, format="parquet", schema=schema)
    stamp = pa.timestamp("us", tz="UTC")
    condition = None
    if low is not None:
        condition = ds.field("ts") >= pa.scalar(int(low * 1_000_000), stamp)
    if high is not None:
        upper = ds.field("ts") < pa.scalar(int(high * 1_000_000), stamp)
        condition = upper if condition is None else condition & upper
    return dataset if condition is None else dataset.filter(condition)


def _output_columns(columns: Any) -> set[str]:
    """The model-output columns of a log frame: ``prediction``, or ``prediction_<x>`` when there is none.

    Logs written before inputs named ``prediction...`` were prefixed with ``input.`` hold
    such an input unprefixed next to ``prediction``: it is an input.
    """
    names = [str(c) for c in columns]
    if "prediction" in names:
        return {"prediction"}
    return {c for c in names if c.startswith("prediction_")}


def deployment_inputs(frame: Any) -> Any:
    """The input columns of a prediction-log DataFrame (meta and prediction columns dropped, ``input.`` prefixes undone)."""
    from opskit.serve.predlog import INPUT_PREFIX, META_COLUMNS

    outputs = _output_columns(frame.columns)
    keep = [c for c in frame.columns if c not in META_COLUMNS and c not in outputs]
    out = frame[keep]
    return out.rename(
        columns={c: c[len(INPUT_PREFIX) :] for c in keep if str(c).startswith(INPUT_PREFIX)}
    )


def served_inputs(deployment: str, since: object = None, until: object = None) -> Any:
    """The inputs *deployment* served in ``[since, until)``: primary and canary rows (shadow rows repeat them)."""
    frame = predictions(deployment, since, until)
    return deployment_inputs(frame[frame["role"] != "shadow"])
