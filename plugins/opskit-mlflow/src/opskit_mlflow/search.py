"""opskit run queries against MLflow: a server-side pre-filter, then the exact opskit semantics in Python.

MLflow compares params as strings (``params.alpha > '0.1'`` is a text
comparison) and keeps times in milliseconds, while opskit compares JSON
numbers as numbers. So only clauses whose MLflow meaning is at least as wide
as opskit's are sent to the server (metrics, string tags, equality with a
plain-text param, status, run name); every clause is then checked again on the rebuilt records, and
ordering and the limit are applied here. The results equal the local
tracker's.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeGuard

from opskit.query import Clause, RunQuery
from opskit.records import Run
from opskit_mlflow.keys import input_key

__all__ = ["matches", "mlflow_filter", "order_runs", "pushes_everything"]

_NUMERIC_OPS = ("=", "!=", "<", "<=", ">", ">=")
_STRING_OPS = ("=", "!=", "LIKE", "ILIKE")
_ATTRIBUTE_NAMES = {"status": "attributes.status", "name": "attributes.run_name"}


def _quote(value: str) -> str:
    return "'" + value + "'"


def _quotable(value: object) -> TypeGuard[str]:
    """Text MLflow's filter parser reads back unchanged inside single quotes (no quote or backslash in it).

    MLflow's parser has no escape for a quote inside a string literal, so such values are
    not pushed to the server; opskit's own check in Python filters them (never narrower).
    """
    return isinstance(value, str) and not any(ch in value for ch in "'\\\"`")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _plain_text(value: object) -> bool:
    """A string that no non-string param shows as: MLflow's text equals opskit's text for it."""
    if (
        not isinstance(value, str)
        or value in ("", "true", "false", "null", "0", "1", "True", "False", "None")
        or value[:1] in '[{"'
    ):
        return False
    try:
        float(value)
    except ValueError:
        return True
    return False


def _translate(clause: Clause) -> str | None:
    key = "`" + clause.key.replace("`", "") + "`"
    if clause.kind == "inputs":
        # each input is tagged opskit.input.<digest> (its presence is what matters)
        if clause.key == "digest" and clause.op == "=" and _quotable(clause.value):
            return f"tags.`{input_key(clause.value)}` LIKE '%'"
        return None
    if clause.kind == "metrics" and clause.op in _NUMERIC_OPS and _is_number(clause.value):
        return f"metrics.{key} {clause.op} {clause.value!r}"
    if clause.kind == "tags" and clause.op in _STRING_OPS and _quotable(clause.value):
        return f"tags.{key} {clause.op} {_quote(clause.value)}"
    if (
        clause.kind == "params"
        and clause.op == "="
        and _plain_text(clause.value)
        and _quotable(clause.value)
    ):
        return f"params.{key} = {_quote(str(clause.value))}"
    if (
        clause.kind == "attributes"
        and clause.key == "id"
        and clause.op == "="
        and _quotable(clause.value)
    ):
        return f"tags.`opskit.run_id` = {_quote(clause.value)}"
    name = _ATTRIBUTE_NAMES.get(clause.key) if clause.kind == "attributes" else None
    if name is not None and clause.op in _STRING_OPS and _quotable(clause.value):
        return f"{name} {clause.op} {_quote(clause.value)}"
    return None


def mlflow_filter(query: RunQuery) -> str:
    """The MLflow filter string for the clauses MLflow can pre-filter exactly or more widely."""
    parts = [text for clause in query.clauses if (text := _translate(clause)) is not None]
    parts.append("tags.`opskit.run_id` != ''")  # only runs written by opskit
    return " and ".join(parts)


def pushes_everything(query: RunQuery) -> bool:
    """True when the server's answer needs no post-filtering or re-ordering (so its limit can be used).

    Metric clauses are always re-checked: MLflow's stores disagree about NaN (``metrics.m != 1``
    matches a NaN metric on the server, and PostgreSQL sorts NaN above every number), while
    opskit's NaN matches no comparison.
    """
    return not query.order and all(
        _translate(c) is not None and c.kind not in ("params", "metrics", "inputs")
        for c in query.clauses
    )


def _param_text(value: Any) -> str:
    """A param as the local tracker compares it with text: strings as themselves, the rest as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _value(run: Run, clause_kind: str, key: str, numeric: bool) -> Any:
    if clause_kind == "attributes":
        return getattr(run, key)
    if (
        clause_kind == "metrics"
    ):  # a NaN metric is NULL in SQL: no comparison matches, it sorts last
        metric = run.metrics.get(key)
        return None if metric is None or metric != metric else metric
    if clause_kind == "tags":
        return run.tags.get(key)
    if key not in run.params:
        return None
    value = run.params[key]
    if numeric:  # NaN is no number: it matches no numeric comparison (SQL's NULL locally)
        return value if _is_number(value) and value == value else None
    return _param_text(value)


def _like(pattern: str, text: str, *, ignore_case: bool) -> bool:
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, text, re.DOTALL | (re.IGNORECASE if ignore_case else 0)) is not None


def _compare(left: Any, op: str, right: Any) -> bool:
    if isinstance(left, str) != isinstance(right, str):
        return False
    try:
        if op == "=":
            return bool(left == right)
        if op == "!=":
            return bool(left != right)
        if op == "<":
            return bool(left < right)
        if op == "<=":
            return bool(left <= right)
        if op == ">":
            return bool(left > right)
        return bool(left >= right)
    except TypeError:
        return False


def matches(run: Run, clause: Clause) -> bool:
    """Does *run* satisfy *clause*, with the local tracker's semantics?"""
    if clause.kind == "inputs":  # some input has this digest (name): only = and IN are parsed
        wanted = clause.value if isinstance(clause.value, tuple) else (clause.value,)
        return any(getattr(data, clause.key, None) in wanted for data in run.inputs)
    items: tuple[Any, ...] = clause.value if isinstance(clause.value, tuple) else (clause.value,)
    numeric = all(_is_number(v) for v in items)
    left = _value(run, clause.kind, clause.key, numeric)
    if left is None:
        return False
    if clause.op in ("IN", "NOT IN"):
        if isinstance(left, str):  # SQL compares text with a number as text (type affinity)
            items = tuple(repr(i) if _is_number(i) else i for i in items)
        found = any(_compare(left, "=", item) for item in items)
        return found if clause.op == "IN" else not found
    if clause.op in ("LIKE", "ILIKE"):
        return isinstance(left, str) and _like(
            str(clause.value), left, ignore_case=clause.op == "ILIKE"
        )
    return _compare(left, clause.op, clause.value)


def order_runs(runs: list[Run], query: RunQuery) -> list[Run]:
    """Newest first, then by each order key (missing values last), as the local tracker sorts."""
    ordered = sorted(runs, key=lambda r: r.started_at, reverse=True)
    for key in reversed(query.order):
        present = [r for r in ordered if _order_value(r, key.kind, key.key) is not None]
        missing = [r for r in ordered if _order_value(r, key.kind, key.key) is None]
        if key.kind == "params":
            present.sort(key=lambda r: _sort_key(r.params.get(key.key)), reverse=key.descending)
        else:
            present.sort(
                key=lambda r: _sort_key(_value(r, key.kind, key.key, False)), reverse=key.descending
            )
        ordered = present + missing
    return ordered


def _order_value(run: Run, kind: str, key: str) -> Any:
    """What the local tracker sorts by; a null param sorts with the missing ones (SQL NULL)."""
    if kind == "params":
        return run.params.get(key)
    return _value(run, kind, key, False)


def _sort_key(value: Any) -> tuple[int, Any]:
    # SQLite orders numbers before text; mixed types never raise here. NaN sorts as the text
    # 'NaN' (the local tracker cannot read it as a number) and lists/dicts as compact JSON.
    if (_is_number(value) and value == value) or isinstance(value, bool):
        return (0, float(value))
    return (1, _param_text(value))
