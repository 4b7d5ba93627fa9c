"""The runtime owns config, plugin manager, registry, tracker and storage, with one reset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import opskit
from opskit import runtime
from opskit.config import Config
from opskit.errors import ConfigError
from opskit.runtime import get_runtime


class CountingTracker:
    """Wraps the local tracker and counts close() calls (a real tracker underneath)."""

    closed = 0

    def __init__(self, config: Config) -> None:
        from opskit.config import create_home
        from opskit.tracker.sqlite import SQLiteTracker

        self.inner = SQLiteTracker(create_home(config.home) / "opskit.db")
        self.home = config.home

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def close(self) -> None:
        type(self).closed += 1
        self.inner.close()


class CountingPlugin:
    @opskit.hookimpl
    def register_trackers(self, register: Any) -> None:
        register("counting", CountingTracker)


@pytest.fixture
def counting() -> Any:
    from opskit.testing import plugin_manager

    CountingTracker.closed = 0
    with plugin_manager(CountingPlugin()):
        opskit.configure(tracker="counting")
        yield
    opskit.configure(tracker=None)


@pytest.mark.usefixtures("counting")
def test_configure_closes_the_tracker_and_the_next_use_builds_one_from_the_new_settings(
    tmp_path: Path,
) -> None:
    """configure() closes the active tracker once; the next get_tracker() opens one on the new home."""
    first = runtime.get_tracker()
    assert first is runtime.get_tracker()
    opskit.configure(home=str(tmp_path / "other"))
    assert CountingTracker.closed == 1
    second = runtime.get_tracker()
    assert second is not first
    assert second.home == tmp_path / "other"  # type: ignore[attr-defined]


@pytest.mark.usefixtures("counting")
def test_a_bad_configure_changes_nothing() -> None:
    """A configure() that raises ConfigError keeps the tracker open and the settings as they were."""
    before = runtime.get_tracker()
    config = opskit.get_config()
    with pytest.raises(ConfigError, match="capture_env"):
        opskit.configure(capture_env="sometimes")  # type: ignore[arg-type]
    assert runtime.get_tracker() is before
    assert CountingTracker.closed == 0
    assert opskit.get_config() is config


@pytest.mark.usefixtures("counting")
def test_one_reset_forgets_everything() -> None:
    """Runtime.reset() closes the tracker and forgets overrides, plugin manager and registry."""
    rt = get_runtime()
    tracker = rt.tracker
    pm = rt.plugin_manager
    rt.reset()
    assert CountingTracker.closed == 1
    assert rt.overrides == {}
    assert rt.loaded_plugin_manager is None
    assert rt.plugin_manager is not pm
    assert rt.config.tracker == "local"
    assert rt.tracker is not tracker


@pytest.mark.usefixtures("counting")
def test_setting_the_plugin_manager_closes_the_backends_built_from_the_old_one() -> None:
    """set_plugin_manager() closes the tracker and drops the registry, keeping the settings."""
    runtime.get_tracker()
    registry = runtime.get_registry()
    pm = runtime.get_plugin_manager()
    runtime.set_plugin_manager(pm)
    assert CountingTracker.closed == 1
    assert runtime.get_registry() is not registry
    assert opskit.get_config().tracker == "counting"


def test_old_import_paths_are_the_runtime() -> None:
    """opskit._backends, opskit.plugins and opskit.config keep their 0.1 names, all served by the runtime."""
    import opskit._backends as old_backends
    import opskit.config as config
    import opskit.plugins as plugins

    assert old_backends.get_tracker() is runtime.get_tracker()
    assert old_backends.get_storage() is runtime.get_storage()
    assert config.configure is runtime.configure and config.get_config is runtime.get_config
    assert config.reset_defaults is runtime.reset_defaults
    assert (
        plugins.get_registry is runtime.get_registry
        and plugins.reset_plugins is runtime.reset_plugins
    )
    assert opskit.configure is runtime.configure
    with pytest.raises(AttributeError, match="nope"):
        config.nope  # noqa: B018


def test_reset_backends_shim_closes_only_the_backends() -> None:
    """The deprecated opskit._backends.reset_backends() closes the tracker and keeps the overrides."""
    from opskit._backends import reset_backends

    opskit.configure(experiment="kept")
    tracker = runtime.get_tracker()
    reset_backends()
    assert runtime.get_tracker() is not tracker
    assert opskit.get_config().experiment == "kept"


def test_metric_history_function_and_method_agree() -> None:
    """opskit.metric_history(run or id, key) reads the points; Run.metric_history is the same call."""
    with opskit.start_run() as run:
        for step, value in enumerate([3.0, 2.0, 1.0]):
            opskit.log_metric("loss", value, step=step)
    stored = opskit.get_run(run.id)
    points = opskit.metric_history(run.id, "loss")
    assert [p.value for p in points] == [3.0, 2.0, 1.0]
    assert opskit.metric_history(stored, "loss") == points == stored.metric_history("loss")
