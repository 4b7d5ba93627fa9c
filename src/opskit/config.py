"""Configuration: ``configure()`` arguments, then ``OPSKIT_*`` environment, then
``[tool.opskit]`` in the nearest ``pyproject.toml``, then defaults. First wins.

Every ``OPSKIT_*`` environment variable opskit reads is declared in ``ENVIRONMENT``
below and read through the helpers here (one boolean parser, ``parse_bool``);
``tests/test_config_docs.py`` checks that each is documented in
``docs/configuration.md``. This module only declares and parses: the settings in
force, ``configure()`` and ``reset_defaults()`` live in ``opskit.runtime``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict

import attrs
from attrs import field, frozen

from opskit.errors import ConfigError
from opskit.governance.config import GovernanceConfig, parse_governance

__all__ = [
    "ENVIRONMENT",
    "ENV_VARS",
    "Config",
    "ConfigOptions",
    "EnvVar",
    "create_home",
    "env_flag",
    "env_names",
    "env_text",
    "find_project_root",
    "parse_bool",
    "resolve",
]


@frozen
class EnvVar:
    """One ``OPSKIT_*`` environment variable opskit reads."""

    name: str
    #: ``text``, ``bool`` or ``names`` (comma-separated list).
    kind: str
    meaning: str
    #: The ``Config`` field it sets, if any.
    option: str | None = None


#: Every ``OPSKIT_*`` variable opskit reads, by name (documented in docs/configuration.md).
ENVIRONMENT: dict[str, EnvVar] = {
    var.name: var
    for var in (
        EnvVar("OPSKIT_HOME", "text", "folder of the embedded store", option="home"),
        EnvVar("OPSKIT_TRACKER", "text", "tracker backend name", option="tracker"),
        EnvVar("OPSKIT_STORAGE", "text", "storage backend name, path or URL", option="storage"),
        EnvVar("OPSKIT_EXPERIMENT", "text", "experiment of new runs", option="experiment"),
        EnvVar("OPSKIT_CAPTURE_ENV", "bool", "record installed packages", option="capture_env"),
        EnvVar("OPSKIT_CAPTURE_GIT", "bool", "record git commit and diff", option="capture_git"),
        EnvVar("OPSKIT_LOAD_PLUGINS", "names", "load only these entry-point plugins"),
        EnvVar("OPSKIT_DISABLE_PLUGINS", "names", "do not load these plugins"),
        EnvVar("OPSKIT_TRACE_HOOKS", "bool", "log every hook call to stderr"),
        EnvVar("OPSKIT_PROGRESS", "bool", "progress bars for slow transfers"),
        EnvVar("OPSKIT_SERVE_SPEC", "text", "spec file of a model server process (set by opskit)"),
        EnvVar("OPSKIT_BIND", "text", "address a model server process binds"),
        EnvVar("OPSKIT_USER", "text", "who is acting (runs, registry and audit events)"),
        EnvVar("OPSKIT_SERVE_TOKEN", "text", "bearer token model servers require and clients send"),
    )
}

#: Option name → environment variable. Values from the environment are strings.
ENV_VARS = {var.option: var.name for var in ENVIRONMENT.values() if var.option is not None}
_BOOL_TRUE = {"1", "true", "yes", "on"}
_BOOL_FALSE = {"0", "false", "no", "off", ""}


def _declared(name: str) -> EnvVar:
    try:
        return ENVIRONMENT[name]
    except KeyError:
        raise KeyError(
            f"{name} is not declared in opskit.config.ENVIRONMENT; declare it there"
        ) from None


def parse_bool(name: str, value: object, source: str) -> bool:
    """*value* as a boolean (``1/true/yes/on``, ``0/false/no/off/""``); anything else raises ``ConfigError``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _BOOL_TRUE | _BOOL_FALSE:
        return value.strip().lower() in _BOOL_TRUE
    raise ConfigError(f"{name}={value!r} from {source} is not a boolean: use true or false")


def env_text(name: str) -> str | None:
    """The value of the declared variable *name*; None when unset or empty."""
    _declared(name)
    return os.environ.get(name) or None


def env_flag(name: str, default: bool) -> bool:
    """The declared boolean variable *name*; *default* when unset or empty; ``ConfigError`` when not a boolean."""
    _declared(name)
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    return parse_bool(name, raw, f"${name}")


def env_names(name: str) -> set[str] | None:
    """The declared comma-separated list *name*, lowercased; None when unset (an empty value is an empty set)."""
    _declared(name)
    raw = os.environ.get(name)
    if raw is None:
        return None
    return {part.strip().lower() for part in raw.split(",") if part.strip()}


class ConfigOptions(TypedDict, total=False):
    """The keyword arguments of ``opskit.configure()``; None drops an earlier override."""

    home: str | os.PathLike[str] | None
    tracker: str | None
    storage: str | None
    experiment: str | None
    capture_env: bool | None
    capture_git: bool | None
    tracker_options: Mapping[str, Any] | None
    storage_options: Mapping[str, Any] | None
    governance: Mapping[str, Any] | GovernanceConfig | None


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
    #: ``[tool.opskit.governance]``: the access policy (roles, users, default role); see docs/governance.md.
    governance: GovernanceConfig = field(factory=GovernanceConfig)
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
        raise ConfigError(
            f"cannot read {path}: {exc}; fix the file or set OPSKIT_* variables"
        ) from None
    section = data.get("tool", {}).get("opskit", {})
    if not isinstance(section, dict):
        raise ConfigError(f"[tool.opskit] in {path} must be a table")
    return section, path


_FIELDS = {f.name for f in attrs.fields(Config)} - {"sources"}


def resolve(overrides: Mapping[str, Any]) -> Config:
    """The configuration from *overrides* (``configure()`` arguments), environment, pyproject.toml and defaults."""
    unknown = set(overrides) - _FIELDS
    if unknown:
        raise ConfigError(
            f"unknown option(s) {sorted(unknown)} for opskit.configure(); known: {sorted(_FIELDS)}"
        )
    cwd = Path.cwd()
    section, pyproject = _pyproject_settings(cwd)
    unknown = set(section) - _FIELDS
    if unknown:
        raise ConfigError(
            f"unknown key(s) {sorted(unknown)} in [tool.opskit] of {pyproject}; known: {sorted(_FIELDS)}"
        )
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
            values[flag] = parse_bool(flag, values[flag], sources[flag])
    for opts in ("tracker_options", "storage_options"):
        if opts in values and not isinstance(values[opts], Mapping):
            raise ConfigError(
                f"{opts} from {sources[opts]} must be a table/mapping, got {values[opts]!r}"
            )
        values[opts] = dict(values.get(opts, {}))
    for text in ("tracker", "storage"):
        if text in values and (not isinstance(values[text], str) or not values[text].strip()):
            raise ConfigError(
                f"{text}={values[text]!r} from {sources[text]} must be a non-empty string"
            )
    if "governance" in values:
        values["governance"] = parse_governance(values["governance"], sources["governance"])
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


def __getattr__(name: str) -> Any:
    # Deprecated import paths: the state (overrides, resolved config) lives in opskit.runtime now.
    if name in _MOVED_TO_RUNTIME:
        from opskit import runtime

        return getattr(runtime, name)
    raise AttributeError(f"module 'opskit.config' has no attribute {name!r}")


#: ``opskit.config.X`` names kept for old imports; use ``opskit.X`` / ``opskit.runtime.X``.
_MOVED_TO_RUNTIME = frozenset({"configure", "get_config", "reset_defaults"})
