"""Translate a parsed ``RunQuery`` into one SQL statement over the embedded tracker's tables."""

from __future__ import annotations

import json
from typing import Any

from opskit.errors import InvalidFilter
from opskit.query import Clause, OrderKey, RunQuery

__all__ = ["RUN_COLUMNS", "build_search"]

#: The run columns every reader unpacks, in this order (never ``SELECT *``: migrations add columns).
RUN_COLUMNS = (
    "r.id, r.name, r.experiment, r.status, r.started_at, r.ended_at, r.user, r.host, r.pid, "
    "r.pid_start, r.error, r.code_digest, r.env_digest"
)

_COLUMNS = {
    "id": "r.id",
    "name": "r.name",
    "status": "r.status",
    "started_at": "r.started_at",
    "ended_at": "r.ended_at",
    "user": "r.user",
    "experiment": "r.experiment",
}
_INPUT_PATHS = {"digest": "$.digest", "name": "$.name"}
_SQL_OPS = {"=": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "LIKE": "LIKE"}


def _compare(expr: str, clause: Clause, args: list[Any]) -> str:
    op, value = clause.op, clause.value
    if op in ("IN", "NOT IN"):
        items = list(value) if isinstance(value, tuple) else [value]
        args.extend(items)
        return f"{expr} {op} ({','.join('?' * len(items))})"
    if op == "ILIKE":
        args.append(value)
        return f"lower({expr}) LIKE lower(?)"
    args.append(value)
    return f"{expr} {_SQL_OPS[op]} ?"


def _numeric(value: object) -> bool:
    if isinstance(value, tuple):
        return all(_numeric(v) for v in value)
    return isinstance(value, int | float) and not isinstance(value, bool)


# Python writes NaN and the infinities as NaN/Infinity/-Infinity, which SQLite's JSON functions
# refuse ("malformed JSON"): every json_* call is guarded by json_valid inside a CASE (whose
# branches, unlike AND, are evaluated only when taken). Infinities compare as numbers (SQLite's
# 9e999 is +inf); NaN is no number (as in Python, it matches no comparison) and reads as 'NaN'.
_INFINITIES = "WHEN 'Infinity' THEN 9e999 WHEN '-Infinity' THEN -9e999"


def _param_number(column: str) -> str:
    """The param as an SQL number, or NULL when it is not a number (text, list, NaN, ...)."""
    return (
        f"(CASE {column} {_INFINITIES} ELSE CASE WHEN json_valid({column}) THEN "
        f"CASE WHEN json_type({column}) IN ('integer', 'real') THEN json_extract({column}, '$') END END END)"
    )


def _param_text(column: str) -> str:
    """The param as text: a string as itself, anything else as its compact JSON spelling."""
    return (
        f"(CASE WHEN NOT json_valid({column}) THEN {column} "
        f"WHEN json_type({column}) = 'text' THEN json_extract({column}, '$') ELSE {column} END)"
    )


def _param_sortable(column: str) -> str:
    """What a param sorts by: numbers (infinities too) as numbers, the rest as text, null as NULL."""
    return (
        f"(CASE {column} {_INFINITIES} ELSE CASE WHEN json_valid({column}) "
        f"THEN json_extract({column}, '$') ELSE {column} END END)"
    )


def _condition(clause: Clause, args: list[Any]) -> str:
    if clause.kind == "attributes":
        return _compare(_COLUMNS[clause.key], clause, args)
    if clause.kind == "metrics":
        args.append(clause.key)
        inner = _compare("m.value", clause, args)
        return f"EXISTS (SELECT 1 FROM latest_metrics m WHERE m.run_id = r.id AND m.key = ? AND {inner})"
    if clause.kind == "tags":
        args.append(clause.key)
        inner = _compare("t.value", clause, args)
        return f"EXISTS (SELECT 1 FROM tags t WHERE t.run_id = r.id AND t.key = ? AND {inner})"
    if clause.kind == "inputs":
        path = _INPUT_PATHS.get(clause.key)
        if path is None:
            raise InvalidFilter(
                f"unknown input field {clause.key!r}: use inputs.digest or inputs.name"
            )
        inner = _compare(f"json_extract(i.body, '{path}')", clause, args)
        return f"EXISTS (SELECT 1 FROM inputs i WHERE i.run_id = r.id AND {inner})"
    # params hold JSON: numbers compare as numbers, everything else as the decoded text.
    args.append(clause.key)
    if _numeric(clause.value):
        inner = _compare(_param_number("p.value"), clause, args)
    else:
        # Text params compare as their text; numbers, booleans and null as their JSON spelling
        # (0.1, 1e-05, true, null), which is how Python printed them when they were logged.
        text = _param_text("p.value")
        if isinstance(clause.value, tuple):  # numbers in a mixed list compare as their spelling too
            spelled = tuple(json.dumps(v) if _numeric(v) else v for v in clause.value)
            clause = Clause(clause.kind, clause.key, clause.op, spelled)
        inner = _compare(text, clause, args)
    return f"EXISTS (SELECT 1 FROM params p WHERE p.run_id = r.id AND p.key = ? AND {inner})"


def _order_expr(key: OrderKey, args: list[Any]) -> str:
    if key.kind == "attributes":
        return _COLUMNS[key.key]
    args.append(key.key)
    if key.kind == "metrics":
        return "(SELECT value FROM latest_metrics WHERE run_id = r.id AND key = ?)"
    if key.kind == "tags":
        return "(SELECT value FROM tags WHERE run_id = r.id AND key = ?)"
    return f"(SELECT {_param_sortable('value')} FROM params WHERE run_id = r.id AND key = ?)"


def build_search(query: RunQuery) -> tuple[str, list[Any]]:
    """``SELECT * FROM runs`` with the query's filter, order (missing keys last) and limit."""
    where: list[str] = []
    args: list[Any] = []
    if query.experiment is not None:
        where.append("r.experiment = ?")
        args.append(query.experiment)
    where.extend(_condition(clause, args) for clause in query.clauses)
    order: list[str] = []
    for key in query.order:
        expr = _order_expr(key, args)
        # Each expression is bound twice (IS NULL, then the value); repeat its argument.
        if key.kind != "attributes":
            args.append(args[-1])
        order.append(f"{expr} IS NULL, {expr} {'DESC' if key.descending else 'ASC'}")
    order.append("r.started_at DESC, r.rowid DESC")
    sql = f"SELECT {RUN_COLUMNS} FROM runs r"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY " + ", ".join(order) + " LIMIT ?"
    args.append(query.limit)
    return sql, args
