"""Model names, aliases, keys and model references: one parser, one kind of error."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import opskit
from opskit.names import ModelRef, validate_alias, validate_key, validate_model_name

names = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.\-]{0,40}\Z")
aliases = st.from_regex(r"\A[A-Za-z][A-Za-z0-9_\-]{0,20}\Z").filter(lambda a: a.lower() != "latest")


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


@pytest.mark.parametrize("bad", ["", " ", "wine:0", "wine:-1", "wine:x", "wine@", "@prod", "wine@1x", "wi ne", "wine@latest", "-wine", None, 3])
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


@pytest.mark.parametrize("bad", ["", "1st", "latest", "a b", "x" * 65])
def test_bad_aliases(bad: str) -> None:
    """Invalid aliases raise InvalidName."""
    with pytest.raises(opskit.InvalidName):
        validate_alias(bad)


@given(st.from_regex(r"\A[A-Za-z0-9_\-][A-Za-z0-9_.\- ]{0,30}\Z").filter(lambda k: ".." not in k))
def test_valid_keys_accepted(key: str) -> None:
    """Keys made of the allowed characters are accepted unchanged."""
    assert validate_key(key) == key


@pytest.mark.parametrize("bad", ["", "a\nb", "x" * 251, "a..b", "/abs", "tab\t", "é"])
def test_bad_keys(bad: str) -> None:
    """Param/metric/tag keys outside the allowed set raise InvalidName."""
    with pytest.raises(opskit.InvalidName):
        validate_key(bad, "metric")
