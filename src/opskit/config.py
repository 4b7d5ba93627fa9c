"""Configuration: ``configure()`` arguments, then ``OPSKIT_*`` environment, then
``[tool.opskit]`` in the nearest ``pyproject.toml``, then defaults. First wins.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
from attrs import field, frozen

from opskit.errors import ConfigError

__all__ = ["Config", "configure", "create_home", "find_project_root", "get_config", "reset_defaults"]

#: Option name → environment variable. Values from the environment are strings.
ENV_VARS = {
    "home": "OPSKIT_HOME",
    "tracker": "OPSKIT_TRACKER",
    "storage": "OPSKIT_STORAGE",
    "experiment": "OPSKIT_EXPERIMENT",
    "capture_env": "OPSKIT_CAPTURE_ENV",
    "capture_git": "OPSKIT_CAPTURE_GIT",
}
_BOOL_TRUE = {"1", "true", "yes", "on"}
_BOOL_FALSE = {"0", "false", "no", "off", ""}


@frozen
class Config:
    """The settings in force. Obtain with ``opskit.get_config()``."""

    #: Folder for the local tracker and local storage.
    home: Path
    #: Tracker backend name: ``local`` (default) or any registered tracker.
    tracker: str = "local"
    #: Storage backend name or URL: ``local`` (default), a path, or ``scheme://...``.
    storage: str = "local"
    #: Default experiment for runs; None means the model name, else the function name.
    experiment: str | None = None
    #: Capture installed packages with every run (once per process).
    capture_env: bool = True
    #: Capture git commit and dirty diff (once per process).
    capture_git: bool = True
    #: Extra options for the tracker / storage backends (for example fsspec options).
    tracker_options: dict[str, Any] = field(factory=dict)
    storage_options: dict[str, Any] = field(factory=dict)
    #: Where each value came from, for ``opskit doctor`` and ``opskit plugins``.
    sources: dict[str, str] = field(factory=dict, eq=False, repr=False)


def find_project_root(start: Path | None = None) -> Path:
    """The git root above *start* (default: the working directory), else *start* itself."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return here


def _nearest_pyproject(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _pyproject_settings(start: Path) -> tuple[dict[str, Any], Path | None]:
    path = _nearest_pyproject(start)
    if path is None:
        return {}, None
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}; fix the file or set OPSKIT_* variables") from None
    section = data.get("tool", {}).get("opskit", {})
    if not isinstance(section, dict):
        raise ConfigError(f"[tool.opskit] in {path} must be a table")
    return section, path


def _as_bool(name: str, value: object, source: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _BOOL_TRUE | _BOOL_FALSE:
        return value.strip().lower() in _BOOL_TRUE
    raise ConfigError(f"{name}={value!r} from {source} is not a boolean: use true or false")


_FIELDS = {f.name for f in attrs.fields(Config)} - {"sources"}


def _resolve(overrides: Mapping[str, Any]) -> Config:
    unknown = set(overrides) - _FIELDS
    if unknown:
        raise ConfigError(
            f"unknown option(s) {sorted(unknown)} for opskit.configure(); known: {sorted(_FIELDS)}"
        )
    cwd = Path.cwd()
    section, pyproject = _pyproject_settings(cwd)
    unknown = set(section) - _FIELDS
    if unknown:
        raise ConfigError(f"unknown key(s) {sorted(unknown)} in [tool.opskit] of {pyproject}; known: {sorted(_FIELDS)}")
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name in sorted(_FIELDS):
        env_name = ENV_VARS.get(name)
        if name in overrides and overrides[name] is not None:
            values[name], sources[name] = overrides[name], "configure()"
        elif env_name and os.environ.get(env_name):
            values[name], sources[name] = os.environ[env_name], f"${env_name}"
        elif name in section:
            values[name], sources[name] = section[name], f"[tool.opskit] in {pyproject}"
    root = pyproject.parent if pyproject and "home" in section else find_project_root(cwd)
    home = Path(values.get("home", root / ".opskit")).expanduser()
    if not home.is_absolute():
        home = (root / home).resolve()
    sources.setdefault("home", "default (project root)/.opskit")
    for flag in ("capture_env", "capture_git"):
        if flag in values:
            values[flag] = _as_bool(flag, values[flag], sources[flag])
    for opts in ("tracker_options", "storage_options"):
        if opts in values and not isinstance(values[opts], Mapping):
            raise ConfigError(f"{opts} from {sources[opts]} must be a table/mapping, got {values[opts]!r}")
        values[opts] = dict(values.get(opts, {}))
    for text in ("tracker", "storage"):
        if text in values and (not isinstance(values[text], str) or not values[text].strip()):
            raise ConfigError(f"{text}={values[text]!r} from {sources[text]} must be a non-empty string")
    values["home"] = home
    return Config(**values, sources=sources)


#: Written into a store folder when opskit creates it, as pytest does for its cache: git ignores the store.
HOME_GITIGNORE = "# Created by opskit: the store (runs, models, blobs) is not source code.\n*\n"


def create_home(home: Path) -> Path:
    """Create the store folder *home* if it is missing, with a ``.gitignore`` that ignores it whole.

    A folder that already exists is left as it is (delete its ``.gitignore`` to commit a store on purpose).
    """
    try:
        home.mkdir(parents=True)
    except FileExistsError:
        return home
    (home / ".gitignore").write_text(HOME_GITIGNORE, encoding="utf-8")
    return home


_lock = threading.Lock()
_overrides: dict[str, Any] = {}
_config: Config | None = None


def configure(**options: Any) -> Config:
    """Set options for this process (they win over environment and pyproject.toml).

    Options: ``home``, ``tracker``, ``storage``, ``experiment``, ``capture_env``,
    ``capture_git``, ``tracker_options``, ``storage_options``. Passing ``None``
    removes an earlier override. Returns the resulting configuration.
    """
    global _config
    with _lock:
        merged = {**_overrides, **options}
        merged = {k: v for k, v in merged.items() if v is not None}
        config = _resolve(merged)  # validate before changing anything
        _overrides.clear()
        _overrides.update(merged)
        _config = config
    from opskit._backends import reset_backends

    reset_backends()
    return config


def get_config() -> Config:
    """The configuration in force (resolved once, then cached until ``configure``/``reset_defaults``)."""
    global _config
    config = _config
    if config is None:
        with _lock:
            if _config is None:
                _config = _resolve(_overrides)
            config = _config
    return config


def reset_defaults() -> None:
    """Forget every ``configure()`` override and re-read environment and pyproject.toml."""
    global _config
    with _lock:
        _overrides.clear()
        _config = None
    from opskit._backends import reset_backends

    reset_backends()
