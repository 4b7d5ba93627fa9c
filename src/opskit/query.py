"""Run search: MLflow's filter syntax parsed into clauses every tracker can apply.

``params.alpha > 0.1 and metrics.r2 >= 0.5 and tags.team = 'x' and status = 'FINISHED'``
and ``order_by=["metrics.r2 DESC", "started_at"]``. ``inputs.digest = 'xxh3:…'`` (and
``inputs.name``) matches runs with a data input of that content digest (name): lineage finds
every run that used some data this way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Literal

from attrs import field, frozen

from opskit.errors import InvalidFilter
from opskit.records.runs import RUN_STATUSES

__all__ = ["Clause", "OrderKey", "RunQuery", "parse_filter", "parse_order_by"]

KeyKind = Literal["params", "metrics", "tags", "attributes", "inputs"]
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


# -- parsing ----------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lpar>\() | (?P<rpar>\)) | (?P<comma>,)
      | (?P<op>!=|<=|>=|=|<|>)
      | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![\w.])
      | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<ident>[A-Za-z_]\w*\.(?:`[^`]+`|"[^"]+"|[\w./\-]+) | `[^`]+` | [A-Za-z_][\w./\-]*)
    )""",
    re.VERBOSE | re.DOTALL,
)
_EXAMPLE = "for example: params.alpha > 0.1 and metrics.r2 >= 0.5 and tags.team = 'ml'"
_ORDER_EXAMPLE = "for example: 'metrics.r2 DESC', 'params.alpha' or 'started_at ASC'"
_OPERATORS = "=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN"
_KINDS: dict[str, KeyKind] = {
    "params": "params",
    "param": "params",
    "metrics": "metrics",
    "metric": "metrics",
    "tags": "tags",
    "tag": "tags",
    "attributes": "attributes",
    "attribute": "attributes",
    "attr": "attributes",
    "inputs": "inputs",
    "input": "inputs",
}
#: The fields of a run's data inputs a filter can match (``inputs.digest = '...'``), with ``=`` or ``IN``.
INPUT_FIELDS = ("digest", "name")
_NUMERIC_ATTRIBUTES = frozenset({"started_at", "ended_at"})
_OPS: dict[str, Op] = {op: op for op in ("=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN")}


class _Syntax(Exception):
    """A parse problem at a position; turned into ``InvalidFilter`` with the whole text."""

    def __init__(self, pos: int, what: str) -> None:
        super().__init__(what)
        self.pos, self.what = pos, what


def _filter_error(text: str, problem: _Syntax) -> InvalidFilter:
    shown = re.sub(r"\s", " ", text)  # keep the pointer under the right character
    return InvalidFilter(
        f"cannot parse filter {text!r} at position {problem.pos}: {problem.what}\n"
        f"  {shown}\n  {' ' * problem.pos}^\n{_EXAMPLE}"
    )


def _tokens(text: str) -> list[tuple[str, str, int]]:
    """``(kind, text, position)`` for every token; raise ``_Syntax`` at the first unknown character."""
    out: list[tuple[str, str, int]] = []
    pos, end = 0, len(text.rstrip())
    while pos < end:
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _Syntax(
                len(text) - len(text[pos:].lstrip()), "unexpected character (unclosed quote?)"
            )
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind), match.start(kind)))
        pos = match.end()
    return out


def _key(token: str, pos: int) -> tuple[KeyKind, str]:
    """``params.alpha`` → ``("params", "alpha")``; bare or ``attributes.`` names are canonicalized."""
    kind: KeyKind = "attributes"
    name = token
    if not token.startswith("`"):
        prefix, dot, rest = token.partition(".")
        if dot:
            found = _KINDS.get(prefix.lower())
            if found is None:
                raise _Syntax(
                    pos,
                    f"unknown key type {prefix!r}: use params., metrics., tags., attributes. or inputs.",
                )
            kind, name = found, rest
    if len(name) >= 2 and name[0] == name[-1] and name[0] in '`"':
        name = name[1:-1]
    if not name:
        raise _Syntax(pos, "empty key name")
    if kind == "attributes":
        canonical = ATTRIBUTES.get(name.lower())
        if canonical is None:
            raise _Syntax(
                pos, f"unknown attribute {name!r}: use one of {', '.join(sorted(ATTRIBUTES))}"
            )
        name = canonical
    if kind == "inputs" and name not in INPUT_FIELDS:
        raise _Syntax(pos, f"unknown input field {name!r}: use inputs.digest or inputs.name")
    return kind, name


def _literal(kind: str, token: str, pos: int) -> str | float | int:
    if kind == "number":
        if len(token) <= 20 and re.fullmatch(r"[-+]?\d+", token):
            number = int(token)
            if -(2**63) <= number < 2**63:  # what SQLite stores as an integer
                return number
        return float(token)
    return re.sub(r"\\(.)", r"\1", token[1:-1], flags=re.DOTALL)


def _check_value(kind: KeyKind, key: str, op: str, value: Value, pos: int) -> Value:
    """Reject comparisons that can never be meant (``metrics.r2 LIKE 'x'``); canonicalize statuses."""
    items = value if isinstance(value, tuple) else (value,)
    attribute = key if kind == "attributes" else None
    if kind == "metrics" or attribute in _NUMERIC_ATTRIBUTES:
        if op in ("LIKE", "ILIKE"):
            raise _Syntax(pos, f"{op} matches text, but {kind}.{key} is a number: use =, <, >= ...")
        if not all(isinstance(v, int | float) for v in items):
            raise _Syntax(pos, f"{kind}.{key} is a number: compare it with a number, e.g. >= 0.5")
        return value
    if kind == "inputs" and op not in ("=", "IN"):
        raise _Syntax(
            pos,
            f"inputs.{key} matches with = or IN only (a run has several inputs), e.g. "
            "inputs.digest = 'xxh3:...'",
        )
    if op in ("LIKE", "ILIKE") and not isinstance(value, str):
        raise _Syntax(pos, f"{op} needs a quoted pattern such as '%prod%'")
    if kind == "params":
        return value
    if not all(isinstance(v, str) for v in items):
        raise _Syntax(pos, f"{kind}.{key} values are strings: quote the value")
    if attribute == "status" and op not in ("LIKE", "ILIKE"):
        statuses = tuple(str(v).upper() for v in items)
        if not set(statuses) <= set(RUN_STATUSES):
            raise _Syntax(pos, f"a run status is one of {', '.join(RUN_STATUSES)}")
        return statuses if isinstance(value, tuple) else statuses[0]
    return value


def _json_spellings(clause: Clause) -> Clause:
    """``params.layers = '[64, 32]'`` matches the list param ``[64, 32]`` however the list is spaced.

    List and dict params compare as their compact JSON (``[64,32]``, keys sorted). A quoted
    list or dict in an equality or IN is therefore also tried in that spelling: ``=`` becomes
    ``IN (as written, compact)`` and ``!=`` becomes ``NOT IN``, so a string param spelled
    exactly as written still matches too.
    """
    if clause.kind != "params" or clause.op not in ("=", "!=", "IN", "NOT IN"):
        return clause
    items = clause.value if isinstance(clause.value, tuple) else (clause.value,)
    spelled: list[str | float | int] = []
    for item in items:
        if item is None:
            return clause
        spelled.append(item)
        if isinstance(item, str) and item[:1] in "[{":
            try:
                parsed = json.loads(item)
            except ValueError:
                continue
            compact = json.dumps(parsed, separators=(",", ":"), sort_keys=True)
            if isinstance(parsed, list | dict) and compact != item and compact not in items:
                spelled.append(compact)
    if len(spelled) == len(items):
        return clause
    op: Op = "IN" if clause.op in ("=", "IN") else "NOT IN"
    return Clause(clause.kind, clause.key, op, tuple(spelled))


class _Parser:
    """Recursive descent over the tokens: ``clause (AND clause)*``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.i = 0

    def _peek(self) -> tuple[str, str, int]:
        if self.i < len(self.tokens):
            return self.tokens[self.i]
        return ("end", "end of filter", len(self.text.rstrip()))

    def _next(self) -> tuple[str, str, int]:
        token = self._peek()
        self.i += 1
        return token

    def parse(self) -> tuple[Clause, ...]:
        clauses = [self._clause()]
        while self.i < len(self.tokens):
            kind, token, pos = self._next()
            word = token.lower() if kind == "ident" else ""
            if word == "or":
                raise _Syntax(
                    pos,
                    "only 'and' is supported between conditions (as in MLflow); run one search per alternative",
                )
            if word != "and":
                raise _Syntax(pos, f"expected 'and' between conditions, found {token!r}")
            clauses.append(self._clause())
        return tuple(clauses)

    def _clause(self) -> Clause:
        kind, token, pos = self._next()
        if kind != "ident":
            raise _Syntax(
                pos, f"expected a key such as metrics.r2 or params.alpha, found {token!r}"
            )
        key_kind, key = _key(token, pos)
        op = self._operator()
        value_pos = self._peek()[2]
        value = self._list() if op in ("IN", "NOT IN") else self._value()
        return _json_spellings(
            Clause(key_kind, key, op, _check_value(key_kind, key, op, value, value_pos))
        )

    def _operator(self) -> Op:
        kind, token, pos = self._next()
        word = token.upper() if kind == "ident" else token
        if word in _OPS and (kind == "op" or word.isalpha()):
            return _OPS[word]
        if word == "NOT" and self._peek()[0] == "ident" and self._peek()[1].upper() == "IN":
            self.i += 1
            return "NOT IN"
        raise _Syntax(pos, f"expected an operator ({_OPERATORS}), found {token!r}")

    def _value(self) -> str | float | int:
        kind, token, pos = self._next()
        if kind not in ("number", "string"):
            raise _Syntax(pos, f"expected a value (a number or a quoted string), found {token!r}")
        return _literal(kind, token, pos)

    def _list(self) -> tuple[str | float | int, ...]:
        kind, token, pos = self._next()
        if kind != "lpar":
            raise _Syntax(pos, f"IN needs a list in parentheses, e.g. ('a', 'b'), found {token!r}")
        items = [self._value()]
        while True:
            kind, token, pos = self._next()
            if kind == "rpar":
                return tuple(items)
            if kind != "comma":
                raise _Syntax(pos, f"expected ',' or ')' in the list, found {token!r}")
            items.append(self._value())


def parse_filter(text: str) -> tuple[Clause, ...]:
    """Parse ``key op value [and key op value ...]``; raise ``InvalidFilter`` pointing at the problem."""
    if not isinstance(text, str):
        raise InvalidFilter(f"a filter must be a string, got {type(text).__name__}; {_EXAMPLE}")
    if not text.strip():
        return ()
    try:
        return _Parser(text).parse()
    except _Syntax as problem:
        raise _filter_error(text, problem) from None


def _order_key(item: object) -> OrderKey:
    if not isinstance(item, str):
        raise _Syntax(0, f"expected a string, got {type(item).__name__}")
    try:
        tokens = _tokens(item)
    except _Syntax:
        tokens = []
    if not tokens or tokens[0][0] != "ident" or len(tokens) > 2:
        raise _Syntax(0, "expected a key and an optional ASC or DESC")
    descending = False
    if len(tokens) == 2:
        direction = tokens[1][1].upper()
        if tokens[1][0] != "ident" or direction not in ("ASC", "DESC"):
            raise _Syntax(
                tokens[1][2], f"expected ASC or DESC after the key, found {tokens[1][1]!r}"
            )
        descending = direction == "DESC"
    kind, key = _key(tokens[0][1], tokens[0][2])
    if kind == "inputs":
        raise _Syntax(0, "runs cannot be ordered by their inputs (a run has several)")
    return OrderKey(kind, key, descending)


def parse_order_by(items: Sequence[str]) -> tuple[OrderKey, ...]:
    """Parse ``["metrics.r2 DESC", "started_at"]``; raise ``InvalidFilter`` on a bad item."""
    if isinstance(items, str):
        items = [items]
    keys = []
    for item in items:
        try:
            keys.append(_order_key(item))
        except _Syntax as problem:
            raise InvalidFilter(
                f"cannot parse order_by item {item!r}: {problem.what}; {_ORDER_EXAMPLE}"
            ) from None
    return tuple(keys)
