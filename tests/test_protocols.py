"""The backend contracts: the Tracker split by concern, optional capabilities found by isinstance, never by name probing."""

from __future__ import annotations

import ast
import json
import os
import time
from pathlib import Path
from typing import Any, ClassVar, Protocol

import pytest

import opskit
from opskit._backends import get_storage
from opskit.cli.main import main as cli
from opskit.deployments.options import Option
from opskit.deployments.target import Deployment, DeploymentSpec, SupportsOptions, Target
from opskit.doctor import run_doctor
from opskit.hookspecs import hookimpl
from opskit.storage.base import Storage
from opskit.storage.capabilities import SupportsBlobAge, SupportsUploadCleanup
from opskit.storage.local import LocalStorage
from opskit.testing import fresh_store, plugin_manager, register_test_model
from opskit.tracker.base import RegistryTracker, RunTracker, StateStore, Tracker
from opskit.tracker.capabilities import SupportsSync
from opskit.tracker.sqlite import SQLiteTracker

ROOT = Path(__file__).resolve().parents[1]

#: The 25 methods (and ``name``) of the one ``Tracker`` protocol before the split: annotations rely on them.
TRACKER_MEMBERS = {
    "name",
    "create_run",
    "log_params",
    "log_metrics",
    "set_tags",
    "log_inputs",
    "log_artifacts",
    "end_run",
    "flush",
    "get_run",
    "search_runs",
    "metric_history",
    "mark_stale_runs",
    "register_model_version",
    "list_models",
    "get_model",
    "get_model_version",
    "set_alias",
    "delete_alias",
    "alias_history",
    "events",
    "put_state",
    "get_state",
    "list_state",
    "delete_state",
    "claim_state",
    "referenced_digests",
    "close",
}


def members(protocol: type) -> set[str]:
    """Every method and attribute a protocol declares, its bases' included."""
    found: set[str] = set()
    for cls in protocol.__mro__:
        if cls in (object, Protocol) or not getattr(cls, "_is_protocol", False):
            continue
        found |= {n for n in vars(cls) if not n.startswith("_")} | set(
            getattr(cls, "__annotations__", {})
        )
    return found


def test_tracker_is_the_union_of_the_concerns_and_keeps_every_member() -> None:
    """``Tracker`` has exactly its former members, and each concern protocol is a disjoint part of it."""
    assert members(Tracker) == TRACKER_MEMBERS
    runs, registry, state = members(RunTracker), members(RegistryTracker), members(StateStore)
    assert runs | registry | state <= TRACKER_MEMBERS
    assert (runs & registry, runs & state, registry & state) == ({"name"}, set(), set())
    assert TRACKER_MEMBERS - (runs | registry | state) == {"referenced_digests", "close"}
    assert {"put_state", "get_state", "list_state", "delete_state", "claim_state"} == state


def test_old_and_new_import_paths_resolve_to_the_same_protocols() -> None:
    """The paths plugins import today and the package exports name the same objects."""
    import opskit.storage
    import opskit.tracker

    assert opskit.tracker.Tracker is Tracker
    assert (
        opskit.tracker.RunTracker,
        opskit.tracker.RegistryTracker,
        opskit.tracker.StateStore,
    ) == (RunTracker, RegistryTracker, StateStore)
    assert opskit.tracker.SupportsSync is SupportsSync
    assert (
        opskit.storage.Storage is Storage
        and opskit.storage.SupportsUploadCleanup is SupportsUploadCleanup
    )
    assert opskit.storage.SupportsBlobAge is SupportsBlobAge


def test_built_in_and_plugin_backends_declare_their_contracts() -> None:
    """Every shipped backend names the protocols it implements as base classes, so mypy checks them."""
    from opskit_example.storage import IndexedFolderStorage
    from opskit_example.target import PrintTarget

    from opskit.deployments.docker import DockerTarget
    from opskit.deployments.local import LocalTarget
    from opskit.storage.fsspec import FsspecStorage
    from opskit_mlflow.tracker import MLflowTracker

    declared = {
        SQLiteTracker: {Tracker},
        MLflowTracker: {Tracker, SupportsSync},
        LocalStorage: {Storage, SupportsBlobAge},
        FsspecStorage: {Storage, SupportsUploadCleanup},
        IndexedFolderStorage: {Storage, SupportsBlobAge},
        LocalTarget: {Target, SupportsOptions},
        DockerTarget: {Target, SupportsOptions},
        PrintTarget: {Target},
    }
    capabilities = {SupportsSync, SupportsUploadCleanup, SupportsBlobAge, SupportsOptions}
    for cls, protocols in declared.items():
        assert protocols <= set(cls.__mro__), cls
        assert capabilities & set(cls.__mro__) == protocols & capabilities, (
            f"{cls.__name__} declares a capability it should not"
        )


def _probes(path: Path, root: Path = ROOT) -> list[str]:
    """``getattr(x, ...)`` / ``hasattr(x, ...)`` calls whose object is a tracker, storage or target."""
    backends = {
        "tracker",
        "storage",
        "chosen",
        "backend",
        "store",
    }  # "target" also names a traced function
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"getattr", "hasattr"}
            and node.args
            and isinstance(node.args[0], ast.Name | ast.Attribute)
        ):
            subject = node.args[0].id if isinstance(node.args[0], ast.Name) else node.args[0].attr
            if subject.lstrip("_") in backends:
                found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_no_backend_capability_is_probed_by_attribute_name() -> None:
    """Guard: src/ and plugins/ check capabilities with isinstance on a protocol, never getattr/hasattr on a backend."""
    files = [*ROOT.joinpath("src").rglob("*.py"), *ROOT.joinpath("plugins").rglob("*.py")]
    probes = [probe for path in files for probe in _probes(path)]
    assert probes == [], f"declare a capability protocol instead of probing: {probes}"


def test_the_probe_guard_finds_a_probe(tmp_path: Path) -> None:
    """The guard above is not vacuous: it reports a getattr on a tracker."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def f(self, tracker):\n    return getattr(tracker, 'sync', None), hasattr(self._storage, 'x')\n"
    )
    assert _probes(sample, tmp_path) == ["sample.py:2", "sample.py:2"]


class QueueingTracker(SQLiteTracker, SupportsSync):
    """The local tracker plus an outbox of run ids that ``sync`` delivers (marks with a tag)."""

    name = "queueing"
    queued: ClassVar[list[str]] = []

    def sync(self) -> int:
        delivered = list(type(self).queued)
        for run_id in delivered:
            self.set_tags(run_id, {"delivered": "yes"})
        self.flush()
        type(self).queued.clear()
        return len(delivered)


class QueueingPlugin:
    @hookimpl
    def register_trackers(self, register: Any) -> None:
        register("queueing", lambda config: QueueingTracker(config.home / "opskit.db"))


def test_opskit_sync_delivers_through_a_declared_capability(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`opskit sync` calls ``sync`` of a tracker that declares ``SupportsSync`` and says the local tracker has none."""
    with fresh_store(tmp_path / ".opskit"), plugin_manager(QueueingPlugin()):
        opskit.configure(tracker="queueing")
        with opskit.start_run(experiment="sync") as run:
            opskit.log_metric("m", 1.0)
        QueueingTracker.queued[:] = [run.id]
        assert cli(["sync", "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == {
            "tracker": "queueing",
            "delivered": 1,
            "outbox": True,
        }
        assert opskit.get_run(run.id).tags["delivered"] == "yes"
        assert cli(["sync", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["delivered"] == 0
        opskit.configure(tracker="local")
        assert cli(["sync", "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == {
            "tracker": "local",
            "delivered": 0,
            "outbox": False,
        }


class UploadingStorage(LocalStorage, SupportsUploadCleanup):
    """A local folder that also keeps a list of unfinished uploads, as an object store would."""

    name = "uploading"
    uploads: ClassVar[dict[tuple[str, str], float]] = {}

    def incomplete_uploads(self, started_before: float | None = None) -> list[tuple[str, str]]:
        return sorted(
            k
            for k, started in self.uploads.items()
            if started_before is None or started < started_before
        )

    def abort_upload(self, key: str, upload_id: str) -> None:
        del self.uploads[(key, upload_id)]


class UploadingPlugin:
    @hookimpl
    def register_storages(self, register: Any) -> None:
        register("uploading", lambda config, location: UploadingStorage(config.home / "up-blobs"))


def test_doctor_aborts_old_uploads_of_a_storage_declaring_upload_cleanup(tmp_path: Path) -> None:
    """`opskit doctor` reports a declared storage's old unfinished uploads; --repair aborts them and keeps recent ones."""
    now = time.time()
    UploadingStorage.uploads = {("blobs/old", "u1"): now - 7200, ("blobs/new", "u2"): now}
    with fresh_store(tmp_path / ".opskit"), plugin_manager(UploadingPlugin()):
        opskit.configure(storage="uploading")
        finding = next(f for f in run_doctor().findings if f.check == "unfinished uploads")
        assert "1 multipart upload(s)" in finding.detail and not finding.repaired
        repaired = next(
            f for f in run_doctor(repair=True).findings if f.check == "unfinished uploads"
        )
        assert repaired.repaired and "aborted" in repaired.detail
        assert UploadingStorage.uploads == {("blobs/new", "u2"): now}
        opskit.configure(storage="local")
        assert all(f.check != "unfinished uploads" for f in run_doctor().findings)


def test_doctor_repairs_old_orphans_only_where_the_storage_reports_blob_ages(
    tmp_path: Path,
) -> None:
    """--repair removes old orphans of a plugin storage declaring ``SupportsBlobAge``; without it, keeps them and says why."""
    with fresh_store(tmp_path / ".opskit"):
        opskit.configure(storage=f"example://{tmp_path / 'blobs'}")
        old, new = (
            get_storage().put_bytes(b"old orphan").digest,
            get_storage().put_bytes(b"new orphan").digest,
        )
        path = tmp_path / "blobs" / old.replace(":", "-")
        os.utime(path, (time.time() - 7200, time.time() - 7200))
        finding = next(f for f in run_doctor(repair=True).findings if f.check == "orphan blobs")
        assert finding.repaired and "removed 1 older than an hour" in finding.detail
        assert not get_storage().exists(old) and get_storage().exists(new)

        opskit.configure(storage="memory://protocols-orphans")
        orphan = get_storage().put_bytes(b"orphan in memory").digest
        finding = next(f for f in run_doctor(repair=True).findings if f.check == "orphan blobs")
        assert not finding.repaired and "does not report blob ages" in finding.detail
        assert get_storage().exists(orphan)
        get_storage().delete(orphan)


class TabledTarget(Target, SupportsOptions):
    """A target declaring a one-option table: opskit checks and converts before ``deploy``."""

    name = "tabled"
    options: ClassVar[dict[str, Option]] = {"replicas": Option("replicas", "int", "2", minimum=1)}
    seen: ClassVar[list[dict[str, Any]]] = []

    def deploy(self, spec: DeploymentSpec) -> Deployment:
        type(self).seen.append(dict(spec.options))
        return Deployment(
            name=spec.name,
            target=self.name,
            url=None,
            refs=tuple(spec.variants),
            weights=spec.variants,
            state="done",
        )

    def status(self, deployment: Deployment) -> str:
        return "done"

    def stop(self, deployment: Deployment) -> None:
        pass

    def logs(self, deployment: Deployment) -> str:
        return ""


class TabledPlugin:
    @hookimpl
    def register_targets(self, register: Any) -> None:
        register("tabled", lambda config: TabledTarget())


def test_a_target_declaring_options_gets_them_checked_and_converted(tmp_path: Path) -> None:
    """``opskit.deploy`` checks options against a ``SupportsOptions`` table before ``deploy`` runs."""
    with fresh_store(tmp_path / ".opskit"), plugin_manager(TabledPlugin()):
        ref = register_test_model("tabled-model")
        with pytest.raises(opskit.InvalidOption, match="replicas"):
            opskit.deploy(ref, target="tabled", replicas=0)
        with pytest.raises(opskit.InvalidOption, match="colour"):
            opskit.deploy(ref, target="tabled", colour="red")
        assert TabledTarget.seen == []
        opskit.deploy(ref, target="tabled", replicas="3")
        assert TabledTarget.seen == [{"replicas": 3}]


BROKEN_CAPABILITIES = """
import pytest
from opskit.storage.local import LocalStorage
from opskit.testing import StorageContract, TrackerContract
from opskit.tracker.capabilities import SupportsSync
from opskit.tracker.sqlite import SQLiteTracker

class Undeclared(LocalStorage):
    def incomplete_uploads(self, started_before=None):  # opskit doctor would call it, untested
        return []

class TestUndeclared(StorageContract):
    unsupported = {"tamper": "not under test here"}

    @pytest.fixture
    def storage(self, tmp_path):
        return Undeclared(tmp_path / "blobs")

class Resending(SQLiteTracker, SupportsSync):
    def sync(self):  # delivers the same run every time
        return 1

class TestResending(TrackerContract):
    unsupported = {"reader": "one instance only"}

    @pytest.fixture
    def tracker(self, tmp_path):
        return Resending(tmp_path / "db.sqlite")
"""


def test_capability_contract_tests_fail_on_broken_capabilities(tmp_path: Path) -> None:
    """An undeclared cleanup method and a sync that delivers again each fail their capability contract test."""
    from test_testing import _outcomes

    got = _outcomes(tmp_path, BROKEN_CAPABILITIES, "upload_cleanup", "sync_when_declared")
    outcome, message = got[
        "TestUndeclared::test_upload_cleanup_when_declared_lists_sorted_string_pairs"
    ]
    assert outcome == "failure" and "declaring SupportsUploadCleanup" in message
    outcome, message = got["TestResending::test_sync_when_declared_delivers_everything_once"]
    assert outcome == "failure" and "must not send anything twice" in message
