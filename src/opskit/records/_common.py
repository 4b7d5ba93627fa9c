"""Helpers shared by the record modules: read-only maps, tuples, time and HTML formatting."""

from __future__ import annotations

import datetime as _dt
import html
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

__all__ = ["FrozenDict", "freeze_map", "html_table", "when"]


class FrozenDict(dict[str, Any]):
    """A read-only dict: the maps of frozen records (``run.params``, ``version.metadata``, ...).

    Every mutating method raises ``TypeError``. It stays a ``dict`` (not a
    ``types.MappingProxyType``) so that ``json.dumps(run.params)``, pickling and
    ``isinstance(x, dict)`` keep working; ``dict(run.params)`` gives a mutable copy.
    """

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(
            "the maps of opskit records are read-only: copy with dict(...) or change the record with attrs.evolve"
        )

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))

    def __repr__(self) -> str:
        return dict.__repr__(self)


def freeze_map(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A read-only copy of *value* (a ``FrozenDict``); an existing ``FrozenDict`` is kept as it is."""
    if isinstance(value, FrozenDict):
        return value
    return FrozenDict(value or {})


def strings(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(items)


def when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return _dt.datetime.fromtimestamp(ts, _dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def html_table(title: str, rows: Iterable[tuple[str, object]]) -> str:
    body = "".join(
        f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
        f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
        for k, v in rows
    )
    return f"<div><strong>{html.escape(title)}</strong><table>{body}</table></div>"
