"""Access policy: roles → actions from configuration, checked on every governed path; a denial changes nothing and is audited."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import opskit
from opskit.cli.main import main
from opskit.governance.config import ACTION_VERBS, GovernanceConfig, parse_governance
from opskit.governance.policy import allowed

pytestmark = pytest.mark.trackers("local", "mlflow")

POLICY: dict[str, Any] = {
    "roles": {
        "admin": ["*"],
        "scientist": ["register", "set-alias:staging", "promote:staging"],
        "releaser": [
            "promote:*",
            "rollback:production",
            "archive",
            "delete",
            "delete-alias",
            "deploy:fake",
            "stop:fake",
        ],
        "viewer": [],
    },
    "users": {"alice": ["admin"], "sam": "scientist", "rita": ["releaser"]},
    "default_role": "viewer",
}


@pytest.fixture
def policy(monkeypatch: pytest.MonkeyPatch, tracker: str) -> None:
    """Two versions of m (m@production → 1, m@staging → 2, production moved once), then the policy in force."""
    monkeypatch.setenv("OPSKIT_USER", "alice")
    opskit.models.register({"w": 1}, "m", alias="production")
    opskit.models.register({"w": 2}, "m", alias="staging")
    opskit.models.register({"w": 3}, "m")
    opskit.models.set_alias("m", "production", 2)
    opskit.configure(governance=POLICY)


def _denials() -> list[opskit.AuditEvent]:
    return opskit.audit.log(action="policy_denied")


def _state() -> tuple[object, ...]:
    model = opskit.models.get("m")
    versions = tuple((v.version, v.status, tuple(sorted(v.aliases))) for v in model.versions)
    return versions, len(opskit.models.history("m"))


DENIED: list[tuple[str, str, Any]] = [
    ("promote:production", "sam", lambda: opskit.models.promote("m:3", "production")),
    ("set-alias:production", "sam", lambda: opskit.models.set_alias("m", "production", 3)),
    ("delete-alias:staging", "sam", lambda: opskit.models.delete_alias("m", "staging")),
    ("rollback:production", "sam", lambda: opskit.models.rollback("m", "production")),
    ("rollback:staging", "rita", lambda: opskit.models.rollback("m", "staging")),
    ("archive", "sam", lambda: opskit.models.archive("m:3")),
    ("delete", "sam", lambda: opskit.models.delete("m:3")),
    ("register", "rita", lambda: opskit.models.register({"w": 4}, "m")),
    (
        "set-alias:production",
        "sam",
        lambda: opskit.models.register({"w": 4}, "m", alias="production"),
    ),
    ("promote:staging", "nobody", lambda: opskit.models.promote("m:3", "staging")),
]


@pytest.mark.parametrize(
    ("action", "user", "call"), DENIED, ids=[d[0] + "-" + d[1] for d in DENIED]
)
def test_denied_action_raises_names_user_action_role_and_changes_nothing(
    policy: None, monkeypatch: pytest.MonkeyPatch, action: str, user: str, call: Any
) -> None:
    """A governed action the user's roles do not allow raises PermissionDenied (user, action, allowing role), moves nothing, and is audited."""
    before = _state()
    monkeypatch.setenv("OPSKIT_USER", user)
    with pytest.raises(opskit.PermissionDenied) as caught:
        call()
    error = caught.value
    assert isinstance(error, PermissionError)
    assert (error.user, error.action) == (user, action)
    assert error.allowed_by and "admin" in error.allowed_by
    assert repr(user) in str(error) and action in str(error) and "admin" in str(error)
    assert _state() == before
    denial = _denials()[-1]
    assert (denial.user, denial.model) == (user, "m")
    assert denial.after is not None and denial.after["action"] == action
    assert opskit.audit.verify().ok


def test_allowed_users_act_on_every_path(policy: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Users whose roles allow an action do it; nothing is recorded as denied."""
    monkeypatch.setenv("OPSKIT_USER", "sam")
    opskit.models.promote("m:3", "staging")
    version = opskit.models.register({"w": 4}, "m", alias="staging")
    monkeypatch.setenv("OPSKIT_USER", "rita")
    opskit.models.promote("m:3", "production")
    opskit.models.rollback("m", "production")
    opskit.models.archive("m:1")
    opskit.models.delete("m:1")
    opskit.models.delete_alias("m", "staging")
    assert opskit.models.get_version("m@production").version == 2
    assert version.version == 4
    assert _denials() == []


def test_decorator_denial_runs_nothing(policy: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """@opskit.train as a user who may not register (or not move alias=) starts no run and never calls the function."""
    calls: list[int] = []

    @opskit.train(model="m", alias="production")
    def train() -> dict[str, int]:
        calls.append(1)
        return {"w": 9}

    before, runs = _state(), len(opskit.search_runs())
    for user, action in (("rita", "register"), ("sam", "set-alias:production")):
        monkeypatch.setenv("OPSKIT_USER", user)
        with pytest.raises(opskit.PermissionDenied, match=action):
            train()
    assert calls == [] and _state() == before and len(opskit.search_runs()) == runs
    monkeypatch.setenv("OPSKIT_USER", "alice")
    assert train() == {"w": 9} and calls == [1]
    assert opskit.models.get_version("m@production").version == 4


def test_default_role_applies_to_unknown_users(
    policy: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user not listed gets default_role; without default_role, such a user may do nothing governed."""
    monkeypatch.setenv("OPSKIT_USER", "stranger")
    with pytest.raises(opskit.PermissionDenied, match="roles: viewer"):
        opskit.models.archive("m:3")
    opskit.configure(governance={**POLICY, "default_role": "scientist"})
    opskit.models.promote("m:3", "staging")
    opskit.configure(governance={k: v for k, v in POLICY.items() if k != "default_role"})
    with pytest.raises(opskit.PermissionDenied, match="no role"):
        opskit.models.promote("m:1", "staging")
    assert opskit.models.get_version("m@staging").version == 3


def test_no_policy_allows_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without governance roles configured every action is allowed (opskit works as before)."""
    monkeypatch.setenv("OPSKIT_USER", "anyone")
    opskit.models.register({"w": 1}, "m", alias="production")
    opskit.models.archive(opskit.models.register({"w": 2}, "m").ref)
    assert _denials() == []


def test_deploy_and_stop_are_governed(
    fake_target: None, policy: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """deploy:<target> and stop:<target> are checked: a denied deploy records no deployment, a denied stop keeps it running."""
    monkeypatch.setenv("OPSKIT_USER", "sam")
    with pytest.raises(opskit.PermissionDenied, match="deploy:fake"):
        opskit.deploy("m@production", target="fake", name="d")
    assert opskit.deployments.list() == []
    monkeypatch.setenv("OPSKIT_USER", "rita")
    deployment = opskit.deploy("m@production", target="fake", name="d")
    monkeypatch.setenv("OPSKIT_USER", "sam")
    with pytest.raises(opskit.PermissionDenied, match="stop:fake"):
        opskit.deployments.stop("d")
    assert opskit.deployments.get("d").state == "running"
    monkeypatch.setenv("OPSKIT_USER", "rita")
    assert deployment.stop().state == "stopped"
    assert [e.after["action"] for e in _denials() if e.after] == ["deploy:fake", "stop:fake"]


def test_cli_denial_exits_2_with_the_message(
    policy: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`opskit models promote` as a user without the role exits 2, names user/action/role on stderr, moves nothing."""
    monkeypatch.setenv("OPSKIT_USER", "sam")
    assert main(["models", "promote", "m:3", "production"]) == 2
    err = capsys.readouterr().err
    assert "'sam'" in err and "promote:production" in err and "releaser" in err
    assert opskit.models.get_version("m@production").version == 2


@pytest.mark.parametrize(
    ("governance", "error", "key"),
    [
        ({"rolse": {}}, opskit.PolicyError, "rolse"),
        ({"roles": {"ds": ["promte:staging"]}}, opskit.PolicyError, "governance.roles.ds"),
        ({"roles": {"ds": ["archive:m"]}}, opskit.PolicyError, "governance.roles.ds"),
        ({"roles": {"ds": ["promote:"]}}, opskit.PolicyError, "governance.roles.ds"),
        ({"roles": {"ds": "register"}}, opskit.PolicyError, "governance.roles.ds"),
        ({"roles": {"ds": []}, "users": {"bo": ["dz"]}}, opskit.UnknownRole, "governance.users.bo"),
        ({"roles": {"ds": []}, "default_role": "guest"}, opskit.UnknownRole, "default_role"),
        ({"users": {"bo": []}}, opskit.PolicyError, "roles"),
    ],
)
def test_bad_policy_is_a_specific_error_naming_the_key(
    governance: dict[str, Any], error: type[Exception], key: str
) -> None:
    """A typo or an undefined role in the policy raises a PolicyError subclass naming the key; the configuration in force is unchanged."""
    opskit.configure(governance=POLICY)
    with pytest.raises(error) as caught:
        opskit.configure(governance=governance)
    assert isinstance(caught.value, opskit.ConfigError)
    assert getattr(caught.value, "key", None) == key
    assert key.rsplit(".", 1)[-1] in str(caught.value)
    assert opskit.get_config().governance == parse_governance(POLICY, "test")


def test_policy_from_pyproject(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """[tool.opskit.governance] in pyproject.toml is the policy; a typo there names the key and the file."""
    (tmp_path / "pyproject.toml").write_text(
        '[tool.opskit.governance]\nroles = { ds = ["register"] }\nusers = { bo = "ds" }\n'
    )
    opskit.reset_defaults()
    assert opskit.get_config().governance == GovernanceConfig(
        roles={"ds": ("register",)}, users={"bo": ("ds",)}
    )
    monkeypatch.setenv("OPSKIT_USER", "bo")
    opskit.models.register({"w": 1}, "m")
    with pytest.raises(opskit.PermissionDenied):
        opskit.models.register({"w": 1}, "m", alias="x")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.opskit.governance]\nroles = { ds = ["regster"] }\n'
    )
    opskit.reset_defaults()
    with pytest.raises(opskit.PolicyError, match=r"regster.*|pyproject"):
        opskit.get_config()


_ALIASES = st.sampled_from(["production", "staging", "x"])


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    verb=st.sampled_from(sorted(ACTION_VERBS)),
    granted=st.one_of(st.none(), st.just("*"), _ALIASES),
    asked=_ALIASES,
)
def test_grant_matching(verb: str, granted: str | None, asked: str) -> None:
    """`verb` and `verb:*` allow the verb on anything, `verb:X` only on X, `*` everything, and nothing else."""
    if ACTION_VERBS[verb] is None:
        granted = None
    pattern = verb if granted is None else f"{verb}:{granted}"
    config = parse_governance({"roles": {"r": [pattern]}, "users": {"u": "r"}}, "test")
    action = verb if ACTION_VERBS[verb] is None else f"{verb}:{asked}"
    assert allowed(config, "u", action) == (granted in (None, "*", asked))
    other = "archive" if verb != "archive" else "delete"
    assert not allowed(config, "u", other)
    assert not allowed(config, "someone-else", action)
    star = parse_governance({"roles": {"r": ["*"]}, "default_role": "r"}, "test")
    assert allowed(star, "anyone", action)
