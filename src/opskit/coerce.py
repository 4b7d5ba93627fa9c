"""Values as received (JSON or CSV) → the exact dtypes a model was trained on.

One implementation of "is this value acceptable for this column, and what is it
as the training dtype": the model server uses it for every request, and it
depends on neither starlette nor the server. pandas and NumPy are imported
lazily (``import opskit`` stays light).

Each column is checked and cast column-wise with vectorised pandas/NumPy
operations; when a vectorised cast fails, the column is walked value by value to
name the first offending row in an ``InvalidPayload``. The rules per dtype
(documented in docs/deploy.md):

* missing values (JSON ``null``, ``NaN``, an empty CSV field; in a float column
  ``NaN`` is a float value of its own, with the same rule) are
  accepted only when the dtype can hold them and the training data had missing
  values in that column (signatures recorded before opskit stored that fact
  accept them where the dtype can hold them, as before);
* ``Infinity``/``-Infinity`` (and numbers too large for a double, such as
  ``1e400``) are accepted in a float column only when the training data had
  infinite values there;
* integers must be integral and in range of the integer dtype; booleans are
  ``true``/``false`` only (never 0/1 in JSON);
* datetimes are ISO 8601 strings or numbers of epoch milliseconds (what pandas'
  ``to_json`` sends); a string without UTC offset is read in the column's time
  zone, and a string with an offset is refused for a column without time zone;
* categories must be one of the categories seen in training.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

from attrs import frozen

from opskit.errors import InvalidPayload
from opskit.records import ColumnSpec, Schema

__all__ = [
    "Cast",
    "cast_table",
    "check_frame",
    "column_kind",
    "json_cell",
    "merge_casts",
    "sent_values",
]

_NONE = type(None)


class _Bad(Exception):
    """Why one value cannot be cast (the caller adds column and row)."""


@frozen
class Cast:
    """A request's rows as the model's input.

    ``columns`` and ``rows`` are the values as received, in schema order (for the
    prediction log); ``data`` is what the model gets: a DataFrame with the
    training dtypes, or an ndarray for tensor signatures. ``raw`` is ``data``
    before the DataFrame is built: when ``labels`` is set it is a float64 matrix
    whose DataFrame is built once per micro-batch (``merge_casts``), off the
    request path.
    """

    columns: tuple[str, ...] | None
    rows: list[list[Any]]
    raw: Any
    labels: Any = None

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def data(self) -> Any:
        return merge_casts([self])


def merge_casts(parts: Sequence[Cast]) -> Any:
    """The model input of several requests stacked into one (for micro-batches)."""
    import numpy as np
    import pandas as pd

    if all(p.labels is not None for p in parts):
        matrix = parts[0].raw if len(parts) == 1 else np.vstack([p.raw for p in parts])
        return pd.DataFrame(matrix, columns=parts[0].labels, copy=False)
    frames = [
        pd.DataFrame(p.raw, columns=p.labels, copy=False) if p.labels is not None else p.raw
        for p in parts
    ]
    if len(frames) == 1:
        return frames[0]
    if isinstance(frames[0], np.ndarray):
        return np.concatenate(frames)
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- kinds


class _Kind:
    """How to check and build one column of a given dtype."""

    expected = "a value"
    can_miss = True
    #: A float NaN reads as a missing value (as pandas reads NaN into a nullable column); float columns
    #: keep NaN as a value of their own.
    nan_is_missing = True

    def __init__(self, spec: ColumnSpec, dtype: Any) -> None:
        self.spec = spec
        self.dtype = dtype
        self.missing_ok = self.can_miss and spec.missing is not False

    # the per-value path: converts one value or raises _Bad
    def one(self, value: Any) -> Any:
        return value

    # the vectorised path: the built column, or None when some value needs the per-value path
    def fast(self, values: list[Any]) -> Any:
        return None

    def build(self, values: list[Any]) -> Any:
        import pandas as pd

        return pd.Series(values, dtype=object)  # one cell per value, even when a value is a list

    def from_text(self, text: str | None) -> Any:
        return None if text == "" else text

    def missing(self) -> Any:
        if not self.missing_ok:
            why = (
                "the model was trained without missing values in this column"
                if self.can_miss
                else (f"the column's dtype {self.spec.type} cannot hold missing values")
            )
            raise _Bad(f"got a missing value, but {why}; send {self.expected}")
        return None


class _Any(_Kind):
    nan_is_missing = False

    def fast(self, values: list[Any]) -> Any:
        return self.build(values)


class _Float(_Kind):
    expected = "a number"
    nan_is_missing = False

    def __init__(self, spec: ColumnSpec, dtype: Any) -> None:
        super().__init__(spec, dtype)
        import numpy as np

        self.inf_ok = spec.infinite is True
        self.numpy = isinstance(dtype, np.dtype)
        self.np_dtype = dtype if self.numpy else dtype.numpy_dtype

    def one(self, value: Any) -> Any:
        if value is None:
            return self.missing()
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _Bad(f"expected {self.expected}")
        try:
            number = float(value)
        except OverflowError:
            number = math.copysign(math.inf, value)
        if math.isnan(number):
            self.missing()
            return math.nan
        if math.isinf(number) and not self.inf_ok:
            raise _Bad(
                "infinite, but the model was trained without infinite values in this column; send a finite number"
            )
        if self.np_dtype.itemsize < 8 and math.isfinite(number):
            import numpy as np

            with np.errstate(over="ignore"):
                narrowed = float(np.array(number).astype(self.np_dtype))
            if not math.isfinite(narrowed):
                raise _Bad(f"out of range for {self.spec.type}")
        return number

    def fast(self, values: list[Any]) -> Any:
        import numpy as np

        types = set(map(type, values))
        if _NONE in types:
            if not self.missing_ok:
                return None
            values = [math.nan if v is None else v for v in values]
            types.discard(_NONE)
        if not types <= {float, int}:
            return None
        try:
            arr = np.array(values, dtype=np.float64)
        except OverflowError:
            return None
        if not self.missing_ok and np.isnan(arr).any():
            return None
        if not self.inf_ok and np.isinf(arr).any():
            return None
        return self._finish(arr)

    def _finish(self, arr: Any) -> Any:
        import numpy as np
        import pandas as pd

        out = arr
        if self.np_dtype != np.float64:
            with np.errstate(over="ignore"):
                out = arr.astype(self.np_dtype)
            if (np.isinf(out) & np.isfinite(arr)).any():
                return None
        if self.numpy:
            return out
        return pd.arrays.FloatingArray(out, np.isnan(out))

    def build(self, values: list[Any]) -> Any:
        import numpy as np

        out = self._finish(np.array(values, dtype=np.float64))
        if out is None:  # pragma: no cover - every value passed `one`
            raise _Bad(f"out of range for {self.spec.type}")
        return out

    def from_text(self, text: str | None) -> Any:
        if text is None or text == "":
            return None
        try:
            return float(text)
        except ValueError:
            return text


class _Int(_Kind):
    expected = "an integer"

    def __init__(self, spec: ColumnSpec, dtype: Any) -> None:
        super().__init__(spec, dtype)
        import numpy as np

        self.numpy = isinstance(dtype, np.dtype)
        self.can_miss = not self.numpy
        self.missing_ok = self.can_miss and spec.missing is not False
        info = np.iinfo(dtype if self.numpy else dtype.numpy_dtype)
        self.lo, self.hi = int(info.min), int(info.max)

    def one(self, value: Any) -> Any:
        if value is None:
            return self.missing()
        if isinstance(value, bool):
            raise _Bad(f"expected {self.expected}")
        if isinstance(value, float):
            if not (math.isfinite(value) and value.is_integer()):
                raise _Bad(f"expected {self.expected}")
            value = int(value)
        if not isinstance(value, int):
            raise _Bad(f"expected {self.expected}")
        if not self.lo <= value <= self.hi:
            raise _Bad(f"out of range for {self.spec.type} ({self.lo} to {self.hi})")
        return value

    def fast(self, values: list[Any]) -> Any:
        types = set(map(type, values))
        if types == {int} or (types == {int, _NONE} and self.missing_ok):
            try:
                return self.build(values)
            except (OverflowError, ValueError, TypeError):
                return None
        return None

    def build(self, values: list[Any]) -> Any:
        import numpy as np
        import pandas as pd

        if self.numpy:
            return np.array(values, dtype=self.dtype)
        return pd.array(values, dtype=self.dtype)

    def from_text(self, text: str | None) -> Any:
        if text is None or text == "":
            return None
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                return text


class _Bool(_Kind):
    expected = "true or false"

    def __init__(self, spec: ColumnSpec, dtype: Any) -> None:
        super().__init__(spec, dtype)
        import numpy as np

        self.numpy = isinstance(dtype, np.dtype)
        self.can_miss = not self.numpy
        self.missing_ok = self.can_miss and spec.missing is not False

    def one(self, value: Any) -> Any:
        if value is None:
            return self.missing()
        if not isinstance(value, bool):
            raise _Bad(f"expected {self.expected}")
        return value

    def fast(self, values: list[Any]) -> Any:
        types = set(map(type, values))
        if types == {bool} or (types == {bool, _NONE} and self.missing_ok):
            return self.build(values)
        return None

    def build(self, values: list[Any]) -> Any:
        import numpy as np
        import pandas as pd

        if self.numpy:
            return np.array(values, dtype=bool)
        return pd.array(values, dtype=self.dtype)

    def from_text(self, text: str | None) -> Any:
        if text is None or text == "":
            return None
        word = text.strip().lower()
        if word == "nan":
            return None
        return {"true": True, "false": False, "1": True, "0": False}.get(word, text)


class _Str(_Kind):
    expected = "a string"

    def __init__(self, spec: ColumnSpec, dtype: Any) -> None:
        super().__init__(spec, dtype)
        import numpy as np

        self.object = isinstance(dtype, np.dtype)

    def one(self, value: Any) -> Any:
        if value is None:
            return self.missing()
        if not isinstance(value, str):
            raise _Bad(f"expected {self.expected}")
        return value

    def fast(self, values: list[Any]) -> Any:
        types = set(map(type, values))
        if types == {str} or (types == {str, _NONE} and self.missing_ok):
            return self.build(values)
        return None

    def build(self, values: list[Any]) -> Any:
        import numpy as np
        import pandas as pd

        if self.object:  # a Series: a bare object array of strings would become pandas' str dtype
            return pd.Series(np.array(values, dtype=object), dtype=object, copy=False)
        return pd.array(values, dtype=self.dtype)


class _Category(_Kind):
    def __init__(self, spec: ColumnSpec, dtype: Any) -> None:
        super().__init__(spec, dtype)
        self.known = None if spec.categories is None else set(spec.categories)
        shown = ", ".join(map(repr, (spec.categories or ())[:10]))
        more = ", ..." if len(spec.categories or ()) > 10 else ""
        self.expected = f"one of the categories the model was trained on ({shown}{more})"

    def one(self, value: Any) -> Any:
        if value is None:
            return self.missing()
        try:
            unknown = self.known is not None and value not in self.known
        except TypeError:  # unhashable: a list or an object
            unknown = True
        if unknown or isinstance(value, list | dict):
            raise _Bad(f"expected {self.expected}")
        return value

    def fast(self, values: list[Any]) -> Any:
        import pandas as pd

        if self.known is None:
            return None
        try:
            seen = set(values)
        except TypeError:  # a list or an object among the values
            return None
        if _NONE in seen:
            if not self.missing_ok:
                return None
            seen.discard(None)
        if not seen <= self.known or any(type(v) is bool for v in seen) != any(
            type(c) is bool for c in self.known
        ):
            return None
        return pd.Categorical(values, dtype=self.dtype)

    def build(self, values: list[Any]) -> Any:
        import pandas as pd

        return pd.Categorical(values, dtype=self.dtype)


class _Datetime(_Kind):
    expected = "an ISO 8601 date-time string or epoch milliseconds"

    def __init__(self, spec: ColumnSpec, dtype: Any) -> None:
        super().__init__(spec, dtype)
        self.tz = getattr(dtype, "tz", None)

    def _localize(self, stamps: Any) -> Any:
        if self.tz is None:
            if stamps.tz is not None:
                raise _Bad(
                    "has a UTC offset, but the model was trained on datetimes without time zone; send it without offset"
                )
            return stamps
        return stamps.tz_localize(self.tz) if stamps.tz is None else stamps.tz_convert(self.tz)

    def one(self, value: Any) -> Any:
        import pandas as pd

        if value is None:
            return self.missing()
        try:
            if isinstance(value, str):
                stamps = pd.to_datetime([value], format="ISO8601")
            elif (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and math.isfinite(value)
            ):
                stamps = pd.to_datetime([value], unit="ms")
                if self.tz is not None:
                    stamps = stamps.tz_localize("UTC")
            else:
                raise _Bad(f"expected {self.expected}")
            if stamps.isna().any():  # "NaN", "NaT" and "" parse as NaT: a missing value is null
                raise _Bad(f"expected {self.expected}; send null for a missing value")
            return self._localize(stamps).astype(self.dtype)[0]
        except (ValueError, OverflowError) as exc:
            if isinstance(exc, _Bad):
                raise
            raise _Bad(f"expected {self.expected} in range of {self.spec.type}") from None

    def fast(self, values: list[Any]) -> Any:
        import pandas as pd

        types = set(map(type, values))
        if _NONE in types and not self.missing_ok:
            return None
        types.discard(_NONE)
        try:
            if types == {str}:
                stamps = self._localize(pd.to_datetime(values, format="ISO8601"))
                if (
                    stamps.isna().any()
                ):  # a string that parses as NaT ("NaN", "NaT") is not a date-time
                    return None
            elif types and types <= {int, float}:
                if not all(v is None or math.isfinite(v) for v in values):
                    return (
                        None  # NaN (missing) and infinities take the per-value path and its rules
                    )
                stamps = pd.to_datetime(values, unit="ms")
                if self.tz is not None:
                    stamps = stamps.tz_localize("UTC").tz_convert(self.tz)
            else:
                return None
            return stamps.astype(self.dtype).array
        except (ValueError, OverflowError, TypeError, _Bad):
            return None

    def build(self, values: list[Any]) -> Any:
        import pandas as pd

        return pd.array(values, dtype=self.dtype)

    def from_text(self, text: str | None) -> Any:
        if text is None or text == "" or text.strip().lower() == "nan":
            return None
        return text


@functools.lru_cache(maxsize=512)
def column_kind(spec: ColumnSpec) -> _Kind:
    """The checker/caster for one column spec (cached: specs are immutable)."""
    import numpy as np
    import pandas as pd

    try:
        if spec.type == "category":
            categories = None if spec.categories is None else pd.Index(list(spec.categories))
            return _Category(spec, pd.CategoricalDtype(categories, ordered=bool(spec.ordered)))
        dtype = pd.api.types.pandas_dtype(spec.type)
    except (TypeError, ValueError):
        return _Any(spec, None)
    if isinstance(dtype, pd.DatetimeTZDtype) or (isinstance(dtype, np.dtype) and dtype.kind == "M"):
        return _Datetime(spec, dtype)
    if isinstance(dtype, pd.StringDtype) or (isinstance(dtype, np.dtype) and dtype.kind == "O"):
        return _Str(spec, dtype)
    kind = getattr(dtype, "kind", "")
    if kind == "f":
        return _Float(spec, dtype)
    if kind in "iu" and kind:
        return _Int(spec, dtype)
    if kind == "b":
        return _Bool(spec, dtype)
    return _Any(spec, None)


def _column(
    kind: _Kind, name: str, values: list[Any], text: bool, where: Callable[[int], str] | None = None
) -> Any:
    if text:
        values = [kind.from_text(v) for v in values]
    built = kind.fast(values)
    if built is not None:
        return built
    cast: list[Any] = []
    for i, value in enumerate(values):
        try:
            if kind.nan_is_missing and isinstance(value, float) and math.isnan(value):
                value = None
            cast.append(kind.one(value))
        except _Bad as bad:
            at = where(i) if where is not None else f"column {name!r} row {i}"
            raise InvalidPayload(
                f"{at}: got {_show(value)} for {kind.spec.type}: {bad}", field=name
            ) from None
    return kind.build(cast)


def _show(value: Any) -> str:
    """A value as the client sent it (JSON spelling for null, NaN and infinities)."""
    if value is None:
        return "null"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --------------------------------------------------------------------------- tables


def _in_schema_order(
    columns: tuple[str, ...] | None, rows: list[list[Any]], names: list[str]
) -> list[list[Any]]:
    if columns is None:
        for i, row in enumerate(rows):
            if len(row) != len(names):
                raise InvalidPayload(
                    f"row {i} has {len(row)} values but the model takes {len(names)} columns "
                    f"({', '.join(names)}); send named columns or one value per column",
                    field=f"row {i}",
                )
        return rows
    present = set(columns)
    missing = [n for n in names if n not in present]
    if missing:
        raise InvalidPayload(
            f"missing column {missing[0]!r} (missing: {', '.join(missing)}); the model takes {', '.join(names)}",
            field=missing[0],
        )
    wanted = set(names)
    extra = [c for c in columns if c not in wanted]
    if extra:
        raise InvalidPayload(
            f"unexpected column {extra[0]!r} (extra: {', '.join(extra)}); the model takes only {', '.join(names)}",
            field=extra[0],
        )
    if list(columns) == names:
        return rows
    order = [columns.index(n) for n in names]
    return [[row[j] for j in order] for row in rows]


def _untyped(columns: tuple[str, ...] | None, rows: list[list[Any]], text: bool) -> Any:
    """A frame with inferred dtypes, for versions without a signature."""
    import pandas as pd

    width = len(columns) if columns is not None else (len(rows[0]) if rows else 0)
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            raise InvalidPayload(
                f"row {i} has {len(row) if isinstance(row, list) else 1} values but row 0 has {width}; "
                "send one value per column in every row",
                field=f"row {i}",
            )
    frame = pd.DataFrame(rows, columns=list(columns) if columns is not None else None)
    if text:
        for name in frame.columns:
            frame[name] = _numeric(frame[name])
    return frame


def _numeric(series: Any) -> Any:
    import pandas as pd

    series = series.replace("", None)
    try:
        return pd.to_numeric(series)
    except (ValueError, TypeError):
        return series


def _tensor(schema: Schema, rows: list[list[Any]], text: bool) -> Any:
    import numpy as np

    shape = schema.shape or (None,)
    dtype = np.dtype(schema.columns[0].type) if schema.columns else None
    if len(shape) <= 2 and schema.columns:
        width = len(schema.columns)
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != width:
                count = len(row) if isinstance(row, list) else "a scalar, not"
                raise InvalidPayload(
                    f"row {i} has {count} values, but the model takes arrays of shape {_shape(shape)}",
                    field=f"row {i}",
                )
        columns = list(zip(*rows, strict=True)) if rows else [()] * width
        built = [
            np.asarray(_column(column_kind(spec), f"{spec.name}", list(values), text))
            for spec, values in zip(schema.columns, columns, strict=True)
        ]
        arr = np.column_stack(built).astype(dtype) if dtype is not None else np.column_stack(built)
        return arr.reshape(len(rows)) if len(shape) == 1 else arr
    expected = tuple(shape[1:])
    try:
        arr = np.array(rows, dtype=object)
        ragged = False
    except ValueError:
        arr, ragged = np.empty(0, dtype=object), True
    if (
        ragged
        or len(arr.shape) != len(shape)
        or any(d is not None and d != arr.shape[1 + k] for k, d in enumerate(expected))
    ):
        for i, row in enumerate(rows):
            try:
                got: tuple[int, ...] = tuple(np.shape(np.array(row, dtype=object)))
            except ValueError:
                got = ()
            if (
                ragged
                or len(got) != len(expected)
                or any(d is not None and d != g for d, g in zip(expected, got, strict=True))
            ):
                raise InvalidPayload(
                    f"row {i} has shape {got if got else 'ragged'}, but the model takes arrays of shape {_shape(shape)}",
                    field=f"row {i}",
                )
    if dtype is None:
        return arr
    spec = ColumnSpec("0", str(dtype))
    kind = column_kind(spec)
    flat = list(arr.reshape(-1))
    size = max(1, math.prod(arr.shape[1:]))
    values = _column(kind, "0", flat, text, where=lambda i: f"row {i // size} element {i % size}")
    return np.asarray(values, dtype=dtype).reshape(arr.shape)


def _shape(shape: Sequence[int | None]) -> str:
    return (
        "("
        + ", ".join("n" if d is None else str(d) for d in shape)
        + ("," if len(shape) == 1 else "")
        + ")"
    )


class _Plan:
    """What a schema needs per request, computed once per schema object."""

    def __init__(self, schema: Schema) -> None:
        import numpy as np
        import pandas as pd

        self.names = schema.names
        self.labels = pd.Index(self.names)
        self.kinds = [column_kind(spec) for spec in schema.columns]
        self.all_float64 = (
            schema.kind == "table"
            and bool(schema.columns)
            and all(spec.type == "float64" for spec in schema.columns)
        )
        self.nan_ok = np.array([k.missing_ok for k in self.kinds], dtype=bool)
        self.inf_ok = np.array([spec.infinite is True for spec in schema.columns], dtype=bool)


_PLANS: dict[int, tuple[Schema, _Plan]] = {}


def _plan(schema: Schema) -> _Plan:
    hit = _PLANS.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]
    if len(_PLANS) > 256:
        _PLANS.clear()
    plan = _Plan(schema)
    _PLANS[id(schema)] = (schema, plan)
    return plan


def cast_table(
    columns: tuple[str, ...] | None,
    rows: list[list[Any]],
    schema: Schema | None,
    *,
    text: bool = False,
) -> Cast:
    """Check *rows* against *schema* and build the model's input with the training dtypes.

    *text* says the values are CSV fields (strings; an empty field is missing).
    Raises ``InvalidPayload`` naming the column (and row) of the first problem.
    """
    if schema is None or (not schema.columns and schema.kind == "table"):
        return Cast(columns, rows, _untyped(columns, rows, text))
    if schema.kind == "tensor":
        names = schema.names
        if columns is not None and list(columns) != names:
            if sorted(columns) != sorted(names):
                raise InvalidPayload(
                    f"the model takes a tensor of shape {_shape(schema.shape or (None,))}; send positional rows "
                    "(`inputs` or `instances`)",
                    field=columns[0] if columns else None,
                )
            rows = _in_schema_order(columns, rows, names)
        return Cast(None, rows, _tensor(schema, rows, text))
    import pandas as pd

    plan = _plan(schema)
    names = plan.names
    rows = _in_schema_order(columns, rows, names)
    if plan.all_float64 and not text:
        matrix = _float_matrix(plan, rows)
        if matrix is not None:
            return Cast(tuple(names), rows, matrix, plan.labels)
    transposed = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    data = {
        name: _column(kind, name, list(values), text)
        for name, kind, values in zip(names, plan.kinds, transposed, strict=True)
    }
    return Cast(tuple(names), rows, pd.DataFrame(data, copy=False))


def _float_matrix(plan: _Plan, rows: list[list[Any]]) -> Any:
    """The common all-float64 table as one NumPy matrix; None sends it down the per-column path."""
    import numpy as np

    types = set(map(type, itertools.chain.from_iterable(rows)))
    if not types <= {float, int}:
        return None
    try:
        matrix = np.array(rows, dtype=np.float64)
    except (OverflowError, ValueError):
        return None
    if matrix.ndim != 2 or matrix.shape[1] != len(plan.names):
        return None
    if not np.isfinite(matrix).all():
        nan, inf = np.isnan(matrix).any(axis=0), np.isinf(matrix).any(axis=0)
        if (nan & ~plan.nan_ok).any() or (inf & ~plan.inf_ok).any():
            return None
    return matrix


# --------------------------------------------------------------------------- frames


def check_frame(frame: Any, schema: Schema, *, allow_extra: bool = False) -> None:
    """Raise the ``InvalidPayload`` a deployment with *schema* would answer for *frame*'s rows, if any.

    The data check ``opskit.checks.matches_schema`` and the model server share this
    module's rules and messages: the columns are checked with the server's messages,
    then each column. A column whose dtype is the schema's is judged on its buffers
    (missing values, infinities, categories: vectorised); any other column goes through
    the server's per-column path with the values a JSON client would send (``null`` for
    missing values, ISO 8601 for timestamps), so the message names the same row and value.
    *allow_extra* accepts columns the schema does not have.
    """
    if schema.kind != "table" or not schema.columns:
        return
    plan = _plan(schema)
    columns = tuple(str(c) for c in frame.columns)
    if allow_extra:
        wanted = set(plan.names)
        columns = tuple(c for c in columns if c in wanted)
    _in_schema_order(columns, [], plan.names)
    for name, kind in zip(plan.names, plan.kinds, strict=True):
        series = frame[name]
        if not _column_fits(kind, series):
            _column(kind, name, sent_values(series), False)


def _column_fits(kind: _Kind, series: Any) -> bool:
    """True when *series* certainly passes *kind*'s rules, judged on its buffers (False: check value by value)."""
    import numpy as np
    import pandas as pd

    if isinstance(kind, _Any):
        return True
    dtype = series.dtype
    if isinstance(kind, _Category):
        if not isinstance(dtype, pd.CategoricalDtype) or kind.known is None:
            return False
        if not set(dtype.categories) <= kind.known:
            return False
    elif dtype != kind.dtype:
        return False
    elif (
        isinstance(kind, _Str)
        and kind.object
        and pd.api.types.infer_dtype(series, skipna=True) not in ("string", "empty")
    ):
        return False  # an object column may hold anything: only strings pass (C-speed type scan)
    if not kind.missing_ok and bool(series.isna().any()):
        return False
    if isinstance(kind, _Float) and not kind.inf_ok:
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        if bool(np.isinf(values).any()):
            return False
    return True


def json_cell(value: Any) -> Any:
    """One cell as exact JSON: missing → null, timestamps → ISO 8601 (full precision), NumPy scalars → Python."""
    if value is None:
        return None
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, bool | int | str):
        return value
    module = type(value).__module__.split(".", 1)[0]
    if module == "pandas" and type(value).__name__ in ("NAType", "NaTType"):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if module == "numpy" and hasattr(value, "item"):
        return json_cell(value.item())
    if isinstance(value, list | tuple):
        return [json_cell(v) for v in value]
    return value


def sent_values(series: Any) -> list[Any]:
    """*series*' values as a JSON client sends them (``opskit.deployments`` ``request_body`` does exactly this)."""
    dtype = series.dtype
    if getattr(dtype, "kind", "") == "f" and type(dtype).__module__.startswith("numpy"):
        return [None if v != v else v for v in series.to_numpy().tolist()]
    return [json_cell(v) for v in series.tolist()]
