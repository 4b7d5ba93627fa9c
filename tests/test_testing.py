"""opskit.testing itself: the suites fail on broken backends, fresh_store and plugin_manager restore what they change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

import opskit
from conftest import run_python
from opskit._backends import get_storage, get_tracker
from opskit.hookspecs import hookimpl
from opskit.plugins import get_plugin_manager, get_registry
from opskit.testing import fresh_store, plugin_manager

BROKEN = textwrap.dedent(
    """
    import pytest
    from opskit.storage.local import LocalStorage
    from opskit.tracker.sqlite import SQLiteTracker
    from opskit.testing import StorageContract, TrackerContract

    class Unverified(LocalStorage):
        def get_bytes(self, digest):  # reads without checking the digest
            with self.open(digest) as src:
                return src.read()

        def delete(self, digest):  # refuses to delete what is missing
            if not self.exists(digest):
                raise FileNotFoundError(digest)
            super().delete(digest)

    def tamper(self, storage, digest):
        path = storage._path(digest)
        path.chmod(0o644)
        path.write_bytes(b"tampered")

    class TestUnverified(StorageContract):
        tamper = tamper

        @pytest.fixture
        def storage(self, tmp_path):
            return Unverified(tmp_path / "blobs")

    class TestDeclared(StorageContract):
        unsupported = {"tamper": "blobs live on write-once media"}

        @pytest.fixture
        def storage(self, tmp_path):
            return LocalStorage(tmp_path / "blobs")

    class TestForgotten(StorageContract):
        @pytest.fixture
        def storage(self, tmp_path):
            return LocalStorage(tmp_path / "blobs")

    class TestMisspelled(StorageContract):
        unsupported = {"tampering": "typo"}
        tamper = tamper

        @pytest.fixture
        def storage(self, tmp_path):
            return LocalStorage(tmp_path / "blobs")

    class Lossy(SQLiteTracker):
        def log_params(self, run_id, params):  # drops list values
            super().log_params(run_id, {k: v for k, v in params.items() if not isinstance(v, list)})

    class TestLossy(TrackerContract):
        unsupported = {"reader": "one instance only"}

        @pytest.fixture
        def tracker(self, tmp_path):
            return Lossy(tmp_path / "db.sqlite")
    """
)


def _outcomes(tmp_path: Path, source: str, *select: str) -> dict[str, tuple[str, str]]:
    """Run pytest on *source* in a fresh interpreter; test name → (outcome, message)."""
    (tmp_path / "test_plugin.py").write_text(source)
    report = tmp_path / "report.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSKIT_")}
    env["OPSKIT_HOME"] = str(tmp_path / ".opskit")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "test_plugin.py",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            "-q",
            *(["-k", " or ".join(select)] if select else []),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    found: dict[str, tuple[str, str]] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        name = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
        outcome, message = "passed", ""
        for child in case:
            if child.tag in {"failure", "error", "skipped"}:
                outcome, message = child.tag, child.get("message", "") + (child.text or "")
        found[name] = (outcome, message)
    return found


def test_suites_fail_on_broken_backends_and_honour_declarations(tmp_path: Path) -> None:
    """Unverified reads, a strict delete and lossy params fail their contract tests; declared gaps skip with the reason."""
    got = _outcomes(
        tmp_path, BROKEN, "Unverified", "Declared", "Forgotten", "Misspelled", "params_round_trip"
    )
    assert got["TestUnverified::test_reads_refuse_tampered_content"][0] == "failure"
    assert got["TestUnverified::test_delete_removes_the_blob_and_is_idempotent"][0] == "failure"
    assert got["TestUnverified::test_put_bytes_round_trips"][0] == "passed"
    outcome, message = got["TestDeclared::test_reads_refuse_tampered_content"]
    assert outcome == "skipped" and "blobs live on write-once media" in message
    assert got["TestDeclared::test_declared_unsupported_features_exist"][0] == "passed"
    outcome, message = got["TestForgotten::test_reads_refuse_tampered_content"]
    assert outcome == "failure" and "must override tamper" in message
    outcome, message = got["TestMisspelled::test_declared_unsupported_features_exist"]
    assert outcome == "failure" and "tampering" in message
    outcome, message = got["TestLossy::test_params_round_trip"]
    assert outcome == "failure" and "logged" in message


def test_importing_opskit_does_not_import_pytest() -> None:
    """`import opskit` and its public API never import pytest, hypothesis or opskit.testing."""
    out = run_python(
        "import sys, json, opskit\nopskit.train; opskit.deploy; opskit.plugins.list_plugins()\n"
        "print(json.dumps([m for m in ('pytest', 'hypothesis', 'opskit.testing') if m in sys.modules]))"
    )
    assert json.loads(out.stdout) == []


def test_fresh_store_is_empty_and_restores_the_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside: an empty local store in a temporary home; after: configure() overrides and OPSKIT_* variables as before."""
    outer_home = opskit.get_config().home
    monkeypatch.setenv("OPSKIT_EXPERIMENT", "outer-experiment")
    opskit.configure(capture_env=False, storage=f"fsspec+file://{tmp_path / 'outer-blobs'}")
    with fresh_store() as home:
        config = opskit.get_config()
        assert config.home == home and home != outer_home
        assert (config.tracker, config.storage, config.experiment, config.capture_env) == (
            "local",
            "local",
            None,
            True,
        )
        with opskit.start_run(name="inside"):
            opskit.log_metric("m", 1.0)
        assert [r.name for r in opskit.search_runs()] == ["inside"]
        assert get_storage().name == "local"
    assert not home.exists()
    config = opskit.get_config()
    assert (config.home, config.experiment, config.capture_env) == (
        outer_home,
        "outer-experiment",
        False,
    )
    assert config.storage == f"fsspec+file://{tmp_path / 'outer-blobs'}"
    assert os.environ["OPSKIT_HOME"] == str(outer_home)
    assert opskit.search_runs() == []


def test_fresh_store_restores_after_an_exception(tmp_path: Path) -> None:
    """An exception inside still puts OPSKIT_HOME back; an explicit home is kept."""
    before = os.environ["OPSKIT_HOME"]
    home = tmp_path / "kept"

    def fail_inside() -> None:
        with fresh_store(home):
            get_tracker().put_state("k", "v", {"x": 1})
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_inside()
    assert os.environ["OPSKIT_HOME"] == before
    assert (home / "opskit.db").exists()
    with fresh_store(home):
        assert get_tracker().get_state("k", "v") == {"x": 1}


class _MemoryStorages:
    """A plugin object registering a storage under the ``mem-test`` name."""

    @hookimpl
    def register_storages(self, register: Any) -> None:
        from opskit.storage.fsspec import FsspecStorage

        def factory(config: opskit.Config, location: str) -> FsspecStorage:
            return FsspecStorage(f"memory://opskit-testing-{uuid.uuid4().hex}")

        register("mem-test", factory, schemes=("memtest",))


def test_plugin_manager_installs_exactly_the_given_plugins_and_restores() -> None:
    """Inside: built-ins plus the given plugin, no entry points; after: the previous manager, unchanged."""
    before = get_plugin_manager()
    assert "example" in get_registry().names("storage")
    with plugin_manager(_MemoryStorages()) as pm:
        assert get_plugin_manager() is pm
        names = get_registry().names("storage")
        assert "mem-test" in names and "local" in names and "example" not in names
        opskit.configure(storage="memtest://anything")
        assert get_storage().put_bytes(b"x").size_bytes == 1
    opskit.configure(storage=None)
    assert get_plugin_manager() is before
    assert "mem-test" not in get_registry().names("storage")
    with plugin_manager(builtins=False):
        assert get_registry().names("storage") == []


def test_the_documented_test_file_runs_and_passes(tmp_path: Path) -> None:
    """The "Testing your plugin" file in docs/plugins.md runs under pytest as it is, every contract test passing."""
    from conftest import ROOT

    text = (ROOT / "docs" / "plugins.md").read_text()
    source = text.split("```python\n# test_memstore.py\n", 1)[1].split("```", 1)[0]
    got = _outcomes(tmp_path, source)
    assert len(got) > 20 and {outcome for outcome, _ in got.values()} == {"passed"}, got
    assert any(name.startswith("TestStdoutTarget::test_deploy_status_stop") for name in got)
