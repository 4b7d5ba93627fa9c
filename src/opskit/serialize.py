"""Records to plain JSON-able dicts and back, apart from the record classes.

``to_dict(run)`` gives ``{"schema_version": 1, "type": "Run", ...fields}``;
``from_dict(data)`` rebuilds the record. Used by ``--json`` output and by
trackers that keep records as documents.
"""

from __future__ import annotations

import collections.abc
import functools
import types
import typing
from typing import Any, TypeVar

import attrs

from opskit import records
from opskit.errors import InvalidValue

__all__ = ["SCHEMA_VERSION", "from_dict", "from_plain", "to_dict", "to_plain"]

SCHEMA_VERSION = 1
T = TypeVar("T")
_TYPES: dict[str, type] = {
    name: getattr(records, name)
    for name in records.__all__
    if attrs.has(getattr(records, name, None))  # type: ignore[arg-type]
}


def to_plain(value: Any) -> Any:
    """Any record (nested), tuple, dict or scalar as JSON-able data; no type envelope."""
    if attrs.has(type(value)):
        return {f.name: to_plain(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, collections.abc.Mapping):  # dicts and the read-only maps of records
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, bytes):
        raise InvalidValue("bytes cannot be converted to JSON; store them as a blob")
    return value


def to_dict(record: Any) -> dict[str, Any]:
    """A record as a dict with ``schema_version`` and ``type``."""
    if not attrs.has(type(record)):
        raise InvalidValue(f"to_dict() takes an opskit record, got {type(record).__name__}")
    # a subclass that only adds behaviour (DeploymentClient) is written as the record it extends
    name = next(
        (c.__name__ for c in type(record).__mro__ if _TYPES.get(c.__name__) is c),
        type(record).__name__,
    )
    return {"schema_version": SCHEMA_VERSION, "type": name, **to_plain(record)}


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)  # resolved in the record's own module


def _build(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        for option in options:
            if attrs.has(option) and isinstance(value, dict):
                return _build(option, value)
        return _build(options[0], value) if len(options) == 1 else value
    if attrs.has(tp):
        hints = _hints(tp)
        kwargs = {
            f.name: _build(hints[f.name], value[f.name])
            for f in attrs.fields(tp)
            if f.name in value
        }
        return tp(**kwargs)
    if origin is tuple:
        args = typing.get_args(tp)
        item = args[0] if args else Any
        return tuple(_build(item, v) for v in value)
    if origin in (dict, collections.abc.Mapping):
        _, item = typing.get_args(tp)
        return {k: _build(item, v) for k, v in value.items()}
    return value


def from_plain(cls: type[T], data: Any) -> T:
    """Rebuild a record of type *cls* from ``to_plain`` output."""
    built: T = _build(cls, data)
    return built


def from_dict(data: dict[str, Any]) -> Any:
    """Rebuild a record from ``to_dict`` output; refuses unknown types and newer schemas."""
    version = data.get("schema_version")
    name = data.get("type")
    if version != SCHEMA_VERSION or name not in _TYPES:
        raise InvalidValue(
            f"cannot read a {name!r} record with schema_version {version!r} (this opskit reads "
            f"version {SCHEMA_VERSION} of {sorted(_TYPES)}); upgrade opskit"
        )
    return _build(
        _TYPES[name], {k: v for k, v in data.items() if k not in ("schema_version", "type")}
    )
