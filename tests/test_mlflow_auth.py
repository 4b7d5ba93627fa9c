"""Real enforcement in team mode: the MLflow tracker against `mlflow server --app-name basic-auth` with two users.

A user without permission on the registered model cannot move its alias (or register a version)
through opskit: a clear ``PermissionDenied`` (MLflow's 403 mapped by the plugin), nothing moved,
nothing queued in the outbox (a refusal is not an outage), the refusal in the audit log.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import opskit
from servers import MLflowAuthServer


class Team:
    """Users of one basic-auth MLflow server, and a way to act as one of them (MLFLOW_TRACKING_* and OPSKIT_USER)."""

    def __init__(
        self, server: MLflowAuthServer, monkeypatch: pytest.MonkeyPatch, namespace: str
    ) -> None:
        self.server, self.monkeypatch, self.namespace = server, monkeypatch, namespace
        self.suffix = uuid.uuid4().hex[:8]
        self.passwords: dict[str, str] = {}

    def user(self, name: str) -> str:
        login = f"{name}-{self.suffix}"
        self.passwords[login] = f"pw-{uuid.uuid4().hex}"
        self.server.create_user(login, self.passwords[login])
        return login

    def act_as(self, login: str, password: str | None = None) -> None:
        self.monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", login)
        self.monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password or self.passwords[login])
        self.monkeypatch.setenv("OPSKIT_USER", login)
        opskit.reset_defaults()

    def grant_model(self, login: str, model: str, permission: str) -> None:
        self.server.grant(login, "registered_model", f"{self.namespace}.{model}", permission)

    def grant_audit_log(self, login: str, permission: str) -> None:
        """Permission on the experiment that keeps opskit's event log (opskit.state)."""
        experiment = self.server.experiment_id(f"{self.namespace}.opskit.state")
        self.server.grant(login, "experiment", experiment, permission)


@pytest.fixture
def team(
    mlflow_auth_server: MLflowAuthServer, monkeypatch: pytest.MonkeyPatch, store: Path
) -> Iterator[Team]:
    """opskit on the basic-auth MLflow server under a fresh namespace."""
    namespace = f"t{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("OPSKIT_TRACKER", "mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_auth_server.url)
    monkeypatch.setenv("OPSKIT_MLFLOW_NAMESPACE", namespace)
    yield Team(mlflow_auth_server, monkeypatch, namespace)
    opskit.reset_defaults()


def _outbox_files(store: Path) -> list[Path]:
    folder = store / "mlflow-outbox"
    return sorted(folder.rglob("*")) if folder.exists() else []


def test_user_without_permission_cannot_move_an_alias(team: Team, store: Path) -> None:
    """Bob (READ on the model) gets PermissionDenied moving m@production, which stays put; Alice (its owner) moves it."""
    alice, bob = team.user("alice"), team.user("bob")
    team.act_as(alice)
    opskit.models.register({"w": 1}, "m", alias="production")
    opskit.models.register({"w": 2}, "m")
    team.grant_audit_log(bob, "EDIT")  # bob may write the audit log, not the model

    team.act_as(bob)
    for attempt in (
        lambda: opskit.models.promote("m:2", "production"),
        lambda: opskit.models.set_alias("m", "production", 2),
        lambda: opskit.models.delete_alias("m", "production"),
    ):
        with pytest.raises(opskit.PermissionDenied) as caught:
            attempt()
        assert isinstance(caught.value, PermissionError)
        assert caught.value.user == bob
        assert "403" in str(caught.value) and bob in str(caught.value)
        assert "grant EDIT" in str(caught.value)
    assert opskit.models.get_version("m@production").version == 1
    assert [c.version for c in opskit.models.history("m", "production")] == [1]
    assert _outbox_files(store) == []
    denials = opskit.audit.log(action="policy_denied", user=bob)
    assert [d.after["action"] for d in denials if d.after] == [
        "set-alias:production",
        "set-alias:production",
        "delete-alias:production",
    ]
    assert opskit.audit.verify().ok

    team.act_as(alice)
    opskit.models.promote("m:2", "production", comment="alice may")
    assert opskit.models.get_version("m@production").version == 2

    team.grant_model(bob, "m", "EDIT")
    team.act_as(bob)
    opskit.models.rollback("m", "production")
    assert opskit.models.get_version("m@production").version == 1
    assert opskit.audit.verify().ok


def test_registration_refused_is_not_queued(team: Team, store: Path) -> None:
    """Bob training a new version of Alice's model gets PermissionDenied, no version, and nothing in the outbox for `opskit sync`."""
    alice, bob = team.user("alice"), team.user("bob")
    team.act_as(alice)
    opskit.models.register({"w": 1}, "m")
    team.act_as(bob)

    @opskit.train(model="m")
    def train() -> dict[str, int]:
        return {"w": 2}

    with pytest.raises(opskit.PermissionDenied, match="register"):
        train()
    assert [v.version for v in opskit.models.get("m").versions] == [1]
    assert _outbox_files(store) == []


def test_alias_move_is_refused_when_the_audit_log_is_not_writable(team: Team) -> None:
    """Carol may edit the model but not the audit log: her alias moves are refused before anything moves (never a change without its event)."""
    alice, carol = team.user("alice"), team.user("carol")
    team.act_as(alice)
    opskit.models.register({"w": 1}, "m", alias="production")
    opskit.models.register({"w": 2}, "m")
    team.grant_model(carol, "m", "EDIT")
    team.act_as(carol)
    with pytest.raises(opskit.PermissionDenied, match="opskit.state"):
        opskit.models.promote("m:2", "production")
    with pytest.raises(opskit.PermissionDenied):
        opskit.models.set_alias("m", "staging", 2)
    assert opskit.models.get_version("m@production").version == 1
    assert opskit.models.get("m").aliases == {"production": 1}
    assert opskit.audit.verify().ok


def test_wrong_password_is_permission_denied_naming_the_variables(team: Team, store: Path) -> None:
    """Credentials the server rejects (401) are PermissionDenied naming MLFLOW_TRACKING_USERNAME/PASSWORD, not an outage."""
    alice = team.user("alice")
    team.act_as(alice)
    opskit.models.register({"w": 1}, "m")
    team.act_as(alice, password="wrong")
    with pytest.raises(opskit.PermissionDenied, match="MLFLOW_TRACKING_PASSWORD"):
        opskit.models.register({"w": 2}, "m")
    assert _outbox_files(store) == []
