"""Turn a call's bound arguments into params (JSON values) and data inputs (fingerprints)."""

from __future__ import annotations

import inspect
import json
import numbers
import warnings
from collections.abc import Callable, Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Any

from opskit._hooks import hooks
from opskit.errors import InvalidValue, OpskitWarning
from opskit.records import DataInput

__all__ = [
    "MAX_PARAM_CHARS",
    "bind_arguments",
    "check_param_value",
    "param_scalar",
    "param_text",
    "split_arguments",
]

#: A param longer than this (strings as they are, anything else as compact JSON) is refused on
#: every tracker: MLflow cuts param values at 6,000 characters (MAX_PARAM_VAL_LENGTH).
MAX_PARAM_CHARS = 6000
_PLAIN = (bool, int, float, str, type(None))
_NOT_SCALAR = object()


def bind_arguments(
    sig: inspect.Signature, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """Arguments by name, defaults applied, ``*args`` as ``args.0``, ``args.1``, ..., ``**kwargs``
    flattened; ``self``/``cls`` dropped."""
    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    out: dict[str, Any] = {}
    for index, (name, value) in enumerate(bound.arguments.items()):
        kind = sig.parameters[name].kind
        if index == 0 and name in ("self", "cls"):
            continue
        if kind is inspect.Parameter.VAR_KEYWORD:
            out.update(value)
        elif kind is inspect.Parameter.VAR_POSITIONAL:
            # xs.0, xs.1: a valid key on every tracker (brackets are not; MLflow refuses them)
            out.update({f"{name}.{i}": item for i, item in enumerate(value)})
        else:
            out[name] = value
    return out


def _inexact(key: str, value: object) -> InvalidValue:
    return InvalidValue(
        f"param {key!r} is the {type(value).__name__} {value!r}, which no JSON number holds exactly; "
        "pass float(x) to log it rounded, or str(x) to keep every digit"
    )


def param_scalar(key: str, value: object) -> object:
    """*value* as a plain JSON scalar (bool, int, float, str, None), or ``_NOT_SCALAR``.

    NumPy scalars become the matching Python value (``np.int64(5)`` → ``5``,
    ``np.float32(0.1)`` → ``0.1``, ``np.bool_(False)`` → ``False``); so do other
    ``numbers.Integral``/``numbers.Real`` types. ``Decimal`` and ``Fraction`` become
    a float when the float means the same number, else raise ``InvalidValue``.
    Complex numbers are not scalars here (they are refused by the caller).
    """
    kind = type(value)
    if kind in _PLAIN:
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if kind.__module__ == "numpy" and kind.__name__ in ("bool", "bool_"):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, numbers.Real) and kind.__module__ == "numpy":
        return float(str(value))  # np.float32(0.1) -> 0.1, as printed, not 0.10000000149011612
    if isinstance(value, Fraction):
        number = float(value)
        if number != value:
            raise _inexact(key, value)
        return number
    if isinstance(value, Decimal):
        try:
            number = float(value)
        except ValueError:  # signalling NaN
            raise _inexact(key, value) from None
        if value.is_finite() and Decimal(repr(number)) != value:
            raise _inexact(key, value)
        return number
    if isinstance(value, numbers.Real):
        return float(value)
    return _NOT_SCALAR


def _plain(key: str, value: Any) -> Any:
    scalar = param_scalar(key, value)
    if scalar is not _NOT_SCALAR:
        return scalar
    if isinstance(value, list | tuple):
        return [_plain(key, v) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise InvalidValue(
                    f"param {key!r} has a dict key {k!r} of type {type(k).__name__}; JSON object keys "
                    "are strings: convert the keys with str()"
                )
            out[str(k)] = _plain(key, v)
        return out
    raise InvalidValue(
        f"param {key!r} has a {type(value).__name__} value, which is not JSON-able; log a string, "
        "number, bool, None, or a list/dict of those"
    )


def param_text(value: Any) -> str:
    """How a param is shown and measured: strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def check_param_value(key: str, value: Any) -> Any:
    """Return *value* as plain JSON data (tuples become lists, NumPy scalars Python numbers).

    Raise ``InvalidValue`` when it is not JSON-able or longer than ``MAX_PARAM_CHARS``.
    """
    if type(value) in (bool, int, float, type(None)):
        return value
    plain = _plain(key, value)
    text = param_text(plain)
    if len(text) > MAX_PARAM_CHARS:
        shown = "characters" if isinstance(plain, str) else "characters as JSON"
        raise InvalidValue(
            f"param {key!r} is {len(text)} {shown} (limit {MAX_PARAM_CHARS}, as in MLflow); "
            "log it as an artifact with opskit.log_artifact instead"
        )
    return plain


def split_arguments(
    arguments: Mapping[str, Any],
    *,
    fingerprint: Callable[[str, object], DataInput | None] | None = None,
) -> tuple[dict[str, Any], list[tuple[DataInput, object]]]:
    """(params, data inputs with their values). Values that are neither are left out."""
    fingerprint = fingerprint or hooks.fingerprint_data
    params: dict[str, Any] = {}
    inputs: list[tuple[DataInput, object]] = []
    for name, value in arguments.items():
        try:
            scalar = param_scalar(name, value)
            if scalar is not _NOT_SCALAR and not isinstance(scalar, str):
                params[name] = scalar  # numbers (NumPy's too), flags and None are never data
                continue
            data = fingerprint(name, value)
            if data is not None:
                inputs.append((data, value))
            elif _looks_like_param(value):
                params[name] = check_param_value(name, value)
        except InvalidValue as exc:  # a param that cannot be stored as it is: say so, keep running
            warnings.warn(
                f"argument {name!r} is not recorded as a param: {exc}", OpskitWarning, stacklevel=3
            )
    return params, inputs


def _looks_like_param(value: Any) -> bool:
    """Strings, numbers, and lists/dicts of them: what a user means as a param (not a model, not data)."""
    if param_scalar("", value) is not _NOT_SCALAR:
        return True
    if isinstance(value, list | tuple):
        return all(_looks_like_param(v) for v in value)
    if isinstance(value, dict):
        return all(_looks_like_param(v) for v in value.values())
    return False
