"""Registry lifecycle: promote, rollback, archive, delete; each one audited, each refusal changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import opskit
from opskit.cli.main import main
from opskit.runtime import get_storage

pytestmark = pytest.mark.trackers("local", "mlflow")


def _three() -> None:
    """m:1 (prod), m:2, m:3."""
    opskit.models.register({"w": 1}, "m", alias="prod")
    opskit.models.register({"w": 2}, "m")
    opskit.models.register({"w": 3}, "m")


def test_promote_and_rollback_move_the_alias_and_are_audited() -> None:
    """promote moves the alias (reason = the comment); rollback returns to the previous target; both in the audit log."""
    _three()
    change = opskit.models.promote("m:3", "prod", comment="beats v1 on r2")
    assert (change.previous_version, change.version) == (1, 3)
    assert opskit.models.get("m").aliases == {"prod": 3}
    back = opskit.models.rollback("m", "prod")
    assert (back.previous_version, back.version) == (3, 1)
    again = opskit.models.rollback("m", "prod")  # undoes the rollback
    assert (again.previous_version, again.version) == (1, 3)
    moves = opskit.audit.log(model="m", action="alias_moved")
    assert [(e.before, e.after, e.reason) for e in moves] == [
        ({"version": 1}, {"version": 3}, "beats v1 on r2"),
        ({"version": 3}, {"version": 1}, "rollback of m@prod from v3 to v1"),
        ({"version": 1}, {"version": 3}, "rollback of m@prod from v1 to v3"),
    ]
    promoted = opskit.models.promote(
        "m:2", "m@staging"
    )  # the alias as a reference of the same model
    assert promoted.alias == "staging"
    assert opskit.audit.log(action="alias_set")[-1].reason == "promote m:2 to staging"
    assert opskit.audit.verify().ok


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: opskit.models.rollback("m", "staging"),
            opskit.NoRollbackTarget,
            "m@staging: it was never set",
        ),
        (
            lambda: opskit.models.rollback("m", "prod"),
            opskit.NoRollbackTarget,
            "m@prod: it has only ever had one target",
        ),
        (
            lambda: opskit.models.promote("m:2", "other@prod"),
            opskit.InvalidModelRef,
            "belongs to model 'other'",
        ),
        (lambda: opskit.models.promote("m:9", "prod"), opskit.ModelNotFound, "no version 9"),
        (lambda: opskit.models.archive("m:1"), opskit.VersionInUse, "alias.*prod point at it"),
        (lambda: opskit.models.delete("m:1"), opskit.VersionInUse, "alias.*prod point at it"),
    ],
)
def test_bad_lifecycle_requests_raise_and_change_nothing(call: Any, error: Any, match: str) -> None:
    """Rollback without history, an alias of another model, an unknown version, archive/delete of a version in use: a clear error, nothing moves."""
    _three()
    before = (opskit.models.get("m"), opskit.audit.log())
    with pytest.raises(error, match=match):
        call()
    assert (opskit.models.get("m"), opskit.audit.log()) == before


def test_archive_retires_a_version_that_nothing_uses(fake_target: None) -> None:
    """archive is refused while a running deployment serves the version; after stop it sets status archived; archived is never promoted or deployed."""
    _three()
    assert opskit.models.get_version("m:2").status == "candidate"
    opskit.deploy("m:2", target="fake", name="web")
    with pytest.raises(opskit.VersionInUse, match="deployment.*web serve it"):
        opskit.models.archive("m:2")
    assert opskit.models.get_version("m:2").status == "candidate"
    opskit.deployments.stop("web")
    archived = opskit.models.archive("m:2", comment="superseded")
    assert archived.status == "archived" == opskit.models.get_version("m:2").status
    event = opskit.audit.log(action="version_status_changed")[-1]
    assert (event.subject, event.before, event.after, event.reason) == (
        "m:2",
        {"status": "candidate"},
        {"status": "archived"},
        "superseded",
    )
    with pytest.raises(opskit.VersionNotServable, match="m:2 .*archived"):
        opskit.models.promote("m:2", "prod")
    with pytest.raises(opskit.VersionNotServable, match="m:2 is archived"):
        opskit.deploy("m:2", target="fake", name="web2")
    assert opskit.models.get("m").aliases == {"prod": 1}
    assert opskit.audit.verify().ok


def test_delete_removes_the_version_and_only_an_unreferenced_blob() -> None:
    """delete removes the version (kept whole in the audit log) and its blob unless another version shares it."""
    _three()
    twin = opskit.models.register({"w": 3}, "m")  # same bytes as m:3: same blob
    third = opskit.models.get_version("m:3")
    assert twin.digest == third.digest
    storage = get_storage()
    removed = opskit.models.delete("m:3", comment="bad data")
    assert removed.version == 3
    with pytest.raises(opskit.ModelNotFound):
        opskit.models.get_version("m:3")
    assert storage.exists(third.digest)  # m:4 still needs it
    second = opskit.models.get_version("m:2")
    opskit.models.delete("m:2")
    assert not storage.exists(second.digest)
    event = opskit.audit.log(action="version_deleted")[0]
    assert (event.subject, event.after, event.reason) == ("m:3", None, "bad data")
    assert event.before is not None and event.before["digest"] == third.digest
    assert opskit.models.register({"w": 5}, "m").version == 5  # numbers are never reused
    assert [v.version for v in opskit.models.get("m").versions] == [1, 4, 5]
    assert opskit.audit.verify().ok


def test_the_cli_promotes_rolls_back_archives_and_deletes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`opskit models promote|rollback|archive|delete` do the change (exit 0) or print the refusal (exit 2)."""
    _three()
    assert main(["models", "promote", "m:2", "prod", "--comment", "ok by QA"]) == 0
    assert capsys.readouterr().out.strip() == "m@prod: v1 -> v2"
    assert main(["models", "rollback", "m", "prod"]) == 0
    assert capsys.readouterr().out.strip() == "m@prod: v2 -> v1"
    assert main(["models", "archive", "m:1"]) == 2
    assert "cannot archive m:1" in capsys.readouterr().err
    assert main(["models", "archive", "m:2"]) == 0
    assert capsys.readouterr().out.strip() == "m:2 archived"
    assert main(["models", "delete", "m:3"]) == 0
    assert capsys.readouterr().out.strip() == "m:3 deleted"
    assert main(["audit", "log", "--action", "alias_moved"]) == 0
    assert "ok by QA" in capsys.readouterr().out


_STEPS = st.lists(
    st.tuples(
        st.sampled_from(["register", "promote", "rollback", "archive"]),
        st.integers(1, 4),
        st.sampled_from(["prod", "dev"]),
    ),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=_STEPS)
def test_any_lifecycle_sequence_keeps_the_invariants(steps: list[tuple[str, int, str]]) -> None:
    """After any promote/rollback/archive/register mix: the chain verifies, the log replays to the aliases, no alias points at an archived version."""
    name = f"h{uuid.uuid4().hex[:10]}"
    opskit.models.register({"w": 0}, name)
    for op, number, alias in steps:
        try:
            if op == "register":
                opskit.models.register({"w": number}, name)
            elif op == "promote":
                opskit.models.promote(f"{name}:{number}", alias)
            elif op == "rollback":
                opskit.models.rollback(name, alias)
            else:
                opskit.models.archive(f"{name}:{number}")
        except (
            opskit.ModelNotFound,
            opskit.NoRollbackTarget,
            opskit.VersionInUse,
            opskit.VersionNotServable,
        ):
            pass  # refused: the invariants must hold all the same
    assert opskit.audit.verify().ok
    replayed: dict[str, int] = {}
    for event in opskit.audit.log(model=name):
        if event.action in ("alias_set", "alias_moved"):
            assert event.after is not None
            replayed[event.subject.split("@", 1)[1]] = int(event.after["version"])
        elif event.action == "alias_removed":
            del replayed[event.subject.split("@", 1)[1]]
    model = opskit.models.get(name)
    assert replayed == dict(model.aliases)
    status = {v.version: v.status for v in model.versions}
    assert all(status[v] != "archived" for v in model.aliases.values())
