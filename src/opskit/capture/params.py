"""Turn a call's bound arguments into params (JSON values) and data inputs (fingerprints)."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from typing import Any

from opskit._hooks import hooks
from opskit.errors import InvalidValue
from opskit.records import DataInput

__all__ = ["MAX_PARAM_CHARS", "bind_arguments", "check_param_value", "split_arguments"]

#: A list or dict param longer than this (as JSON) is too big to be a param.
MAX_PARAM_CHARS = 6000
_SCALARS = (bool, int, float, type(None))
_JSON_SCALARS = (bool, int, float, type(None), str)


def bind_arguments(sig: inspect.Signature, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments by name, defaults applied, ``*args``/``**kwargs`` flattened; ``self``/``cls`` dropped."""
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
            out.update({f"{name}[{i}]": item for i, item in enumerate(value)})
        else:
            out[name] = value
    return out


def _json_safe(value: Any) -> bool:
    if isinstance(value, _JSON_SCALARS):
        return True
    if isinstance(value, list | tuple):
        return all(_json_safe(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_safe(v) for k, v in value.items())
    return False


def check_param_value(key: str, value: Any) -> Any:
    """Return a JSON-able copy of *value* (tuples become lists), else raise ``InvalidValue``."""
    if isinstance(value, _JSON_SCALARS):
        return value
    if _json_safe(value):
        text = json.dumps(value)
        if len(text) > MAX_PARAM_CHARS:
            raise InvalidValue(
                f"param {key!r} is {len(text)} characters as JSON (limit {MAX_PARAM_CHARS}); "
                "log it as an artifact with opskit.log_artifact instead"
            )
        return json.loads(text)
    raise InvalidValue(
        f"param {key!r} has a {type(value).__name__} value, which is not JSON-able; log a string, "
        "number, bool, None, or a list/dict of those"
    )


def split_arguments(
    arguments: Mapping[str, Any], *, fingerprint: Callable[[str, object], DataInput | None] | None = None
) -> tuple[dict[str, Any], list[tuple[DataInput, object]]]:
    """(params, data inputs with their values). Values that are neither are left out."""
    fingerprint = fingerprint or hooks.fingerprint_data
    params: dict[str, Any] = {}
    inputs: list[tuple[DataInput, object]] = []
    for name, value in arguments.items():
        if isinstance(value, _SCALARS):  # fast path: numbers and flags are never data
            params[name] = value
            continue
        data = fingerprint(name, value)
        if data is not None:
            inputs.append((data, value))
        elif _json_safe(value):
            try:
                params[name] = check_param_value(name, value)
            except InvalidValue:
                continue  # too big to be a param; not data either: leave it out
    return params, inputs
