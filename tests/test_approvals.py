"""Protected aliases and four-eyes approvals: every path opens a request, approvals move the alias, refusals change nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import opskit
from opskit.cli.main import main
from opskit.errors import (
    AlreadyApproved,
    ApprovalNotFound,
    ApprovalPending,
    GovernanceConfigError,
    InvalidModelRef,
    RequestClosed,
    SelfApproval,
    ValidationRequired,
    VersionNotServable,
)
from opskit.governance.approvals import ApprovalRequest

pytestmark = pytest.mark.trackers("local", "mlflow")


def _as(monkeypatch: pytest.MonkeyPatch, user: str) -> None:
    monkeypatch.setenv("OPSKIT_USER", user)


def _protect(**extra: Any) -> None:
    opskit.configure(governance={"protected_aliases": ["production"], **extra})


def _two() -> None:
    """m:1 (production, set before protection), m:2."""
    opskit.models.register({"w": 1}, "m", alias="production")
    opskit.models.register({"w": 2}, "m")


def _state() -> tuple[dict[str, int], list[tuple[Any, ...]], int]:
    """The aliases, the alias history and the number of audit events (what a refusal must not change)."""
    history = [(c.alias, c.version, c.previous_version) for c in opskit.models.history("m")]
    return opskit.models.get("m").aliases, history, len(opskit.audit.log())


def test_promote_to_a_protected_alias_opens_a_request_and_approval_moves_it(
    tracker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """promote returns the open request (alias unmoved); another user's approval moves it; all audited with comments."""
    _as(monkeypatch, "alice")
    _two()
    _protect()
    request = opskit.models.promote("m:2", "production", comment="beats v1")
    assert isinstance(request, ApprovalRequest)
    assert (request.status, request.version, request.requester) == ("open", 2, "alice")
    assert (request.previous_version, request.required) == (1, 1)
    assert opskit.models.get("m").aliases == {"production": 1}
    assert [r.id for r in opskit.approvals.list()] == [request.id]
    _as(monkeypatch, "bob")
    done = opskit.approvals.approve(request.id, comment="checked report")
    assert done.status == "approved"
    assert [a.user for a in done.approvals] == ["bob"]
    assert opskit.models.get("m").aliases == {"production": 2}
    assert opskit.approvals.list() == []
    assert opskit.approvals.list(status="approved")[0].id == request.id
    kinds = [(e.action, e.user, e.reason) for e in opskit.audit.log(model="m")][-3:]
    assert kinds[0] == ("approval_requested", "alice", "beats v1")
    assert kinds[1] == ("approval_granted", "bob", "checked report")
    assert kinds[2][:2] == ("alias_moved", "bob")
    assert opskit.audit.verify().ok


def test_every_path_to_a_protected_alias_opens_a_request(
    tracker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """set_alias, register(alias=), the decorator's alias= and the CLI move nothing and open a request instead."""
    _as(monkeypatch, "alice")
    _two()
    _protect()
    with pytest.warns(ApprovalPending, match=r"#1 is open"):
        change = opskit.models.set_alias("m", "production", 2)
    assert (change.version, change.previous_version) == (1, 1)
    with pytest.warns(ApprovalPending, match=r"#2 is open"):
        version = opskit.models.register({"w": 3}, "m", alias="production")
    assert version.version == 3 and "production" not in version.aliases

    @opskit.train(model="m", alias="production")
    def fit() -> dict[str, int]:
        return {"w": 4}

    with pytest.warns(ApprovalPending, match=r"#3 is open"):
        fit()
    assert main(["models", "promote", "m:2", "production"]) == 0  # the open request #1 again
    assert main(["models", "set-alias", "m", "production", "4"]) == 0  # the open request #3 again
    assert opskit.models.get("m").aliases == {"production": 1}
    assert [(r.id, r.version) for r in opskit.approvals.list()] == [(1, 2), (2, 3), (3, 4)]
    assert [v.version for v in opskit.models.get("m").versions] == [1, 2, 3, 4]  # all registered


def test_unprotected_alias_and_rollback_need_no_approval(
    tracker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Other aliases move at once; a rollback of a protected alias to its previous target moves it, audited."""
    _as(monkeypatch, "alice")
    _two()
    _protect()
    change = opskit.models.promote("m:2", "staging")
    assert not isinstance(change, ApprovalRequest) and change.version == 2
    request = opskit.models.promote("m:2", "production")
    assert isinstance(request, ApprovalRequest)
    _as(monkeypatch, "bob")
    opskit.approvals.approve(request.id)
    _as(monkeypatch, "alice")  # no approval needed, even by the requester
    back = opskit.models.rollback("m", "production", comment="v2 misbehaves")
    assert (back.previous_version, back.version) == (2, 1)
    assert opskit.models.get("m").aliases == {"production": 1, "staging": 2}
    last = opskit.audit.log(model="m")[-1]
    assert (last.action, last.user, last.reason) == ("alias_moved", "alice", "v2 misbehaves")


def test_bad_approvals_are_refused_and_change_nothing(
    tracker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Self-approval, approving twice, closed or unknown requests, archived versions, another model: each its own error."""
    _as(monkeypatch, "alice")
    _two()
    opskit.models.register({"w": 3}, "m")
    opskit.models.register({"w": 1}, "other")
    opskit.configure(governance={"protected_aliases": ["production"], "approvals_required": 2})
    request = opskit.models.promote("m:2", "production")
    assert isinstance(request, ApprovalRequest) and request.required == 2
    before = _state()
    with pytest.raises(SelfApproval, match=r"'alice' opened it"):
        opskit.approvals.approve(request.id)
    _as(monkeypatch, "bob")
    opskit.approvals.approve(request.id, comment="first")
    before = _state()
    with pytest.raises(AlreadyApproved, match=r"'bob' already approved request #1"):
        opskit.approvals.approve(request.id)
    with pytest.raises(ApprovalNotFound, match=r"no approval request #99"):
        opskit.approvals.approve(99)
    with pytest.raises(InvalidModelRef, match=r"belongs to model 'other'"):
        opskit.models.promote("m:2", "other@production")
    assert _state() == before
    assert opskit.approvals.get(request.id).approvals[0].user == "bob"
    # The version is archived meanwhile (an unprotected path): the last approval cannot move the alias.
    opskit.models.archive("m:2")
    before = _state()
    _as(monkeypatch, "carol")
    with pytest.raises(VersionNotServable, match=r"m:2 was archived meanwhile"):
        opskit.approvals.approve(request.id)
    assert _state() == before
    assert opskit.approvals.get(request.id).status == "open"
    opskit.approvals.reject(request.id, comment="archived")
    before = _state()
    with pytest.raises(RequestClosed, match=r"already rejected"):
        opskit.approvals.approve(request.id)
    with pytest.raises(RequestClosed, match=r"already rejected"):
        opskit.approvals.reject(request.id)
    with pytest.raises(VersionNotServable, match=r"archived"):
        opskit.models.promote("m:2", "production")
    assert _state() == before
    assert opskit.models.get("m").aliases == {"production": 1}


def test_two_approvals_needed_per_alias(tracker: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With {production = 2} the alias moves on the second distinct approver, not the first."""
    _as(monkeypatch, "alice")
    _two()
    opskit.configure(
        governance={
            "protected_aliases": ["production", "staging"],
            "approvals_required": {"production": 2},
        }
    )
    request = opskit.models.promote("m:2", "production")
    assert isinstance(request, ApprovalRequest)
    _as(monkeypatch, "bob")
    assert opskit.approvals.approve(request.id).status == "open"
    assert opskit.models.get("m").aliases == {"production": 1}
    _as(monkeypatch, "carol")
    assert opskit.approvals.approve(request.id).status == "approved"
    assert opskit.models.get("m").aliases == {"production": 2}
    staging = opskit.models.promote("m:1", "staging")
    assert isinstance(staging, ApprovalRequest) and staging.required == 1


def test_reject_closes_the_request_and_leaves_the_alias(
    tracker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rejected request never moves the alias; the rejection and its comment are audited."""
    _as(monkeypatch, "alice")
    _two()
    _protect()
    request = opskit.models.promote("m:2", "production")
    assert isinstance(request, ApprovalRequest)
    _as(monkeypatch, "bob")
    closed = opskit.approvals.reject(request.id, comment="drift on segment B")
    assert closed.status == "rejected" and closed.rejection is not None
    assert closed.rejection.user == "bob"
    assert opskit.models.get("m").aliases == {"production": 1}
    last = opskit.audit.log(model="m")[-1]
    assert (last.action, last.reason) == ("approval_rejected", "drift on segment B")


def test_require_validation_refuses_a_version_without_a_passed_report(
    tracker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With require_validation, a version whose run has no passed report cannot be requested; nothing changes."""
    _as(monkeypatch, "alice")
    _two()
    _protect(require_validation=True)
    before = _state()
    with pytest.raises(ValidationRequired, match=r"m:2 for protected alias 'production'"):
        opskit.models.promote("m:2", "production")
    assert _state() == before
    assert opskit.approvals.list(status="all") == []


def test_approval_flow_through_the_cli_as_two_users(
    tracker: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's console session: promote opens a request, the requester cannot approve, another user can."""
    _as(monkeypatch, "alice")
    _two()
    Path("pyproject.toml").write_text(
        '[tool.opskit.governance]\nprotected_aliases = ["production"]\napprovals_required = 1\n',
        encoding="utf-8",
    )
    opskit.reset_defaults()
    capsys.readouterr()
    assert main(["models", "promote", "m:2", "production", "--comment", "better"]) == 0
    assert "approval request #1 is open" in capsys.readouterr().out
    assert main(["approvals", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["status"], r["requester"]) for r in listed] == [(1, "open", "alice")]
    assert main(["approvals", "approve", "1"]) == 2
    assert "four eyes" in capsys.readouterr().err
    _as(monkeypatch, "bob")
    assert main(["approvals", "approve", "1", "--comment", "checked report"]) == 0
    assert "m@production -> v2" in capsys.readouterr().out
    assert main(["approvals", "approve", "1"]) == 2
    assert "already approved" in capsys.readouterr().err
    assert opskit.models.get("m").aliases == {"production": 2}
    assert main(["models", "rollback", "m", "production"]) == 0
    assert opskit.models.get("m").aliases == {"production": 1}
    assert main(["approvals", "list"]) == 0
    assert "no open approval requests" in capsys.readouterr().out
    assert main(["audit", "verify"]) == 0


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"protected_alias": ["production"]}, r"unknown governance key\(s\) \['protected_alias'\]"),
        ({"protected_aliases": "production"}, r"must be a list of alias names"),
        ({"protected_aliases": ["latest"]}, r"'latest' is not a valid alias"),
        ({"protected_aliases": ["production"], "approvals_required": 0}, r"1 or more"),
        ({"protected_aliases": ["production"], "approvals_required": True}, r"1 or more"),
        ({"protected_aliases": ["a"], "approvals_required": {"b": 2}}, r"names alias 'b'"),
        ({"require_validation": "yes"}, r"must be true or false"),
    ],
)
def test_a_bad_governance_table_is_refused(table: dict[str, Any], message: str) -> None:
    """configure(governance=...) with a typo or a bad value raises GovernanceConfigError; the config stays."""
    opskit.configure(governance={"protected_aliases": ["keep"]})
    with pytest.raises(GovernanceConfigError, match=message):
        opskit.configure(governance=table)
    assert opskit.get_config().governance.protected_aliases == ("keep",)


def test_a_typo_in_pyproject_governance_names_the_key() -> None:
    """A typo in [tool.opskit.governance] names the key and the known keys."""
    Path("pyproject.toml").write_text(
        "[tool.opskit.governance]\nprotected_aliasses = ['production']\n", encoding="utf-8"
    )
    opskit.reset_defaults()
    with pytest.raises(GovernanceConfigError, match=r"protected_aliasses.*known: \["):
        opskit.get_config()


_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("promote"), st.integers(1, 3), st.sampled_from(["alice", "bob"])),
        st.tuples(
            st.just("approve"), st.integers(1, 4), st.sampled_from(["alice", "bob", "carol"])
        ),
        st.tuples(st.just("reject"), st.integers(1, 4), st.sampled_from(["alice", "bob"])),
        st.tuples(st.just("rollback"), st.just(0), st.sampled_from(["alice", "carol"])),
    ),
    max_size=8,
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=_OPS)
def test_any_sequence_keeps_the_invariants(
    tracker: str, monkeypatch: pytest.MonkeyPatch, ops: list[tuple[str, int, str]]
) -> None:
    """Any promote/approve/reject/rollback sequence: history replays to the aliases, the chain verifies, no unapproved move."""
    name = f"h{abs(hash(tuple(ops))) % 10**9}"
    _as(monkeypatch, "alice")
    for w in range(3):
        opskit.models.register({"w": w}, name, alias="production" if w == 0 else None)
    opskit.configure(governance={"protected_aliases": ["production"], "approvals_required": 1})
    try:
        for op, arg, user in ops:
            _as(monkeypatch, user)
            try:
                if op == "promote":
                    opskit.models.promote(f"{name}:{arg}", "production")
                elif op == "rollback":
                    opskit.models.rollback(name, "production")
                else:
                    mine = [r.id for r in opskit.approvals.list("all", model=name)]
                    if not mine:
                        continue
                    target = mine[(arg - 1) % len(mine)]
                    getattr(opskit.approvals, op)(target)
            except opskit.OpskitError:
                pass
        # The alias history replays to the current aliases.
        replay: dict[str, int] = {}
        for change in opskit.models.history(name):
            if change.version is None:
                replay.pop(change.alias, None)
            else:
                replay[change.alias] = change.version
        assert replay == opskit.models.get(name).aliases
        assert opskit.audit.verify().ok
        # Every move of the protected alias is a rollback to the previous target or follows an approval.
        events = opskit.audit.log(model=name)
        granted: set[int] = set()
        current: int | None = None
        before_last: int | None = None
        for event in events:
            approved = event.after is not None and event.after.get("status") == "approved"
            if event.action == "approval_granted" and event.after is not None and approved:
                granted.add(int(event.after["version"]))
            if event.action in ("alias_set", "alias_moved") and event.after is not None:
                moved_to = int(event.after["version"])
                if current is not None:
                    assert moved_to in granted or moved_to == before_last, (moved_to, granted)
                    granted.discard(moved_to)
                before_last, current = current, moved_to
    finally:
        opskit.configure(governance=None)


def test_validations_registration_opens_a_request_for_a_validated_version(
    tracker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A challenger that passes its gates is registered; with require_validation it gets a request, approval moves it."""
    import numpy as np
    import pandas as pd
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression

    from opskit import gates

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.uniform(8, 15, 300), "b": rng.normal(size=300)})
    y = pd.Series((X["a"] > 11.5).astype(int), name="label")

    def make(good: bool, gate: list[Any]) -> Any:
        @opskit.train(
            model="wine",
            alias="production",
            evaluate=("X_test", "y_test"),
            metrics=["accuracy"],
            gates=gate,
        )
        def train(
            X_train: pd.DataFrame, y_train: pd.Series, X_test: pd.DataFrame, y_test: pd.Series
        ) -> Any:
            return (LogisticRegression() if good else DummyClassifier()).fit(X_train, y_train)

        return train

    _as(monkeypatch, "alice")
    make(False, [])(X, y, X, y)  # the weak champion, before protection
    _protect(require_validation=True)
    with pytest.warns(ApprovalPending, match=r"approval request #1 is open"):
        make(True, [gates.beats("wine@production", "accuracy", min_delta=0.1)])(X, y, X, y)
    run = opskit.last_run()
    assert run is not None and run.validation is not None and run.validation.passed
    assert opskit.models.get("wine").aliases == {"production": 1}
    (request,) = opskit.approvals.list()
    assert (request.version, request.requester) == (2, "alice")
    _as(monkeypatch, "bob")
    opskit.approvals.approve(request.id, comment="report checked")
    assert opskit.models.get("wine").aliases == {"production": 2}


def test_a_queued_registration_does_not_move_a_protected_alias_on_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow down: the registration waits in the outbox without the protected alias move; sync registers, the alias stays unset."""
    from servers import MLflowServer

    server = MLflowServer(f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path)  # not started yet
    monkeypatch.setenv("OPSKIT_TRACKER", "mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    opskit.reset_defaults()
    _protect()

    @opskit.train(model="queued", alias="production")
    def train() -> dict[str, int]:
        return {"w": 1}

    with pytest.warns(
        opskit.errors.RegistrationQueued, match=r"protected alias 'production' does not move"
    ):
        assert train() == {"w": 1}
    server.start()
    try:
        from opskit._backends import get_tracker

        assert get_tracker().sync() == 1  # type: ignore[attr-defined]
        model = opskit.models.get("queued")
        assert [v.version for v in model.versions] == [1]
        assert model.aliases == {}
    finally:
        server.stop()
