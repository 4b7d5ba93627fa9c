"""Deployment options: every name and value is checked in one place before any file is written or process started."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_wine
from sklearn.tree import DecisionTreeClassifier

import opskit
from opskit.cli.main import main as cli
from opskit.deployments.options import (
    DOCKER_OPTIONS,
    LOCAL_OPTIONS,
    SERVER_OPTIONS,
    Option,
    check_options,
)
from opskit.periods import parse_period

#: For each option: values it must refuse (wrong type, out of range, not finite, booleans).
BAD: dict[str, list[Any]] = {
    "workers": ["abc", 0, -1, 1.5, True, None, [2], "2.5", float("nan")],
    "max_batch": ["abc", 0, -3, 2.5, False, None, {"n": 1}, "inf"],
    "max_wait_ms": ["abc", -0.1, float("inf"), float("nan"), True, None, [1]],
    "log_sample": ["abc", -0.01, 1.01, 2, float("nan"), True, None],
    "max_body_bytes": ["abc", 0, -1, 1.5, True, None, "1MB"],
    "log_buffer": ["abc", 0, -1, 1.5, True, None],
    "poll_interval": ["abc", 0, -1, float("inf"), True, None],
    "log_level": ["loud", 3, True, None, ""],
    "timeout": ["abc", 0, -5, float("nan"), True, None],
    "path": [3, None, "", "   ", True, ["x"]],
    "host": [3, None, "", "   ", "a b", True],
    "insecure": ["maybe", 2, None, 1.5, ""],
    "metrics_auth": ["closed", 3, None, "", True],
    "auth_token": ["short", "", 3, None, True, "has a space in the middle of it", "é" * 20],
    "auth_token_file": [3, None, "", "   ", True],
    "pii": [3, None, "", [], [""], True, [1], "a,,b"],
    "pii_mode": ["hide", 3, None, "", True],
    "retention": ["30", "0d", "abc", -1, 0, None, True, float("nan"), float("inf"), ["30d"]],
}
#: For each option: a value it accepts and the canonical value recorded.
GOOD: dict[str, tuple[Any, Any]] = {
    "workers": ("3", 3),
    "max_batch": (32, 32),
    "max_wait_ms": ("0", 0.0),
    "log_sample": (0.25, 0.25),
    "max_body_bytes": (1024.0, 1024),
    "log_buffer": ("500", 500),
    "poll_interval": ("0.5", 0.5),
    "log_level": ("INFO", "info"),
    "timeout": (30, 30.0),
    "host": ("localhost", "localhost"),
    "insecure": ("yes", True),
    "metrics_auth": ("TOKEN", "token"),
    "auth_token": ("a" * 32, "a" * 32),
    "pii": ("email,ssn", ["email", "ssn"]),
    "pii_mode": ("DROP", "drop"),
    "retention": ("30d", "30d"),
}


@pytest.fixture
def wine_model() -> None:
    """One registered model, wine:1 with alias production."""
    X, y = load_wine(return_X_y=True, as_frame=True)

    @opskit.train(model="wine", alias="production")
    def fit(X, y):  # type: ignore[no-untyped-def]
        return DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)

    fit(X, y)


def test_every_target_option_has_bad_and_good_examples() -> None:
    """The tables below cover every option of both built-in targets (a new option needs its cases)."""
    assert set(BAD) == set(LOCAL_OPTIONS) | set(DOCKER_OPTIONS)
    # auth_token_file needs a real file (and excludes auth_token): tests/test_serve_auth.py covers it.
    assert set(GOOD) == set(LOCAL_OPTIONS) - {"auth_token_file"}


@pytest.mark.usefixtures("wine_model")
def test_cli_bad_max_batch_with_two_workers_fails_at_once(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`opskit deploy M -o max_batch=abc --workers 2` names the option and starts no server (no crash-looping workers)."""
    assert cli(["deploy", "wine@production", "-o", "max_batch=abc", "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert "max_batch='abc'" in err and "an integer >= 1" in err
    assert not (store / "deployments").exists()
    assert opskit.deployments.list() == []


@pytest.mark.usefixtures("wine_model")
@pytest.mark.parametrize("target", ["local", "docker"])
@pytest.mark.parametrize(
    ("option", "value"), [(name, value) for name, values in BAD.items() for value in values]
)
def test_bad_option_value_is_refused_before_anything_starts(
    store: Path, tmp_path: Path, target: str, option: str, value: Any
) -> None:
    """A bad value of any option raises InvalidOption naming the option, value and accepted values; nothing happens."""
    accepted = LOCAL_OPTIONS if target == "local" else DOCKER_OPTIONS
    context = tmp_path / "ctx"
    options = (
        {option: value}
        if option == "path"
        else {"path": str(context), option: value}
        if target == "docker"
        else {option: value}
    )
    with pytest.raises(opskit.InvalidOption) as info:
        opskit.deploy("wine@production", target=target, **options)
    error = info.value
    assert isinstance(error, opskit.DeploymentError) and isinstance(error, ValueError)
    if accepted.get(option) is not None and accepted[option].kind == "secret":
        # A token is never echoed: the message says what is wrong with it instead.
        assert error.option == option and f"{option}=" in str(error)
        assert not (isinstance(value, str) and value and value in str(error))
    else:
        assert error.option == option and error.value is value
        assert f"{option}={value!r}" in str(error)
    if option in accepted:
        assert accepted[option].accepted() in str(error)
    else:
        assert "unknown option" in str(error)
    assert not (store / "deployments").exists()
    assert not context.exists()
    assert opskit.deployments.list() == []


@pytest.mark.usefixtures("wine_model")
@pytest.mark.parametrize("target", ["local", "docker"])
def test_unknown_option_names_the_accepted_ones(tmp_path: Path, target: str) -> None:
    """An option the target does not know is refused with the list of those it accepts."""
    with pytest.raises(opskit.InvalidOption, match="unknown option 'batchsize'") as info:
        opskit.deploy("wine", target=target, batchsize=3, path=str(tmp_path / "ctx"))
    known = LOCAL_OPTIONS if target == "local" else DOCKER_OPTIONS
    assert info.value.option == "batchsize"
    assert all(name in str(info.value) for name in known)


@pytest.mark.usefixtures("wine_model")
@pytest.mark.parametrize("port", [0, -1, 70000, "http", True, 80.5])
def test_bad_port_is_refused(store: Path, port: Any) -> None:
    """A port that is not 1..65535 is refused before a server starts."""
    with pytest.raises(opskit.InvalidOption, match="port"):
        opskit.deploy("wine", port=port)
    assert not (store / "deployments").exists()


@pytest.mark.usefixtures("wine_model")
def test_good_options_are_recorded_in_their_canonical_type(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Values from the command line (strings) reach the server's spec as numbers and known words."""
    context = tmp_path / "ctx"
    args = ["deploy", "wine", "--target", "docker", "--path", str(context)]
    for name, (given_value, _) in GOOD.items():
        if name in DOCKER_OPTIONS:
            args += ["-o", f"{name}={given_value}"]
    assert cli(args) == 0, capsys.readouterr().err
    spec = json.loads((context / "spec.json").read_text())
    for name, (_, canonical) in GOOD.items():
        if name in SERVER_OPTIONS:
            assert spec[name] == canonical and type(spec[name]) is type(canonical), name


def test_server_refuses_a_bad_spec_before_starting_workers(tmp_path: Path) -> None:
    """`python -m opskit.serve` checks a hand-edited spec with the same table and exits 2 naming the option."""
    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps({"name": "x", "port": 8080, "variants": [], "workers": 2, "max_batch": "abc"})
    )
    done = subprocess.run(
        [sys.executable, "-m", "opskit.serve", str(spec)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "max_batch='abc'" in done.stderr and "Traceback" not in done.stderr


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=8),
    st.integers().map(str),
    st.floats().map(str),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted({**LOCAL_OPTIONS, **DOCKER_OPTIONS})), value=values)
def test_any_value_is_accepted_in_range_or_refused_with_invalid_option(
    name: str, value: Any
) -> None:
    """Every value either comes back in the option's type and bounds, or raises InvalidOption naming the option."""
    option: Option = {**LOCAL_OPTIONS, **DOCKER_OPTIONS}[name]
    try:
        checked = check_options("local", {name: option}, {name: value})[name]
    except opskit.InvalidOption as exc:
        refused: opskit.InvalidOption | None = exc
    else:
        refused = None
    if refused is not None:
        assert refused.option == name and name in str(refused)
        return
    if option.kind == "int":
        assert type(checked) is int
    elif option.kind == "float":
        assert type(checked) is float and math.isfinite(checked)
    elif option.kind == "choice":
        assert checked in option.choices
    elif option.kind == "bool":
        assert type(checked) is bool
    elif option.kind == "columns":
        assert isinstance(checked, list) and checked and all(c and c == c.strip() for c in checked)
    elif option.kind == "period":
        assert parse_period(checked) > 0
    else:
        assert isinstance(checked, str) and checked.strip()
    if option.kind in ("int", "float"):
        assert option.minimum is None or checked >= option.minimum
        assert option.minimum is None or option.inclusive or checked > option.minimum
        assert option.maximum is None or checked <= option.maximum


@settings(max_examples=100, deadline=None)
@given(
    name=st.sampled_from(sorted(n for n, o in SERVER_OPTIONS.items() if o.kind == "int")),
    number=st.integers(1, 10**6),
)
def test_integers_in_range_are_accepted_as_numbers_or_strings(name: str, number: int) -> None:
    """Integer options accept any in-range integer, given as a number or as its text."""
    assert check_options("local", SERVER_OPTIONS, {name: number}) == {name: number}
    assert check_options("local", SERVER_OPTIONS, {name: str(number)}) == {name: number}
