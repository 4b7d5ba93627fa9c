"""Configuration resolution: configure() > OPSKIT_* environment > [tool.opskit] > defaults."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import opskit
from opskit.config import find_project_root


def test_defaults_put_the_store_at_the_git_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With nothing configured, the store is .opskit/ at the git root, even from a subfolder."""
    monkeypatch.delenv("OPSKIT_HOME")
    repo = tmp_path / "repo"
    (repo / "src" / "deep").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    monkeypatch.chdir(repo / "src" / "deep")
    opskit.reset_defaults()
    config = opskit.get_config()
    assert config.home == repo.resolve() / ".opskit"
    assert (config.tracker, config.storage) == ("local", "local")
    assert find_project_root() == repo.resolve()


def test_without_git_the_working_directory_is_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside a repository the store goes to ./.opskit."""
    monkeypatch.delenv("OPSKIT_HOME")
    opskit.reset_defaults()
    assert opskit.get_config().home == tmp_path.resolve() / ".opskit"


def test_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """configure() beats the environment, which beats pyproject.toml, which beats defaults."""
    monkeypatch.delenv("OPSKIT_HOME")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.opskit]\nhome = "from-pyproject"\nexperiment = "pp"\ncapture_env = false\n'
        "[tool.opskit.storage_options]\nanon = true\n"
    )
    opskit.reset_defaults()
    config = opskit.get_config()
    assert config.home == tmp_path.resolve() / "from-pyproject"
    assert (config.experiment, config.capture_env, config.storage_options) == (
        "pp",
        False,
        {"anon": True},
    )
    monkeypatch.setenv("OPSKIT_EXPERIMENT", "env")
    monkeypatch.setenv("OPSKIT_CAPTURE_ENV", "yes")
    opskit.reset_defaults()
    assert (opskit.get_config().experiment, opskit.get_config().capture_env) == ("env", True)
    assert opskit.get_config().sources["experiment"] == "$OPSKIT_EXPERIMENT"
    config = opskit.configure(experiment="arg")
    assert config.experiment == "arg"
    assert opskit.configure(experiment=None).experiment == "env"


def test_bad_configuration_is_refused_and_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unknown options and malformed values raise ConfigError; the old config stays."""
    before = opskit.get_config()
    with pytest.raises(opskit.ConfigError, match="unknown option"):
        opskit.configure(trakcer="mlflow")
    monkeypatch.setenv("OPSKIT_CAPTURE_GIT", "maybe")
    with pytest.raises(opskit.ConfigError, match="not a boolean"):
        opskit.configure(experiment="x")
    assert opskit.get_config() == before


def test_unknown_pyproject_key(tmp_path: Path) -> None:
    """A typo in [tool.opskit] is reported with the file and the known keys."""
    (tmp_path / "pyproject.toml").write_text('[tool.opskit]\nstorge = "s3://x"\n')
    opskit.reset_defaults()
    with pytest.raises(opskit.ConfigError, match="storge"):
        opskit.get_config()


def test_unknown_tracker_names_what_is_installed() -> None:
    """Selecting a tracker nobody provides raises UnknownBackend listing the available ones."""
    opskit.configure(tracker="nosuch")

    @opskit.track
    def f() -> None:
        pass

    with pytest.raises(opskit.UnknownBackend, match="available: local"):
        f()
