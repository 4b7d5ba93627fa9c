"""``TrackerContract``: what every ``opskit.tracker.Tracker`` backend must do, as pytest tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opskit.errors import ModelNotFound, RunNotFound
from opskit.names import ModelRef
from opskit.query import RunQuery
from opskit.records import Artifact, DataInput, Metric, Run
from opskit.storage.base import digest_bytes
from opskit.testing._context import Contract, declared
from opskit.tracker.base import RegistryTracker, RunTracker, StateStore, Tracker
from opskit.tracker.capabilities import SupportsSync

__all__ = ["TrackerContract", "json_values"]

# A fixture's fresh backend per test, and one test method run by each subclass, are intended.
_SUPPRESSED = [HealthCheck.function_scoped_fixture, HealthCheck.differing_executors]
_SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=_SUPPRESSED)

#: JSON values as a param or state document may hold them.
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8"), max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
_tag_values = st.text(st.characters(codec="utf-8"), max_size=40)


def _unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def _digest(text: str) -> str:
    return digest_bytes(text.encode())


class TrackerContract(Contract):
    """Contract tests for a ``Tracker`` backend: define the ``tracker`` fixture (a connected, empty tracker).

    Define ``reader`` too: a second tracker instance on the same backend, as another
    process would open it (or declare ``unsupported = {"reader": "why"}``). Every test
    uses its own experiment and model names, so a shared server is fine.
    """

    features: ClassVar[tuple[str, ...]] = ("reader", "mark_stale_runs")

    @pytest.fixture
    def tracker(self) -> Tracker:
        """The backend under test; subclasses override this fixture."""
        pytest.fail(declared(self, "tracker"))

    @pytest.fixture
    def reader(self) -> Tracker | None:
        """A second instance on the same backend; subclasses override this fixture."""
        return None

    # -- helpers -------------------------------------------------------------------------------------

    def make_run(
        self,
        tracker: Tracker,
        *,
        experiment: str | None = None,
        pid: int | None = None,
        **fields: Any,
    ) -> Run:
        """Create a RUNNING run in a fresh (or the given) experiment and return the record sent."""
        values: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "name": _unique("run-"),
            "status": "RUNNING",
            "experiment": experiment or _unique("exp-"),
            "started_at": time.time(),
            "user": "contract",
            "host": socket.gethostname(),
            **fields,
        }
        run = Run(**values)
        tracker.create_run(run, pid=pid)
        return run

    def register(
        self, tracker: Tracker, name: str, *, run_id: str | None = None, content: str | None = None
    ) -> int:
        """Register a version of *name* (its blob digest from *content*) and return its number."""
        text = content or uuid.uuid4().hex
        version = tracker.register_model_version(
            name,
            digest=_digest(text),
            size_bytes=len(text),
            flavor="cloudpickle",
            run_id=run_id,
            signature=None,
            metadata={"source": "opskit.testing"},
        )
        return version.version

    def _reader(self, reader: Tracker | None) -> Tracker:
        self.require("reader")
        if reader is None:
            pytest.fail(
                f"{type(self).__name__} must define the `reader` fixture or declare unsupported['reader']"
            )
        return reader

    # -- runs ----------------------------------------------------------------------------------------

    def test_implements_the_protocol(self, tracker: Tracker) -> None:
        """The backend is a ``Tracker`` with a string ``name``."""
        assert isinstance(tracker, Tracker)
        assert isinstance(tracker.name, str) and tracker.name

    def test_implements_each_concern(self, tracker: Tracker) -> None:
        """The backend is a ``RunTracker``, a ``RegistryTracker`` and a ``StateStore`` (what ``Tracker`` joins)."""
        assert isinstance(tracker, RunTracker)
        assert isinstance(tracker, RegistryTracker)
        assert isinstance(tracker, StateStore)

    def test_created_run_reads_back(self, tracker: Tracker) -> None:
        """``create_run`` stores a RUNNING run whose id, name, experiment, user, params and tags read back."""
        run = self.make_run(tracker, params={"alpha": 0.5, "kind": "tree"}, tags={"team": "ml"})
        got = tracker.get_run(run.id)
        assert (got.id, got.name, got.experiment, got.status, got.user) == (
            run.id,
            run.name,
            run.experiment,
            "RUNNING",
            "contract",
        )
        assert got.started_at == pytest.approx(run.started_at, abs=1e-3)
        assert got.params == {"alpha": 0.5, "kind": "tree"}
        assert got.tags["team"] == "ml"
        assert got.ended_at is None

    def test_created_run_is_visible_to_another_instance(
        self, tracker: Tracker, reader: Tracker | None
    ) -> None:
        """A run is visible to another tracker on the same backend as soon as ``create_run`` returns."""
        other = self._reader(reader)
        run = self.make_run(tracker)
        assert other.get_run(run.id).name == run.name

    def test_unknown_run_raises_run_not_found(self, tracker: Tracker) -> None:
        """``get_run`` of an id never created raises ``RunNotFound``."""
        with pytest.raises(RunNotFound):
            tracker.get_run(uuid.uuid4().hex)

    def test_buffered_writes_are_visible_to_reads(self, tracker: Tracker) -> None:
        """Params, metrics and tags logged without ``flush`` are seen by this tracker's next read."""
        run = self.make_run(tracker)
        tracker.log_params(run.id, {"lr": 0.1})
        tracker.set_tags(run.id, {"stage": "warm"})
        tracker.log_metrics(
            run.id, [Metric("loss", 1.0 / (i + 1), i, time.time()) for i in range(50)]
        )
        got = tracker.get_run(run.id)
        assert got.params["lr"] == 0.1 and got.tags["stage"] == "warm"
        assert len(tracker.metric_history(run.id, "loss")) == 50

    def test_flush_makes_writes_visible_to_another_instance(
        self, tracker: Tracker, reader: Tracker | None
    ) -> None:
        """After ``flush`` another tracker on the same backend sees the params, tags and every metric point."""
        other = self._reader(reader)
        run = self.make_run(tracker)
        tracker.log_params(run.id, {"lr": 0.1})
        tracker.set_tags(run.id, {"stage": "warm"})
        tracker.log_metrics(run.id, [Metric("loss", float(i), i, time.time()) for i in range(10)])
        tracker.flush()
        got = other.get_run(run.id)
        assert got.params["lr"] == 0.1 and got.tags["stage"] == "warm"
        assert [m.value for m in other.metric_history(run.id, "loss")] == [
            float(i) for i in range(10)
        ]

    @_SETTINGS
    @given(value=json_values)
    def test_params_round_trip(self, tracker: Tracker, value: Any) -> None:
        """A JSON param value reads back equal, and re-logging a key overwrites it."""
        run = self.make_run(tracker, params={"given": value})
        tracker.log_params(run.id, {"logged": value, "given": "replaced"})
        params = tracker.get_run(run.id).params
        assert params["given"] == "replaced"
        assert params["logged"] == value

    @_SETTINGS
    @given(value=_tag_values)
    def test_tags_round_trip(self, tracker: Tracker, value: str) -> None:
        """A string tag reads back unchanged; setting it again overwrites it."""
        run = self.make_run(tracker, tags={"given": value})
        tracker.set_tags(run.id, {"set": value})
        tracker.set_tags(run.id, {"given": "replaced"})
        tags = tracker.get_run(run.id).tags
        assert tags["set"] == value and tags["given"] == "replaced"

    @_SETTINGS
    @given(
        values=st.lists(
            st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1, max_size=20
        )
    )
    def test_metric_history_keeps_every_point_in_step_order(
        self, tracker: Tracker, values: list[float]
    ) -> None:
        """``metric_history`` returns every point ordered by step; the run's metric is the point with the highest step."""
        run = self.make_run(tracker)
        now = time.time()
        points = [Metric("m", v, step, now + step) for step, v in enumerate(values)]
        tracker.log_metrics(run.id, list(reversed(points)))
        tracker.flush()
        history = tracker.metric_history(run.id, "m")
        assert [(p.value, p.step) for p in history] == [(p.value, p.step) for p in points]
        assert tracker.get_run(run.id).metrics["m"] == values[-1]
        assert tracker.metric_history(run.id, "never-logged") == []

    def test_inputs_and_artifacts_round_trip(self, tracker: Tracker) -> None:
        """Data inputs and artifacts logged with a run read back in order."""
        run = self.make_run(tracker)
        inputs = [
            DataInput("X", "dataframe", _digest("X"), shape=(3, 2), size_bytes=48),
            DataInput("y", "array", _digest("y")),
        ]
        artifacts = [Artifact("report.txt", _digest("report"), 6)]
        tracker.log_inputs(run.id, inputs)
        tracker.log_artifacts(run.id, artifacts)
        got = tracker.get_run(run.id)
        assert [(d.name, d.kind, d.digest) for d in got.inputs] == [
            (d.name, d.kind, d.digest) for d in inputs
        ]
        assert got.inputs[0].shape == (3, 2)
        assert list(got.artifacts) == artifacts

    @pytest.mark.parametrize("status", ["FINISHED", "FAILED", "KILLED"])
    def test_end_run_flushes_and_sets_the_final_status(self, tracker: Tracker, status: Any) -> None:
        """``end_run`` writes buffered points and records status, end time and error."""
        run = self.make_run(tracker)
        tracker.log_metrics(run.id, [Metric("acc", 0.75, 0, time.time())])
        ended = time.time()
        error = "Traceback: boom" if status == "FAILED" else None
        tracker.end_run(run.id, status=status, ended_at=ended, error=error)
        got = tracker.get_run(run.id)
        assert got.status == status and got.ended_at == pytest.approx(ended, abs=1e-3)
        assert got.error == error
        assert got.metrics["acc"] == 0.75

    def test_mark_stale_runs_kills_runs_of_dead_processes(
        self, tracker: Tracker, reader: Tracker | None
    ) -> None:
        """Another instance marks KILLED a RUNNING run whose process on this host ended, and leaves a live one alone."""
        self.require("mark_stale_runs")
        done = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        )
        dead = self.make_run(tracker, pid=int(done.stdout))
        alive = self.make_run(tracker, pid=os.getpid())
        tracker.flush()
        # `opskit runs` marks stale runs from its own process, not the one that created them.
        marker = reader if reader is not None and "reader" not in self.unsupported else tracker
        marked = marker.mark_stale_runs()
        assert dead.id in marked, (
            f"run {dead.id} of the ended process {done.stdout.strip()} was not marked"
        )
        assert alive.id not in marked, "a run of a live process was marked"
        assert (
            marker.get_run(dead.id).status == "KILLED"
            and marker.get_run(dead.id).ended_at is not None
        )
        assert marker.get_run(alive.id).status == "RUNNING"

    # -- search --------------------------------------------------------------------------------------

    def _search_fixture(self, tracker: Tracker) -> str:
        experiment = _unique("search-")
        now = time.time()
        rows = [
            ("a", 0.05, "tree", 0.9, "ml"),
            ("b", 0.2, "linear", 0.4, "ml"),
            ("c", 0.5, "tree", 0.1, "ops"),
        ]
        for offset, (name, alpha, kind, r2, team) in enumerate(rows):
            run = self.make_run(
                tracker,
                experiment=experiment,
                name=name,
                started_at=now + offset,
                params={"alpha": alpha, "kind": kind},
                tags={"team": team},
            )
            tracker.log_metrics(run.id, [Metric("r2", r2, 0, now)])
            tracker.end_run(
                run.id, status="FAILED" if name == "c" else "FINISHED", ended_at=now + offset + 1
            )
        self.make_run(tracker, params={"alpha": 0.3, "kind": "tree"})  # another experiment
        return experiment

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("", ["c", "b", "a"]),
            ("params.alpha > 0.1", ["c", "b"]),
            ("params.kind = 'tree'", ["c", "a"]),
            ("metrics.r2 >= 0.4", ["b", "a"]),
            ("tags.team = 'ml' and attributes.status = 'FINISHED'", ["b", "a"]),
            ("attributes.run_name != 'b'", ["c", "a"]),
        ],
    )
    def test_search_filters_within_an_experiment(
        self, tracker: Tracker, text: str, expected: list[str]
    ) -> None:
        """``search_runs`` applies every clause, stays in the query's experiment and returns newest first."""
        experiment = self._search_fixture(tracker)
        found = tracker.search_runs(RunQuery.build(text, experiment=experiment))
        assert [r.name for r in found] == expected

    def test_search_orders_and_limits(self, tracker: Tracker) -> None:
        """``order_by`` sorts the results and ``limit`` caps their number."""
        experiment = self._search_fixture(tracker)
        ordered = tracker.search_runs(
            RunQuery.build(order_by=["metrics.r2 DESC"], experiment=experiment)
        )
        assert [r.name for r in ordered] == ["a", "b", "c"]
        limited = tracker.search_runs(
            RunQuery.build(order_by=["params.alpha"], limit=2, experiment=experiment)
        )
        assert [r.name for r in limited] == ["a", "b"]

    # -- model registry ------------------------------------------------------------------------------

    def test_versions_are_numbered_from_one(self, tracker: Tracker) -> None:
        """Versions of a model are numbered 1..n; ``get_model`` lists them and ``latest`` resolves to n."""
        name = _unique("m")
        assert [self.register(tracker, name) for _ in range(3)] == [1, 2, 3]
        model = tracker.get_model(name)
        assert model.name == name and [v.version for v in model.versions] == [1, 2, 3]
        assert tracker.get_model_version(ModelRef.parse(name)).version == 3
        second = tracker.get_model_version(ModelRef.parse(f"{name}:2"))
        assert second.version == 2 and second.name == name and second.flavor == "cloudpickle"

    def test_a_version_keeps_what_was_registered(self, tracker: Tracker) -> None:
        """A version reads back with its digest, size, flavor, run and metadata; the run shows its version."""
        name = _unique("m")
        run = self.make_run(tracker)
        self.register(tracker, name, run_id=run.id, content="weights")
        version = tracker.get_model_version(ModelRef.parse(f"{name}:1"))
        assert (version.digest, version.size_bytes, version.run_id) == (
            _digest("weights"),
            7,
            run.id,
        )
        assert version.metadata["source"] == "opskit.testing"
        got = tracker.get_run(run.id)
        assert got.model_version is not None and got.model_version.ref == f"{name}:1"

    def test_concurrent_registrations_get_distinct_numbers(self, tracker: Tracker) -> None:
        """Versions registered from several threads at once are numbered 1..n with no gap or repeat."""
        name = _unique("m")
        numbers: list[int] = []
        errors: list[BaseException] = []

        def work() -> None:
            try:
                numbers.append(self.register(tracker, name))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        assert sorted(numbers) == [1, 2, 3, 4]

    def test_list_models_is_sorted_by_name(self, tracker: Tracker) -> None:
        """``list_models`` returns every registered model sorted by name."""
        prefix = _unique("m")
        for suffix in ("c", "a", "b"):
            self.register(tracker, f"{prefix}{suffix}")
        names = [m.name for m in tracker.list_models() if m.name.startswith(prefix)]
        assert names == [f"{prefix}a", f"{prefix}b", f"{prefix}c"]

    def test_unknown_models_and_versions_raise_model_not_found(self, tracker: Tracker) -> None:
        """``get_model`` / ``get_model_version`` of a missing model, version or alias raise ``ModelNotFound``."""
        name = _unique("m")
        with pytest.raises(ModelNotFound):
            tracker.get_model(name)
        with pytest.raises(ModelNotFound):
            tracker.get_model_version(ModelRef.parse(name))
        self.register(tracker, name)
        for ref in (f"{name}:2", f"{name}@nowhere"):
            with pytest.raises(ModelNotFound):
                tracker.get_model_version(ModelRef.parse(ref))

    def test_aliases_move_and_keep_their_history(self, tracker: Tracker) -> None:
        """Setting, moving and deleting an alias resolves accordingly, and each change is kept oldest first."""
        name = _unique("m")
        for _ in range(2):
            self.register(tracker, name)
        first = tracker.set_alias(name, "prod", 1, user="alice")
        assert (first.model, first.alias, first.version, first.previous_version) == (
            name,
            "prod",
            1,
            None,
        )
        assert tracker.get_model_version(ModelRef.parse(f"{name}@prod")).version == 1
        moved = tracker.set_alias(name, "prod", 2, user="bob")
        assert (moved.version, moved.previous_version) == (2, 1)
        resolved = tracker.get_model_version(ModelRef.parse(f"{name}@prod"))
        assert resolved.version == 2 and "prod" in resolved.aliases
        assert tracker.get_model(name).aliases == {"prod": 2}
        tracker.set_alias(name, "staging", 1, user=None)
        removed = tracker.delete_alias(name, "prod", user="carol")
        assert (removed.version, removed.previous_version) == (None, 2)
        assert tracker.get_model(name).aliases == {"staging": 1}
        with pytest.raises(ModelNotFound):
            tracker.get_model_version(ModelRef.parse(f"{name}@prod"))
        history = tracker.alias_history(name, "prod")
        assert [(c.version, c.previous_version, c.user) for c in history] == [
            (1, None, "alice"),
            (2, 1, "bob"),
            (None, 2, "carol"),
        ]
        assert [c.changed_at for c in history] == sorted(c.changed_at for c in history)
        assert {c.alias for c in tracker.alias_history(name)} == {"prod", "staging"}

    def test_every_version_lists_the_aliases_that_point_at_it(self, tracker: Tracker) -> None:
        """Every way of reading a version (model, list, reference) names the aliases pointing at it."""
        name = _unique("m")
        for _ in range(3):
            self.register(tracker, name)
        tracker.set_alias(name, "prod", 2, user=None)
        tracker.set_alias(name, "staging", 2, user=None)
        tracker.set_alias(name, "canary", 3, user=None)
        expected = {1: [], 2: ["prod", "staging"], 3: ["canary"]}
        model = tracker.get_model(name)
        assert {v.version: sorted(v.aliases) for v in model.versions} == expected
        listed = next(m for m in tracker.list_models() if m.name == name)
        assert {v.version: sorted(v.aliases) for v in listed.versions} == expected
        for number, aliases in expected.items():
            assert (
                sorted(tracker.get_model_version(ModelRef.parse(f"{name}:{number}")).aliases)
                == aliases
            )

    def test_aliases_of_missing_models_or_versions_are_refused(self, tracker: Tracker) -> None:
        """``set_alias`` to a missing model or version raises ``ModelNotFound`` and records nothing."""
        name = _unique("m")
        with pytest.raises(ModelNotFound):
            tracker.set_alias(name, "prod", 1, user=None)
        self.register(tracker, name)
        with pytest.raises(ModelNotFound):
            tracker.set_alias(name, "prod", 5, user=None)
        assert tracker.get_model(name).aliases == {}
        assert tracker.alias_history(name) == []
        assert [e.kind for e in tracker.events(model=name)] == [
            "version_registered"
        ]  # refused: no event

    # -- registry events -----------------------------------------------------------------------------

    def test_every_registry_change_appends_exactly_one_event(
        self, tracker: Tracker, reader: Tracker | None
    ) -> None:
        """Each registration, alias set/move/removal appends one event with its before/after; a no-op appends none."""
        name = _unique("m")
        for _ in range(2):
            self.register(tracker, name)
        tracker.set_alias(name, "prod", 1, user="alice")
        tracker.set_alias(
            name, "prod", 1, user="alice"
        )  # already there: nothing changes, nothing recorded
        tracker.set_alias(name, "prod", 2, user="bob")
        tracker.delete_alias(name, "prod", user="carol")
        found = tracker.events(model=name)
        assert [
            (e.kind, e.subject, e.before, e.after and e.after.get("version"), e.user) for e in found
        ][2:] == [
            ("alias_set", f"{name}@prod", None, 1, "alice"),
            ("alias_moved", f"{name}@prod", {"version": 1}, 2, "bob"),
            ("alias_removed", f"{name}@prod", {"version": 2}, None, "carol"),
        ]
        versions = {v.version: v for v in tracker.get_model(name).versions}
        for event, number in zip(found[:2], (1, 2), strict=True):
            assert (event.kind, event.subject, event.model, event.before) == (
                "version_registered",
                f"{name}:{number}",
                name,
                None,
            )
            assert event.after is not None and event.after["digest"] == versions[number].digest
            assert event.after["version"] == number and event.time == versions[number].created_at
        ids = [e.id for e in found]
        assert ids == sorted(set(ids)) and ids[0] > 0
        assert tracker.events(model=name, since=ids[1]) == found[2:]
        assert tracker.events(model=name, kinds=["alias_moved", "alias_removed"]) == found[3:]
        assert tracker.events(model=name, limit=2) == found[:2]
        assert tracker.events(model=_unique("none")) == []
        if reader is not None and "reader" not in self.unsupported:
            assert reader.events(model=name) == found

    def test_state_documents_append_their_event_with_them(self, tracker: Tracker) -> None:
        """``put_state(..., event=)`` stores the document and appends the event (a deployment change); without, none."""
        from opskit.deployments.target import Deployment
        from opskit.registry.events import deployment_changed
        from opskit.serialize import to_plain

        name = _unique("dep")
        record = Deployment(
            name=name,
            target="local",
            url="http://127.0.0.1:1",
            refs=("m@prod",),
            weights={"m@prod": 1.0},
        )
        created = deployment_changed(None, record, user="alice")
        tracker.put_state("contract-deployment", name, to_plain(record), event=created)
        stopped = Deployment(name=name, target="local", url=None, refs=("m@prod",), state="stopped")
        tracker.put_state(
            "contract-deployment",
            name,
            to_plain(stopped),
            event=deployment_changed(to_plain(record), stopped, user="bob", stopped=True),
        )
        tracker.put_state("contract-deployment", name + "-quiet", {"v": 1})
        mine = [
            e
            for e in tracker.events(kinds=["deployment_created", "deployment_stopped"])
            if e.subject.startswith(name)
        ]
        assert [(e.kind, e.subject, e.user, e.model) for e in mine] == [
            ("deployment_created", name, "alice", None),
            ("deployment_stopped", name, "bob", None),
        ]
        assert (
            mine[0].after == to_plain(record)
            and mine[1].before == to_plain(record)
            and mine[1].after == to_plain(stopped)
        )
        assert tracker.get_state("contract-deployment", name) == to_plain(stopped)

    # -- state documents -----------------------------------------------------------------------------

    @_SETTINGS
    @given(document=st.dictionaries(st.text(max_size=10), json_values, max_size=5))
    def test_state_documents_round_trip(self, tracker: Tracker, document: dict[str, Any]) -> None:
        """A JSON document stored under (kind, key) reads back equal, alone and in ``list_state``."""
        kind = _unique("kind-")
        tracker.put_state(kind, "doc", document)
        assert tracker.get_state(kind, "doc") == document
        assert tracker.list_state(kind) == {"doc": document}

    def test_state_documents_replace_list_and_delete(self, tracker: Tracker) -> None:
        """``put_state`` replaces, ``list_state`` lists one kind, ``delete_state`` removes (missing is fine)."""
        kind, other = _unique("kind-"), _unique("kind-")
        big: Mapping[str, Any] = {"text": "x" * 9000, "nested": {"a": [1, 2.5, None, True]}}
        tracker.put_state(kind, "one", {"v": 1})
        tracker.put_state(kind, "one", big)
        tracker.put_state(kind, "two", {"v": 2})
        tracker.put_state(other, "one", {"v": 3})
        assert tracker.get_state(kind, "one") == big
        assert tracker.list_state(kind) == {"one": big, "two": {"v": 2}}
        tracker.delete_state(kind, "one")
        tracker.delete_state(kind, "one")
        tracker.delete_state(kind, "never")
        assert tracker.get_state(kind, "one") is None
        assert tracker.list_state(kind) == {"two": {"v": 2}}
        assert tracker.get_state(other, "one") == {"v": 3}
        assert tracker.list_state(_unique("kind-")) == {}

    def test_claim_state_stores_only_the_first_claim(
        self, tracker: Tracker, reader: Tracker | None
    ) -> None:
        """``claim_state`` stores a document only where none was claimed; later claims get False and change nothing."""
        kind = _unique("claim-")
        assert tracker.claim_state(kind, "one", {"owner": "first"}) is True
        assert tracker.claim_state(kind, "one", {"owner": "second"}) is False
        if reader is not None:  # another instance (as another process) sees the claim
            assert reader.claim_state(kind, "one", {"owner": "third"}) is False
        assert tracker.get_state(kind, "one") == {"owner": "first"}
        assert tracker.claim_state(kind, "two", {"owner": "first"}) is True
        assert tracker.list_state(kind) == {"one": {"owner": "first"}, "two": {"owner": "first"}}

    def test_concurrent_claims_have_one_winner(self, tracker: Tracker) -> None:
        """Claims of the same key from several threads at once: exactly one gets True."""
        kind = _unique("claim-")
        results: list[tuple[int, bool]] = []
        errors: list[BaseException] = []

        def work(i: int) -> None:
            try:
                results.append((i, tracker.claim_state(kind, "key", {"owner": i})))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        winners = [i for i, won in results if won]
        assert len(winners) == 1
        assert tracker.get_state(kind, "key") == {"owner": winners[0]}

    def test_referenced_digests_cover_models_and_artifacts(self, tracker: Tracker) -> None:
        """``referenced_digests`` includes every model version's and every artifact's digest."""
        run = self.make_run(tracker)
        tracker.log_artifacts(run.id, [Artifact("a.txt", _digest("artifact"), 8)])
        self.register(tracker, _unique("m"), run_id=run.id, content="model")
        assert {_digest("artifact"), _digest("model")} <= tracker.referenced_digests()

    # -- optional capabilities -------------------------------------------------------------------------

    def test_sync_when_declared_delivers_everything_once(self, tracker: Tracker) -> None:
        """``SupportsSync``: declared, ``sync()`` returns a count and a second sync has nothing left; else no ``sync`` at all."""
        if SupportsSync not in type(tracker).__mro__:
            assert not isinstance(tracker, SupportsSync), (
                f"{type(tracker).__name__} has a `sync` that `opskit sync` will call: declare SupportsSync as a base "
                "class so mypy and this suite check it, or rename it"
            )
            return
        assert isinstance(tracker, SupportsSync)
        run = self.make_run(tracker, params={"alpha": 1})
        tracker.end_run(run.id, status="FINISHED", ended_at=time.time())
        delivered = tracker.sync()
        assert isinstance(delivered, int) and delivered >= 0
        assert tracker.sync() == 0, (
            "a second sync delivered again: sync must not send anything twice"
        )
        assert tracker.get_run(run.id).status == "FINISHED"
