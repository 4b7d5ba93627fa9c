"""The search filter and order_by parsers: MLflow's syntax into ``Clause`` and ``OrderKey`` records."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opskit.errors import InvalidFilter
from opskit.query import ATTRIBUTES, Clause, OrderKey, RunQuery, parse_filter, parse_order_by


@pytest.mark.parametrize(
    ("op", "expected"),
    [("=", "="), ("!=", "!="), ("<", "<"), ("<=", "<="), (">", ">"), (">=", ">=")],
)
def test_comparison_operators(op: str, expected: str) -> None:
    """Each comparison operator becomes a clause with that operator."""
    assert parse_filter(f"metrics.r2 {op} 0.5") == (Clause("metrics", "r2", expected, 0.5),)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "clause"),
    [
        ("params.opt LIKE 'ad%'", Clause("params", "opt", "LIKE", "ad%")),
        ("tags.team like '%ml'", Clause("tags", "team", "LIKE", "%ml")),
        ("tags.team ILIKE '%ML%'", Clause("tags", "team", "ILIKE", "%ML%")),
        ("params.opt IN ('adam', 'sgd')", Clause("params", "opt", "IN", ("adam", "sgd"))),
        ("params.depth in (3, 5)", Clause("params", "depth", "IN", (3, 5))),
        ("metrics.r2 NOT IN (0, 1.5)", Clause("metrics", "r2", "NOT IN", (0, 1.5))),
        ("tags.team not  in ('a')", Clause("tags", "team", "NOT IN", ("a",))),
    ],
)
def test_word_operators_are_case_insensitive(text: str, clause: Clause) -> None:
    """LIKE, ILIKE, IN and NOT IN are recognised in any case, IN with a parenthesised list."""
    assert parse_filter(text) == (clause,)


@pytest.mark.parametrize(("name", "canonical"), sorted(ATTRIBUTES.items()))
def test_every_attribute_and_its_alias(name: str, canonical: str) -> None:
    """Bare and ``attributes.`` names (MLflow's or ours) resolve to the canonical attribute."""
    value = "1700000000" if canonical in ("started_at", "ended_at") else "'FINISHED'"
    expected_value: object = 1700000000 if canonical in ("started_at", "ended_at") else "FINISHED"
    for text in (
        f"{name} = {value}",
        f"attributes.{name} = {value}",
        f"attribute.{name.upper()} = {value}",
    ):
        assert parse_filter(text) == (Clause("attributes", canonical, "=", expected_value),)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "kind", "key"),
    [
        ("params.alpha", "params", "alpha"),
        ("param.alpha", "params", "alpha"),
        ("metrics.val/r2", "metrics", "val/r2"),
        ("metric.loss-1", "metrics", "loss-1"),
        ("metrics.1st", "metrics", "1st"),
        ("tags.mlflow.note", "tags", "mlflow.note"),
        ("params.`my key`", "params", "my key"),
        ('params."my key"', "params", "my key"),
        ("metrics.`a.b c`", "metrics", "a.b c"),
    ],
)
def test_keys_plain_backquoted_and_double_quoted(text: str, kind: str, key: str) -> None:
    """Keys take a kind prefix (plural or singular); names with spaces are quoted with ` or "."""
    value = "'x'" if kind != "metrics" else "1"
    (clause,) = parse_filter(f"{text} = {value}")
    assert (clause.kind, clause.key) == (kind, key)


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("3", 3),
        ("-3", -3),
        ("+3", 3),
        ("0.25", 0.25),
        ("-.5", -0.5),
        ("1.", 1.0),
        ("1e3", 1000.0),
        ("-2.5E-3", -0.0025),
        ("123456789012345678901234567890", 1.2345678901234568e29),
        ("'adam'", "adam"),
        ('"adam"', "adam"),
        ("'it\\'s'", "it's"),
        ("''", ""),
        ("'a and b = 1'", "a and b = 1"),
    ],
)
def test_values(literal: str, value: object) -> None:
    """Numbers (int, float, sign, exponent) and single- or double-quoted strings with escapes."""
    (clause,) = parse_filter(f"params.p = {literal}")
    assert clause.value == value
    assert type(clause.value) is type(value)


def test_clauses_joined_by_and_in_any_case() -> None:
    """Clauses are joined by 'and' in any case; their order is kept."""
    text = "params.alpha > 0.1 and metrics.r2 >= 0.5 AND tags.team = 'ml' And status = 'FINISHED'"
    assert parse_filter(text) == (
        Clause("params", "alpha", ">", 0.1),
        Clause("metrics", "r2", ">=", 0.5),
        Clause("tags", "team", "=", "ml"),
        Clause("attributes", "status", "=", "FINISHED"),
    )


def test_statuses_are_canonicalized() -> None:
    """Run statuses compare in upper case whatever case the filter uses."""
    assert parse_filter("status IN ('finished', 'Failed')") == (
        Clause("attributes", "status", "IN", ("FINISHED", "FAILED")),
    )


def test_keys_named_like_attributes_keep_their_kind() -> None:
    """tags.status and params.started_at are ordinary keys, not the run's status or start time."""
    assert parse_filter(
        "tags.status = 'done' and params.started_at = 'noon' and params.status = 1"
    ) == (
        Clause("tags", "status", "=", "done"),
        Clause("params", "started_at", "=", "noon"),
        Clause("params", "status", "=", 1),
    )


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_filter_means_no_clauses(text: str) -> None:
    """An empty or blank filter selects every run."""
    assert parse_filter(text) == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("status = 'FINISHED' or status = 'FAILED'", "only 'and'"),
        ("metrics.r2 OR 1", "expected an operator"),
        ("metrics.r2", "expected an operator"),
        ("metrics.r2 >", "expected a value"),
        ("metrics.r2 >>> 1", "expected a value"),
        ("metrics.r2 == 1", "expected a value"),
        ("metrics.r2 ~ 1", "unexpected character"),
        ("params.a = 'unclosed", "unexpected character"),
        ("params.a = adam", "expected a value"),
        ("params.a = 1 and", "expected a key"),
        ("params.a = 1 params.b = 2", "expected 'and'"),
        ("= 1", "expected a key"),
        ("foo.bar = 1", "unknown key type 'foo'"),
        ("bogus = 1", "unknown attribute 'bogus'"),
        ("params.a IN 'x'", "IN needs a list"),
        ("params.a IN ()", "expected a value"),
        ("params.a IN ('x',)", "expected a value"),
        ("params.a IN ('x' 'y')", "expected ','"),
        ("params.a IN ('x'", "expected ','"),
        ("params.a NOT LIKE 'x'", "expected an operator"),
        ("params.a LIKE 3", "quoted pattern"),
        ("metrics.r2 LIKE '%'", "is a number"),
        ("metrics.r2 = 'high'", "is a number"),
        ("started_at > 'yesterday'", "is a number"),
        ("tags.team = 3", "strings"),
        ("tags.team IN ('a', 3)", "strings"),
        ("status = 'DONE'", "run status is one of"),
        ("params.`` = 1", "unexpected character"),
        ("params. = 1", "empty key name"),
    ],
)
def test_invalid_filters_say_what_is_wrong(text: str, message: str) -> None:
    """A malformed filter raises InvalidFilter naming the problem."""
    with pytest.raises(InvalidFilter, match=message):
        parse_filter(text)


def test_error_quotes_the_filter_points_at_the_problem_and_shows_an_example() -> None:
    """The message repeats the filter, puts a caret under the offending token and gives a valid example."""
    text = "metrics.r2 >= 0.5 and\tparams.alpha ~ 1"
    with pytest.raises(InvalidFilter) as info:
        parse_filter(text)
    message = str(info.value)
    assert repr(text) in message
    lines = message.splitlines()
    echoed = next(line for line in lines if line.strip().startswith("metrics.r2"))
    caret = lines[lines.index(echoed) + 1]
    assert echoed[caret.index("^")] == "~"
    assert "for example: params.alpha > 0.1" in message


def test_a_filter_must_be_a_string() -> None:
    """A non-string filter raises InvalidFilter, not TypeError."""
    with pytest.raises(InvalidFilter, match="must be a string"):
        parse_filter(42)  # type: ignore[arg-type]


def _parses_or_rejects(text: str) -> None:
    try:
        clauses = parse_filter(text)
    except InvalidFilter as exc:
        message = str(exc)
    else:
        assert all(isinstance(c, Clause) for c in clauses)
        return
    assert repr(text) in message


@given(st.text(max_size=60))
def test_arbitrary_text_parses_or_raises_invalid_filter(text: str) -> None:
    """Whatever the text, the parser returns clauses or raises InvalidFilter quoting it, nothing else."""
    _parses_or_rejects(text)


_TOKENS = st.sampled_from(
    [
        "params.a",
        "metrics.m",
        "tags.t",
        "status",
        "and",
        "AND",
        "or",
        "in",
        "not",
        "like",
        "=",
        "!=",
        "<",
        ">=",
        "(",
        ")",
        ",",
        "'x'",
        '"y"',
        "1",
        "-2.5e3",
        "`k`",
        ".5",
        "'",
    ]
)


@given(st.lists(_TOKENS, max_size=12))
def test_token_soup_parses_or_raises_invalid_filter(tokens: list[str]) -> None:
    """Sequences of real filter tokens in any order never raise anything but InvalidFilter."""
    _parses_or_rejects(" ".join(tokens))


_KEYS = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_\-/]{0,10}\Z")
_NUMBERS = st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False)
_STRINGS = st.text(st.characters(blacklist_categories=("Cs",)), max_size=10)


@st.composite
def _clauses(draw: st.DrawFn) -> Clause:
    kind = draw(st.sampled_from(["params", "metrics", "tags"]))
    values = _NUMBERS if kind == "metrics" else _STRINGS if kind == "tags" else _NUMBERS | _STRINGS
    ops = ["=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN"] + (
        ["LIKE", "ILIKE"] if kind != "metrics" else []
    )
    op = draw(st.sampled_from(ops))
    if op in ("LIKE", "ILIKE"):
        values = _STRINGS
    value = tuple(draw(st.lists(values, min_size=1, max_size=3))) if "IN" in op else draw(values)
    return Clause(kind, draw(_KEYS), op, value)  # type: ignore[arg-type]


def _literal(value: object) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_literal(v) for v in value) + ")"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return repr(value)


@given(st.lists(_clauses(), min_size=1, max_size=4))
def test_written_clauses_parse_back(clauses: list[Clause]) -> None:
    """Clauses written out in the filter syntax parse back to the same clauses."""
    text = " and ".join(f"{c.kind}.`{c.key}` {c.op} {_literal(c.value)}" for c in clauses)
    assert parse_filter(text) == tuple(clauses)


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("metrics.r2 DESC", OrderKey("metrics", "r2", descending=True)),
        ("metrics.r2 desc", OrderKey("metrics", "r2", descending=True)),
        ("params.alpha", OrderKey("params", "alpha")),
        ("params.alpha ASC", OrderKey("params", "alpha")),
        ("started_at ASC", OrderKey("attributes", "started_at")),
        ("start_time", OrderKey("attributes", "started_at")),
        ("attributes.end_time DESC", OrderKey("attributes", "ended_at", descending=True)),
        ("tags.`my tag` DESC", OrderKey("tags", "my tag", descending=True)),
        ('  metrics."a b"  ', OrderKey("metrics", "a b")),
    ],
)
def test_order_by_items(item: str, expected: OrderKey) -> None:
    """An order_by item is a key with an optional ASC or DESC (any case)."""
    assert parse_order_by([item]) == (expected,)


def test_order_by_accepts_one_string_and_keeps_order() -> None:
    """A single string is one item; several items keep their order."""
    assert parse_order_by("metrics.r2 DESC") == (OrderKey("metrics", "r2", True),)
    assert parse_order_by(["tags.a", "params.b DESC"]) == (
        OrderKey("tags", "a"),
        OrderKey("params", "b", True),
    )


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("", "expected a key"),
        ("metrics.r2 DOWN", "expected ASC or DESC"),
        ("metrics.r2 ASC DESC", "expected a key"),
        ("metrics.r2 >", "expected ASC or DESC"),
        ("foo.r2", "unknown key type"),
        ("bogus", "unknown attribute"),
        ("'metrics.r2'", "expected a key"),
        (3, "expected a string"),
    ],
)
def test_invalid_order_by_items(item: object, message: str) -> None:
    """A bad order_by item raises InvalidFilter naming the item and showing valid ones."""
    with pytest.raises(InvalidFilter, match=message) as info:
        parse_order_by([item])  # type: ignore[list-item]
    assert repr(item) in str(info.value) and "metrics.r2 DESC" in str(info.value)


def test_run_query_build() -> None:
    """RunQuery.build parses both parts and keeps limit and experiment."""
    query = RunQuery.build("metrics.r2 > 0.5", ["metrics.r2 DESC"], limit=5, experiment="exp")
    assert query == RunQuery(
        (Clause("metrics", "r2", ">", 0.5),), (OrderKey("metrics", "r2", True),), 5, "exp"
    )
    assert RunQuery.build() == RunQuery()


@pytest.mark.parametrize(
    ("text", "clause"),
    [
        ("params.l = '[64, 32]'", Clause("params", "l", "IN", ("[64, 32]", "[64,32]"))),
        ("params.l != '[64, 32]'", Clause("params", "l", "NOT IN", ("[64, 32]", "[64,32]"))),
        (
            'params.d = \'{"b": 1, "a": 2}\'',
            Clause("params", "d", "IN", ('{"b": 1, "a": 2}', '{"a":2,"b":1}')),
        ),
        ("params.l IN ('[1, 2]', 'x')", Clause("params", "l", "IN", ("[1, 2]", "[1,2]", "x"))),
        ("params.l = '[64,32]'", Clause("params", "l", "=", "[64,32]")),
        ("params.l = '[not json'", Clause("params", "l", "=", "[not json")),
        ("params.l LIKE '[64, %'", Clause("params", "l", "LIKE", "[64, %")),
        ("tags.l = '[64, 32]'", Clause("tags", "l", "=", "[64, 32]")),
    ],
)
def test_quoted_lists_and_dicts_are_also_tried_in_compact_json(text: str, clause: Clause) -> None:
    """A quoted list/dict compared with a param is also tried in its compact JSON spelling (how list params compare)."""
    assert parse_filter(text) == (clause,)
