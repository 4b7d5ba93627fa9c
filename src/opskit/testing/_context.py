"""``fresh_store`` / ``opskit_store``: an empty temporary store; ``plugin_manager``: chosen plugins only."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pluggy
import pytest

__all__ = ["Contract", "fresh_store", "opskit_store", "plugin_manager"]

#: Settings a fresh store clears from the environment, so it uses the local tracker and storage.
_CLEARED = ("OPSKIT_TRACKER", "OPSKIT_STORAGE", "OPSKIT_EXPERIMENT")


@contextlib.contextmanager
def fresh_store(home: str | os.PathLike[str] | None = None) -> Iterator[Path]:
    """An empty store (local tracker, local storage) in a temporary ``OPSKIT_HOME``; yields its path.

    ``configure()`` overrides and the ``OPSKIT_HOME`` / ``OPSKIT_TRACKER`` /
    ``OPSKIT_STORAGE`` / ``OPSKIT_EXPERIMENT`` variables in force before are
    put back afterwards, and the backends opened inside are closed. With *home*
    the store lives there (and is kept); otherwise in a temporary folder that is
    removed.
    """
    from opskit.runtime import get_runtime

    runtime = get_runtime()
    saved_overrides = runtime.overrides
    saved_env = {name: os.environ.get(name) for name in ("OPSKIT_HOME", *_CLEARED)}
    with contextlib.ExitStack() as stack:
        if home is None:
            folder = (
                Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="opskit-store-")))
                / ".opskit"
            )
        else:
            folder = Path(home)
        try:
            for name in _CLEARED:
                os.environ.pop(name, None)
            os.environ["OPSKIT_HOME"] = str(folder)
            runtime.reset(plugins=False)
            yield folder
        finally:
            runtime.reset(plugins=False)  # closes the tracker opened inside
            for name, value in saved_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            runtime.set_overrides(saved_overrides)


@pytest.fixture
def opskit_store(tmp_path: Path) -> Iterator[Path]:
    """An empty store under ``tmp_path`` for one test (``fresh_store`` as a fixture); yields its home."""
    with fresh_store(tmp_path / ".opskit") as home:
        yield home


@contextlib.contextmanager
def plugin_manager(
    *plugins: object, builtins: bool = True, entrypoints: bool = False
) -> Iterator[pluggy.PluginManager]:
    """Make a fresh plugin manager with *plugins* (modules or objects) the process's one; restore the previous after.

    The built-in backends are registered too unless ``builtins=False``; installed
    entry-point plugins only with ``entrypoints=True``, so a test sees exactly the
    plugins it names. Active backends are reset on entry and on exit.
    """
    from opskit.errors import PluginError
    from opskit.plugins.manager import create_plugin_manager
    from opskit.runtime import get_runtime

    runtime = get_runtime()
    previous = runtime.loaded_plugin_manager
    pm = create_plugin_manager(load_entrypoints=entrypoints, builtins=builtins)
    for plugin in plugins:
        name = getattr(plugin, "__name__", None) or f"{type(plugin).__name__}-{id(plugin):x}"
        pm.register(plugin, name=name)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(
            f"{exc}; a plugin implements a hook opskit does not declare (misspelled?)"
        ) from exc
    runtime.set_plugin_manager(pm)
    try:
        yield pm
    finally:
        runtime.set_plugin_manager(previous)


class Contract:
    """What every contract suite shares: features a backend declares it does not support."""

    #: Feature name → why this backend does not support it; those tests skip with the reason.
    unsupported: ClassVar[Mapping[str, str]] = {}
    #: Every feature name a subclass may declare in ``unsupported``.
    features: ClassVar[tuple[str, ...]] = ()

    def require(self, feature: str) -> None:
        """Skip (with the declared reason) when the backend declares *feature* unsupported."""
        assert feature in self.features, f"unknown feature {feature!r}"
        reason = self.unsupported.get(feature)
        if reason is not None:
            pytest.skip(f"{type(self).__name__} declares {feature!r} unsupported: {reason}")

    def test_declared_unsupported_features_exist(self) -> None:
        """Every feature named in ``unsupported`` is one the suite knows, with a reason."""
        unknown = sorted(set(self.unsupported) - set(self.features))
        assert not unknown, (
            f"unsupported names unknown feature(s) {unknown}; known: {list(self.features)}"
        )
        assert all(isinstance(r, str) and r.strip() for r in self.unsupported.values()), (
            "give every entry a reason"
        )


def declared(obj: Any, what: str) -> str:
    """A message for a fixture the subclass must define."""
    return f"{type(obj).__name__} must define the `{what}` fixture (see opskit.testing)"
