"""Rules for the test suite itself."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=3)
@given(st.integers())
def _with_own_settings(n: int) -> None:
    """A property test that sets max_examples but says nothing about a deadline."""


def test_hypothesis_examples_have_no_deadline() -> None:
    """No test asserts on timing: the profile has no deadline, and @settings(...) without one keeps None."""
    assert settings.default.deadline is None
    assert _with_own_settings._hypothesis_internal_use_settings.deadline is None  # type: ignore[attr-defined]
