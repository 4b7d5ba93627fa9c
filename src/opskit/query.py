"""Run search: MLflow's filter syntax parsed into clauses every tracker can apply.

``params.alpha > 0.1 and metrics.r2 >= 0.5 and tags.team = 'x' and status = 'FINISHED'``
and ``order_by=["metrics.r2 DESC", "started_at"]``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from attrs import field, frozen

from opskit.errors import InvalidFilter

__all__ = ["Clause", "OrderKey", "RunQuery", "parse_filter", "parse_order_by"]

KeyKind = Literal["params", "metrics", "tags", "attributes"]
Op = Literal["=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT IN"]
Value = str | float | int | bool | None | tuple[str | float | int, ...]

#: Attribute names accepted in filters and order_by, with their aliases (MLflow's spelling first).
ATTRIBUTES = {
    "run_id": "id",
    "id": "id",
    "run_name": "name",
    "name": "name",
    "status": "status",
    "start_time": "started_at",
    "started_at": "started_at",
    "end_time": "ended_at",
    "ended_at": "ended_at",
    "user": "user",
    "user_id": "user",
    "experiment": "experiment",
}


@frozen
class Clause:
    """One comparison: ``<kind>.<key> <op> <value>``; attribute keys use the canonical names."""

    kind: KeyKind
    key: str
    op: Op
    value: Value


@frozen
class OrderKey:
    """One sort key."""

    kind: KeyKind
    key: str
    descending: bool = False


def _clauses(items: Sequence[Clause]) -> tuple[Clause, ...]:
    return tuple(items)


def _order(items: Sequence[OrderKey]) -> tuple[OrderKey, ...]:
    return tuple(items)


@frozen
class RunQuery:
    """A parsed search: all clauses must hold (AND); results sorted by ``order`` then newest first."""

    clauses: tuple[Clause, ...] = field(default=(), converter=_clauses)
    order: tuple[OrderKey, ...] = field(default=(), converter=_order)
    limit: int = 100
    experiment: str | None = None

    @classmethod
    def build(
        cls,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        limit: int = 100,
        experiment: str | None = None,
    ) -> RunQuery:
        return cls(parse_filter(filter or ""), parse_order_by(order_by or ()), limit, experiment)


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lpar>\()|(?P<rpar>\))|(?P<comma>,)
      | (?P<op>!=|<=|>=|=|<|>)
      | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![\w.])
      | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<ident>(?:[A-Za-z_][\w]*\.)?(?:`[^`]+`|[A-Za-z_][\w./\-]*))
    )""",
    re.VERBOSE,
)
_EXAMPLE = "for example: params.alpha > 0.1 and metrics.r2 >= 0.5 and tags.team = 'ml'"
_KINDS = {"params": "params", "param": "params", "metrics": "metrics", "metric": "metrics",
          "tags": "tags", "tag": "tags", "attributes": "attributes", "attribute": "attributes", "attr": "attributes"}


def _fail(text: str, pos: int, what: str) -> InvalidFilter:
    pointer = f"{text}\n{' ' * pos}^"
    return InvalidFilter(f"cannot parse filter {text!r} at position {pos}: {what}\n{pointer}\n{_EXAMPLE}")


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise _fail(text, pos + (len(text[pos:]) - len(text[pos:].lstrip())), "unexpected character")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind), match.start(kind)))
        pos = match.end()
    return out


def _key(text: str, token: str, pos: int) -> tuple[KeyKind, str]:
    if "." in token and not token.startswith("`"):
        prefix, _, rest = token.partition(".")
        kind = _KINDS.get(prefix.lower())
        if kind is None:
            raise _fail(text, pos, f"unknown key type {prefix!r}: use params., metrics., tags. or attributes.")
    else:
        kind, rest = "attributes", token
    if rest.startswith("`") and rest.endswith("`"):
        rest = rest[1:-1]
    if not rest:
        raise _fail(text, pos, "empty key name")
    if kind == "attributes":
        canonical = ATTRIBUTES.get(rest.lower())
        if canonical is None:
            raise _fail(text, pos, f"unknown attribute {rest!r}: use one of {sorted(set(ATTRIBUTES))}")
        rest = canonical
    return kind, rest  # type: ignore[return-value]


def _value(kind: str, token: str) -> str | float | int:
    if kind == "number":
        number = float(token)
        return int(number) if re.fullmatch(r"[-+]?\d+", token) else number
    body = token[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def parse_filter(text: str) -> tuple[Clause, ...]:
    """Parse ``key op value [and key op value ...]``; raise ``InvalidFilter`` pointing at the problem."""
    if not isinstance(text, str):
        raise InvalidFilter(f"a filter must be a string, got {type(text).__name__}; {_EXAMPLE}")
    tokens = _tokens(text)
    clauses: list[Clause] = []
    i = 0
    while i < len(tokens):
        kind, token, pos = tokens[i]
        if kind != "ident":
            raise _fail(text, pos, f"expected a key such as metrics.r2, found {token!r}")
        key_kind, key = _key(text, token, pos)
        i += 1
        if i >= len(tokens):
            raise _fail(text, len(text), "expected an operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN)")
        kind, token, pos = tokens[i]
        word = token.upper() if kind == "ident" else token
        if kind == "op" or word in ("LIKE", "ILIKE", "IN"):
            op = word
            i += 1
        elif word == "NOT" and i + 1 < len(tokens) and tokens[i + 1][1].upper() == "IN":
            op = "NOT IN"
            i += 2
        else:
            raise _fail(text, pos, f"expected an operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN), found {token!r}")
        if i >= len(tokens):
            raise _fail(text, len(text), "expected a value (a number or a quoted string)")
        kind, token, pos = tokens[i]
        value: Value
        if op in ("IN", "NOT IN"):
            if kind != "lpar":
                raise _fail(text, pos, f"{op} needs a list in parentheses, e.g. ('a', 'b')")
            items: list[str | float | int] = []
            i += 1
            while True:
                if i >= len(tokens):
                    raise _fail(text, len(text), "unclosed '('")
                kind, token, pos = tokens[i]
                if kind not in ("number", "string"):
                    raise _fail(text, pos, f"expected a value in the list, found {token!r}")
                items.append(_value(kind, token))
                i += 1
                if i < len(tokens) and tokens[i][0] == "comma":
                    i += 1
                    continue
                if i < len(tokens) and tokens[i][0] == "rpar":
                    i += 1
                    break
                raise _fail(text, tokens[i][2] if i < len(tokens) else len(text), "expected ',' or ')'")
            value = tuple(items)
        else:
            if kind not in ("number", "string"):
                raise _fail(text, pos, f"expected a value (a number or a quoted string), found {token!r}")
            value = _value(kind, token)
            if op in ("LIKE", "ILIKE") and not isinstance(value, str):
                raise _fail(text, pos, f"{op} needs a quoted pattern such as '%prod%'")
            if key_kind in ("tags",) and not isinstance(value, str):
                raise _fail(text, pos, "tag values are strings: quote the value")
            i += 1
        clauses.append(Clause(key_kind, key, op, value))  # type: ignore[arg-type]
        if i < len(tokens):
            kind, token, pos = tokens[i]
            if kind == "ident" and token.lower() == "and":
                i += 1
                if i >= len(tokens):
                    raise _fail(text, len(text), "expected a condition after 'and'")
            elif kind == "ident" and token.lower() == "or":
                raise _fail(text, pos, "only 'and' is supported between conditions (as in MLflow); run two searches for 'or'")
            else:
                raise _fail(text, pos, f"expected 'and' between conditions, found {token!r}")
    return tuple(clauses)


def parse_order_by(items: Sequence[str]) -> tuple[OrderKey, ...]:
    """Parse ``["metrics.r2 DESC", "started_at"]``; raise ``InvalidFilter`` on a bad item."""
    if isinstance(items, str):
        items = [items]
    keys = []
    for item in items:
        parts = item.strip().rsplit(None, 1) if isinstance(item, str) else []
        descending = False
        if len(parts) == 2 and parts[1].upper() in ("ASC", "DESC"):
            descending = parts[1].upper() == "DESC"
            token = parts[0]
        else:
            token = item.strip() if isinstance(item, str) else ""
        if not token or not _TOKEN.fullmatch(token) or _TOKEN.fullmatch(token).lastgroup != "ident":  # type: ignore[union-attr]
            raise InvalidFilter(f"cannot parse order_by item {item!r}: use e.g. 'metrics.r2 DESC' or 'started_at'")
        kind, key = _key(str(item), token, 0)
        keys.append(OrderKey(kind, key, descending))
    return tuple(keys)
