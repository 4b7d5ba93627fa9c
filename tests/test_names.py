"""Model names, aliases, keys and model references: one parser, one kind of error."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opskit
from opskit.names import (
    ModelRef,
    validate_alias,
    validate_experiment,
    validate_key,
    validate_model_name,
    validate_tag_value,
)

names = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.\-]{0,40}\Z")
aliases = st.from_regex(r"\A[A-Za-z][A-Za-z0-9_\-]{0,20}\Z").filter(
    lambda a: a.lower() != "latest" and not re.fullmatch(r"[vV][0-9]+", a)
)


@given(names, st.integers(min_value=1, max_value=10**6))
def test_version_ref_round_trip(name: str, version: int) -> None:
    """name:N parses to (name, N) and prints back unchanged."""
    ref = ModelRef.parse(f"{name}:{version}")
    assert (ref.name, ref.version, ref.alias) == (name, version, None)
    assert ModelRef.parse(str(ref)) == ref


@given(names, aliases)
def test_alias_ref_round_trip(name: str, alias: str) -> None:
    """name@alias parses to (name, alias) and prints back unchanged."""
    ref = ModelRef.parse(f"{name}@{alias}")
    assert (ref.name, ref.version, ref.alias) == (name, None, alias)
    assert str(ref) == f"{name}@{alias}"


@given(st.text(max_size=30))
def test_any_text_parses_or_raises_invalid_model_ref(text: str) -> None:
    """Arbitrary text is a valid reference or raises InvalidModelRef, never anything else."""
    try:
        ref = ModelRef.parse(text)
    except opskit.InvalidModelRef as exc:
        message = str(exc)
        ref = None
    if ref is None:
        assert "name:3" in message
    else:
        assert ModelRef.parse(str(ref)) == ref


@pytest.mark.parametrize(
    "bad",
    [
        "",
        " ",
        "wine:0",
        "wine:-1",
        "wine:x",
        "wine@",
        "@prod",
        "wine@1x",
        "wi ne",
        "wine@latest",
        "-wine",
        None,
        3,
    ],
)
def test_bad_refs_raise_invalid_model_ref(bad: object) -> None:
    """Malformed references raise InvalidModelRef (also a ValueError) naming the forms."""
    with pytest.raises(opskit.InvalidModelRef, match="name@production") as info:
        ModelRef.parse(bad)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("bad", ["", "a b", "x" * 200, "../etc", "wine/1", "ünï"])
def test_bad_model_names(bad: str) -> None:
    """Invalid model names raise InvalidName with an example of a good one."""
    with pytest.raises(opskit.InvalidName, match="wine-quality"):
        validate_model_name(bad)


@pytest.mark.parametrize("bad", ["", "1st", "latest", "a b", "x" * 65, "v2", "V10", "v0", "v007"])
def test_bad_aliases(bad: str) -> None:
    """Invalid aliases raise InvalidName."""
    with pytest.raises(opskit.InvalidName):
        validate_alias(bad)


@given(st.from_regex(r"\A[A-Za-z0-9_\-][A-Za-z0-9_.\- ]{0,30}\Z").filter(lambda k: ".." not in k))
def test_valid_keys_accepted(key: str) -> None:
    """Keys made of the allowed characters are accepted unchanged."""
    assert validate_key(key) == key


@pytest.mark.parametrize(
    "bad",
    ["", "a\nb", "x" * 251, "a..b", "/abs", "tab\t", "é", "a//b", "a/", "./a", "a/./b", ".", "a/."],
)
def test_bad_keys(bad: str) -> None:
    """Param/metric/tag keys outside the allowed set raise InvalidName."""
    with pytest.raises(opskit.InvalidName):
        validate_key(bad, "metric")


# -- every name opskit accepts, every tracker accepts ------------------------------------------------

# Characters that matter to one tracker or the other: separators, dots, colons, non-ASCII, controls.
_NAME_CHARS = st.sampled_from([*"aZv09_-./: ", "ä", "ß", "\t", "\n", "@", "%", "'", "`"])
_any_names = (
    st.text(_NAME_CHARS, min_size=0, max_size=12)
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "v1",
            "V22",
            "latest",
            "Latest",
            "v1x",
            "a" * 250,
            "a" * 251,
            "a" * 200,
            "a" * 201,
            ".",
            "a/.",
            "x//y",
        ]
    )
)


def _mlflow_accepts(check: object, *args: object) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        check(*args)  # type: ignore[operator]
    except MlflowException:
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(_any_names)
def test_every_key_opskit_accepts_mlflow_accepts(name: str) -> None:
    """A param, metric or tag key that validate_key accepts passes MLflow's own checks (names and length)."""
    validation = pytest.importorskip("mlflow.utils.validation")
    try:
        validate_key(name)
    except opskit.InvalidName:
        return
    for check in (
        validation._validate_param_name,
        validation._validate_metric_name,
        validation._validate_tag_name,
    ):
        assert _mlflow_accepts(check, name)
    assert _mlflow_accepts(
        validation._validate_length_limit, "key", validation.MAX_ENTITY_KEY_LENGTH, name
    )


@settings(max_examples=300, deadline=None)
@given(_any_names)
def test_every_alias_opskit_accepts_mlflow_accepts(name: str) -> None:
    """An alias validate_alias accepts is neither malformed nor reserved for MLflow (no 'latest', no 'v<digits>')."""
    validation = pytest.importorskip("mlflow.utils.validation")
    try:
        validate_alias(name)
    except opskit.InvalidName:
        return
    assert _mlflow_accepts(validation._validate_model_alias_name, name)
    assert _mlflow_accepts(validation._validate_model_alias_name_reserved, name)


@settings(max_examples=300, deadline=None)
@given(_any_names, st.sampled_from(["", "t0123456789ab"]))
def test_every_model_and_experiment_name_opskit_accepts_mlflow_accepts(
    name: str, namespace: str
) -> None:
    """Model and experiment names opskit accepts pass MLflow's checks and fit its columns, with a namespace prefix."""
    validation = pytest.importorskip("mlflow.utils.validation")
    full = f"{namespace}.{name}" if namespace else name
    try:
        validate_model_name(name)
    except opskit.InvalidName:
        pass
    else:
        assert _mlflow_accepts(validation._validate_model_name, full)
        assert len(full) <= 256  # MLflow's registered_models.name column (PostgreSQL enforces it)
    try:
        validate_experiment(name)
    except opskit.InvalidName:
        pass
    else:
        assert _mlflow_accepts(validation._validate_experiment_name, full)
        assert len(full) <= 256  # MLflow's experiments.name column


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=20) | st.sampled_from(["x" * 8000, "é" * 8000, "x" * 8001]))
def test_tag_values_within_the_limit_are_never_cut_by_mlflow(value: str) -> None:
    """A tag value validate_tag_value accepts comes through MLflow's tag check unchanged (not truncated)."""
    validation = pytest.importorskip("mlflow.utils.validation")
    try:
        text = validate_tag_value("k", value)
    except opskit.InvalidValue:
        assert len(value) > 8000
        return
    assert validation._validate_tag("k", text).value == text
