"""The audit trail: every registry event hash-chained; `audit verify` finds any edit, removal, reordering or cut tail."""

from __future__ import annotations

import itertools
import json
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import opskit
from opskit.cli.main import main
from opskit.governance.audit import GENESIS, chain_hash, verify_chain
from opskit.records.audit import AuditEvent, AuditHead
from opskit.runtime import get_tracker

pytestmark = pytest.mark.trackers("local", "mlflow")


def _history(name: str = "m") -> None:
    """Six events: m:1 with prod, m:2, prod moved to 2, staging set, prod removed."""
    opskit.models.register({"w": 1}, name, alias="prod")
    opskit.models.register({"w": 2}, name)
    opskit.models.set_alias(name, "prod", 2)
    opskit.models.set_alias(name, "staging", 1)
    opskit.models.delete_alias(name, "prod")


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- the chain on both trackers ------------------------------------------------------------------


def test_every_registry_change_is_one_chained_audit_event(echo: None) -> None:
    """Versions, alias moves and deployments each append one audit event linked to the one before; verify is OK."""
    _history()
    opskit.deploy("m:1", target="echo", name="web")
    opskit.deployments.stop("web")
    events = opskit.audit.log()
    registry = opskit.models.events()
    assert [(e.action, e.subject, e.before, e.after, e.user, e.time) for e in events] == [
        (e.kind, e.subject, e.before, e.after, e.user, e.time) for e in registry
    ]
    assert [e.seq for e in events] == list(range(1, 9))
    assert events[0].prev_hash == GENESIS
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash
        assert after.hash == chain_hash(before.hash, after, after.seq)
    result = opskit.audit.verify()
    assert result.ok and result.checked == 8 and result.kind is None
    assert result.head == opskit.audit.head() == AuditHead(8, events[-1].hash)


@pytest.fixture
def become(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Switch the user opskit records (OPSKIT_USER), restored after the test."""

    def switch(name: str) -> None:
        monkeypatch.setenv("OPSKIT_USER", name)

    return switch


def test_opskit_user_names_the_actor_and_the_os_user_is_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Events record $OPSKIT_USER when set, the OS user of the process otherwise."""
    import getpass

    monkeypatch.delenv("OPSKIT_USER", raising=False)
    opskit.models.register({"w": 1}, "who", alias="prod")
    monkeypatch.setenv("OPSKIT_USER", "carol")
    opskit.models.set_alias("who", "staging", 1)
    users = [e.user for e in opskit.audit.log(model="who")]
    assert users[0] == getpass.getuser() and users[-1] == "carol"


def test_audit_log_filters_by_model_action_user_and_time(become: Callable[[str], None]) -> None:
    """log(model=, action=, user=, since=, until=) keeps only the matching events, oldest first."""
    become("alice")
    opskit.models.register({"w": 1}, "a", alias="prod")
    become("bob")
    opskit.models.register({"w": 1}, "b")
    opskit.models.set_alias("a", "prod", 1)  # already there: no event
    opskit.models.set_alias("b", "prod", 1)
    everything = opskit.audit.log()
    assert [e.subject for e in opskit.audit.log(model="a")] == ["a:1", "a@prod"]
    assert [e.subject for e in opskit.audit.log(action="alias_set")] == ["a@prod", "b@prod"]
    assert [e.subject for e in opskit.audit.log(action=["version_registered"], user="bob")] == [
        "b:1"
    ]
    assert [e.user for e in everything] == ["alice", "alice", "bob", "bob"]
    middle = everything[2].time
    assert opskit.audit.log(since=middle) == everything[2:]
    assert opskit.audit.log(until=middle) == everything[:2]
    assert opskit.audit.log(since="2000-01-01", until="2000-01-02") == []
    assert opskit.audit.log(since="2000-01-01T00:00:00+00:00") == everything


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"action": "alias_teleported"}, "unknown audit action.*alias_teleported.*alias_moved"),
        ({"since": "last tuesday"}, "since='last tuesday' is not a date"),
        ({"until": True}, "until=True is not a time"),
    ],
)
def test_bad_audit_log_arguments_raise_invalid_value(kwargs: dict[str, Any], match: str) -> None:
    """An unknown action or an unreadable time raises InvalidValue naming it and saying what to give."""
    with pytest.raises(opskit.InvalidValue, match=match):
        opskit.audit.log(**kwargs)


def test_an_empty_log_verifies_and_has_no_head() -> None:
    """A store with no registry event verifies (0 checked) and has no head."""
    assert opskit.audit.log() == []
    result = opskit.audit.verify()
    assert result.ok and result.checked == 0
    assert opskit.audit.head() is None


def test_the_cli_lists_verifies_and_prints_the_head(capsys: pytest.CaptureFixture[str]) -> None:
    """`opskit audit log` filters and prints rows (--json the records); verify exits 0; head prints SEQ:HASH."""
    _history()
    code, out, _ = _cli(capsys, "audit", "log", "--model", "m", "--action", "alias_moved")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["SEQ", "TIME", "(UTC)", "ACTION"]
    assert len(lines) == 3 and "alias_moved" in lines[2] and "m@prod" in lines[2]
    code, out, _ = _cli(capsys, "audit", "log", "--since", "2000-01-01", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5, 6] and rows[0]["prev_hash"] == GENESIS
    code, out, _ = _cli(capsys, "audit", "log", "--since", "yesterday-ish")
    assert code == 2
    code, out, _ = _cli(capsys, "audit", "verify")
    assert code == 0 and "OK: 6 events checked" in out
    code, out, _ = _cli(capsys, "audit", "head")
    assert code == 0 and out.strip() == opskit.audit.head().summary()  # type: ignore[union-attr]
    code, out, _ = _cli(capsys, "audit", "verify", "--pin", out.strip())
    assert code == 0


def test_a_pinned_head_must_stay_in_the_chain() -> None:
    """verify(pin=) fails when the pinned seq holds another hash, and refuses a malformed pin."""
    _history()
    pinned = opskit.audit.head()
    assert pinned is not None
    assert opskit.audit.verify(pin=pinned).ok
    forged = AuditHead(pinned.seq, "f" * 64)
    result = opskit.audit.verify(pin=forged)
    assert not result.ok and result.kind == "edited" and result.seq == pinned.seq
    result = opskit.audit.verify(pin=AuditHead(99, "f" * 64))
    assert not result.ok and result.kind == "tail-truncated"
    with pytest.raises(opskit.InvalidValue, match="SEQ:HASH"):
        opskit.audit.verify(pin="6:abc")


_WRITER = """
import sys
import opskit
worker, count = int(sys.argv[1]), int(sys.argv[2])
for i in range(count):
    version = opskit.models.register({{"w": i}}, "shared")
    opskit.models.set_alias("shared", f"w{{worker}}", version.version)
"""


def test_concurrent_writers_never_fork_the_chain(tmp_path: Path) -> None:
    """4 processes registering and moving aliases at once leave one chain, seq 1..n without gap, that verifies."""
    per_worker = 5
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(_WRITER.format()), encoding="utf-8")
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), str(k), str(per_worker)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(4)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err
    events = opskit.audit.log()
    assert [e.seq for e in events] == list(range(1, 4 * per_worker * 2 + 1))
    assert sorted(e.subject for e in events if e.action == "version_registered") == sorted(
        f"shared:{n}" for n in range(1, 4 * per_worker + 1)
    )
    result = opskit.audit.verify()
    assert result.ok and result.checked == 4 * per_worker * 2, result.summary()


_OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("register"), st.sampled_from(["a", "b"]), st.none()),
        st.tuples(
            st.just("set_alias"), st.sampled_from(["a", "b"]), st.sampled_from(["prod", "dev"])
        ),
        st.tuples(
            st.just("delete_alias"), st.sampled_from(["a", "b"]), st.sampled_from(["prod", "dev"])
        ),
    ),
    max_size=8,
)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=_OPERATIONS, choice=st.randoms(use_true_random=False))
def test_any_sequence_of_registry_operations_keeps_the_chain_and_replays_the_aliases(
    operations: list[tuple[str, str, str | None]], choice: Any
) -> None:
    """After any mix of register/set_alias/delete_alias the chain verifies and the audit log replays to the aliases."""
    prefix = f"h{uuid.uuid4().hex[:8]}"
    for op, short, alias in operations:
        name = f"{prefix}{short}"
        try:
            model = opskit.models.get(name)
        except opskit.ModelNotFound:
            model = None
        if op == "register" or model is None:
            opskit.models.register({"w": 1}, name)
        elif op == "set_alias" and alias is not None:
            opskit.models.set_alias(name, alias, choice.choice(model.versions).version)
        elif op == "delete_alias" and alias is not None and alias in model.aliases:
            opskit.models.delete_alias(name, alias)
    result = opskit.audit.verify()
    assert result.ok, result.summary()
    for short in ("a", "b"):
        name = f"{prefix}{short}"
        replayed: dict[str, int] = {}
        for event in opskit.audit.log(model=name):
            if event.action in ("alias_set", "alias_moved"):
                assert event.after is not None
                replayed[event.subject.split("@", 1)[1]] = int(event.after["version"])
            elif event.action == "alias_removed":
                del replayed[event.subject.split("@", 1)[1]]
        try:
            current = dict(opskit.models.get(name).aliases)
        except opskit.ModelNotFound:
            current = {}
        assert replayed == current


# -- the pure check ---------------------------------------------------------------------------------


def _chain(count: int) -> list[AuditEvent]:
    from opskit.governance.audit import seal
    from opskit.registry.events import RegistryEvent

    events: list[AuditEvent] = []
    prev = GENESIS
    for seq in range(1, count + 1):
        event = RegistryEvent(
            kind="alias_set",
            subject=f"m@a{seq}",
            model="m",
            before=None,
            after={"version": seq},
            user="u",
            time=float(seq),
        )
        events.append(seal(event, seq=seq, prev_hash=prev))
        prev = events[-1].hash
    return events


@given(
    count=st.integers(2, 12),
    data=st.data(),
)
@settings(max_examples=60, deadline=None)
def test_verify_chain_names_the_first_broken_link_of_each_kind(count: int, data: Any) -> None:
    """Editing, removing, swapping or cutting events anywhere is reported at the first broken seq with its kind."""
    import attrs

    events = _chain(count)
    head = AuditHead(count, events[-1].hash)
    assert verify_chain(events, head).ok
    i = data.draw(st.integers(0, count - 1))
    edited = [*events]
    edited[i] = attrs.evolve(events[i], user="mallory")
    found = verify_chain(edited, head)
    assert (found.ok, found.kind, found.seq) == (False, "edited", i + 1)
    if i < count - 1:
        removed = events[:i] + events[i + 1 :]
        found = verify_chain(removed, head)
        assert (found.ok, found.kind, found.seq) == (False, "removed", i + 1)
        j = data.draw(st.integers(i + 1, count - 1))
        swapped = [*events]
        swapped[i] = attrs.evolve(events[j], seq=i + 1)
        swapped[j] = attrs.evolve(events[i], seq=j + 1)
        found = verify_chain(swapped, head)
        assert (found.ok, found.kind, found.seq) == (False, "reordered", i + 1)
    cut = data.draw(st.integers(1, count))
    found = verify_chain(events[: count - cut], head)
    assert (found.ok, found.kind, found.seq) == (False, "tail-truncated", count - cut + 1)


# -- tampering with the local store ---------------------------------------------------------------


def _db(store: Path) -> sqlite3.Connection:
    return sqlite3.connect(store / "opskit.db", isolation_level=None)


def _verify_cli(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    opskit.reset_defaults()
    code, out, err = _cli(capsys, "audit", "verify")
    return code, out + err


@pytest.mark.trackers("local")
@pytest.mark.parametrize(
    ("tamper", "seq", "kind", "words"),
    [
        ("UPDATE registry_events SET user = 'mallory' WHERE id = 3", 3, "edited", "changed"),
        (
            "UPDATE registry_events SET after = '{\"version\": 1}' WHERE id = 3",
            3,
            "edited",
            "changed",
        ),
        ("DELETE FROM registry_events WHERE id = 2", 2, "removed", "removed"),
        (
            "UPDATE registry_events SET id = -1 WHERE id = 2; UPDATE registry_events SET id = 2 WHERE id = 4; "
            "UPDATE registry_events SET id = 4 WHERE id = -1",
            2,
            "reordered",
            "written at seq 4",
        ),
        ("DELETE FROM registry_events WHERE id >= 5", 5, "tail-truncated", "removed"),
        ("DELETE FROM registry_events WHERE id = 6", 6, "tail-truncated", "removed"),
    ],
)
def test_verify_finds_tampering_in_the_sqlite_file(
    store: Path,
    capsys: pytest.CaptureFixture[str],
    tracker: str,
    tamper: str,
    seq: int,
    kind: str,
    words: str,
) -> None:
    """An event row edited, deleted, reordered or cut off in the SQLite file: verify reports the first broken link, CLI exits 1."""
    _history()
    assert opskit.audit.verify().ok
    opskit.reset_defaults()
    with _db(store) as conn:
        for statement in tamper.split(";"):
            conn.execute(statement)
    code, text = _verify_cli(capsys)
    assert code == 1
    assert f"BROKEN at seq {seq} ({kind})" in text and words in text
    result = opskit.audit.verify()
    assert (result.ok, result.seq, result.kind) == (False, seq, kind)


@pytest.mark.trackers("local")
def test_tampering_stays_visible_after_new_events(store: Path, tracker: str) -> None:
    """After the tail is cut (or the last event edited), new registrations do not hide it."""
    _history()
    opskit.reset_defaults()
    with _db(store) as conn:
        conn.execute("DELETE FROM registry_events WHERE id >= 5")
    opskit.models.register({"w": 3}, "m")
    result = opskit.audit.verify()
    assert (result.ok, result.kind, result.seq) == (False, "removed", 5)
    assert [e.seq for e in opskit.audit.log()] == [1, 2, 3, 4, 7]


@pytest.mark.trackers("local")
def test_rewriting_the_whole_log_is_caught_by_the_head_or_a_pin(
    store: Path, tracker: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Re-hashing every row after an edit is caught by the head file's checkpoints; rewriting the whole file too only by a pin."""
    _history()
    pinned = opskit.audit.head()
    assert pinned is not None
    opskit.reset_defaults()
    events = opskit.audit.log()
    import attrs

    from opskit.governance.audit import registry_event_of, seal

    prev = GENESIS
    with _db(store) as conn:
        for event in events:
            forged = seal(
                registry_event_of(attrs.evolve(event, user="mallory")),
                seq=event.seq,
                prev_hash=prev,
            )
            conn.execute(
                "UPDATE registry_events SET user = ?, prev_hash = ?, hash = ? WHERE id = ?",
                (forged.user, forged.prev_hash, forged.hash, event.seq),
            )
            prev = forged.hash
    result = opskit.audit.verify()
    # every write transaction left a checkpoint in the head file: the first one already disagrees
    assert (result.ok, result.kind, result.seq) == (False, "edited", 1)
    assert result.expected == events[0].hash
    head_file = store / "opskit.db.audit-head"
    with head_file.open(
        "a", encoding="ascii"
    ) as handle:  # a forged head appended: the checkpoints disagree
        handle.write(f"{6:012d} {prev}\n")
    result = opskit.audit.verify()
    assert (result.ok, result.kind) == (False, "edited") and result.seq is not None
    assert result.seq < 6
    head_file.write_text(f"{6:012d} {prev}\n", encoding="ascii")
    assert opskit.audit.verify().ok  # log and whole head file rewritten: only a pin catches it
    code, _, err = _cli(capsys, "audit", "verify", "--pin", pinned.summary())
    assert code == 1 and "(edited)" in err
    head_file.unlink()
    result = opskit.audit.verify()
    assert (result.ok, result.kind) == (False, "head-mismatch")
    head_file.write_text("not json", encoding="utf-8")
    result = opskit.audit.verify()
    assert (result.ok, result.kind) == (False, "head-mismatch")


@pytest.mark.trackers("local")
def test_a_schema_3_store_is_chained_on_upgrade(tmp_path: Path, tracker: str) -> None:
    """Opening a schema-3 store hashes its existing events in order, writes the head, and appends after them."""
    from opskit.tracker.sqlite import SQLiteTracker
    from opskit.tracker.sqlite.schema import MIGRATIONS

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        for script in MIGRATIONS[:3]:
            conn.executescript(script)
        conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '3')")
        conn.executemany(
            "INSERT INTO registry_events (kind, subject, model, before, after, user, time, run_id) "
            "VALUES (?, ?, 'm', ?, ?, ?, ?, NULL)",
            [
                ("alias_set", "m@prod", None, '{"version": 1}', "alice", 100.0),
                ("alias_moved", "m@prod", '{"version": 1}', '{"version": 2}', "bob", 200.0),
            ],
        )
    store = SQLiteTracker(path)
    trail = store.audit_trail()
    assert [e.seq for e in trail.events] == [1, 2] and trail.events[0].prev_hash == GENESIS
    assert trail.head == AuditHead(2, trail.events[1].hash)
    assert verify_chain(trail.events, trail.head).ok
    assert Path(f"{path}.audit-head").read_text() == f"{2:012d} {trail.events[1].hash}\n"
    store.close()


# -- tampering through the MLflow API -------------------------------------------------------------


def _event_run(seq: int) -> Any:
    tracker = get_tracker()
    runs = [r for r in tracker._event_runs() if int(r.data.tags["opskit.chain.seq"]) == seq]  # type: ignore[attr-defined]
    assert len(runs) == 1
    return runs[0]


@pytest.mark.trackers("mlflow")
def test_verify_finds_an_event_run_deleted_in_mlflow(
    tracker: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Deleting an event run through the MLflow client: verify reports it removed, CLI exits 1."""
    _history()
    client = get_tracker().client  # type: ignore[attr-defined]
    client.delete_run(_event_run(3).info.run_id)
    code, text = _verify_cli(capsys)
    assert code == 1 and "BROKEN at seq 3 (removed)" in text


@pytest.mark.trackers("mlflow")
def test_verify_finds_the_last_event_run_deleted_in_mlflow(tracker: str) -> None:
    """Deleting the newest event run (the tail): the ledger param still anchors it, verify says tail-truncated."""
    _history()
    client = get_tracker().client  # type: ignore[attr-defined]
    client.delete_run(_event_run(6).info.run_id)
    opskit.reset_defaults()
    result = opskit.audit.verify()
    assert (result.ok, result.kind, result.seq) == (False, "tail-truncated", 6)


@pytest.mark.trackers("mlflow")
@pytest.mark.parametrize("rehash", [False, True])
def test_verify_finds_an_event_tag_edited_in_mlflow(tracker: str, rehash: bool) -> None:
    """Setting an event run's tags (its JSON, and even its hash tags) is caught: the ledger param cannot change."""
    from opskit.governance.audit import registry_event_of, seal
    from opskit_mlflow.encode import json_tags, read_json

    _history()
    client = get_tracker().client  # type: ignore[attr-defined]
    run = _event_run(4)
    document = read_json(run.data.tags, "opskit.json.event")
    document["user"] = "mallory"
    for key, value in json_tags("opskit.json.event", document).items():
        client.set_tag(run.info.run_id, key, value)
    if rehash:
        import attrs

        event = opskit.audit.log()[3]
        forged = seal(
            registry_event_of(attrs.evolve(event, user="mallory")),
            seq=4,
            prev_hash=event.prev_hash,
        )
        client.set_tag(run.info.run_id, "opskit.chain.hash", forged.hash)
    opskit.reset_defaults()
    result = opskit.audit.verify()
    assert (result.ok, result.kind, result.seq) == (False, "edited", 4)


@pytest.mark.trackers("mlflow")
def test_mlflow_refuses_to_change_a_ledger_param(tracker: str) -> None:
    """The anchors are params: MLflow refuses another value, so the chain's hashes cannot be rewritten through it."""
    from mlflow.exceptions import MlflowException

    from opskit_mlflow.events import ledger_key

    _history()
    backend = get_tracker()
    ledger = backend._find_ledger(create=False)  # type: ignore[attr-defined]
    with pytest.raises(MlflowException, match="Changing param values is not allowed"):
        backend.client.log_param(ledger, ledger_key(2), "0" * 64)  # type: ignore[attr-defined]
    assert opskit.audit.verify().ok


@pytest.mark.trackers("mlflow")
def test_deleting_the_mlflow_ledger_is_reported(tracker: str) -> None:
    """Deleting the ledger run: verify says the head is missing (head-mismatch), not OK."""
    _history()
    backend = get_tracker()
    ledger = backend._find_ledger(create=False)  # type: ignore[attr-defined]
    backend.client.delete_run(ledger)  # type: ignore[attr-defined]
    opskit.reset_defaults()
    result = opskit.audit.verify()
    assert (result.ok, result.kind) == (False, "head-mismatch")
