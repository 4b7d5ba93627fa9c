"""The decorated function captured by value (cloudpickle), so ``opskit.reproduce`` can run it again.

What is pickled is the pipeline's ``Definition``: the function, its signature and its decorator
options (model, alias, seed, signature, ...), so a reproduction re-applies the same options.

By value or by reference:

- a function of ``__main__`` (a script, a notebook cell) is pickled by value by cloudpickle;
- a function of the user's own project (a module that is not under ``site-packages`` nor in the
  standard library) is pickled by value too: its top-level package is registered with
  ``cloudpickle.register_pickle_by_value`` for the time of the pickling, so every module of the
  project it uses travels with it and the pickle loads where the project is not installed;
- installed libraries (sklearn, pandas, opskit, ...) are pickled by reference: the environment
  report of ``reproduce`` says when their versions differ.

The pickle is a content-addressed blob, stored once per function per process (the cache key is the
decoration, i.e. the function with its options, and its code object: redefining a notebook function
captures again), and linked to
each run as the artifacts ``opskit/function.pkl`` and ``opskit/function.json`` (what the source
fallback needs: the module, qualified name, path in the git repository, and the versions that
wrote the pickle). A function that cannot be pickled leaves the run alone: the reason is recorded
in the tag ``opskit.function.error`` and warned once per function.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
import sysconfig
import threading
import warnings
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from attrs import frozen

from opskit._stack import user_stacklevel
from opskit.errors import OpskitError, OpskitWarning
from opskit.records import Artifact

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "FUNCTION_ARTIFACT",
    "FUNCTION_ERROR_TAG",
    "FUNCTION_META_ARTIFACT",
    "FunctionCapture",
    "capture_function",
    "clear_cache",
]

FUNCTION_ARTIFACT = "opskit/function.pkl"
FUNCTION_META_ARTIFACT = "opskit/function.json"
FUNCTION_ERROR_TAG = "opskit.function.error"
#: The format of ``opskit/function.json``.
META_VERSION = 1


@frozen
class FunctionCapture:
    """What one run links to: the two artifacts, or why the function could not be captured."""

    artifacts: tuple[Artifact, ...] = ()
    error: str | None = None

    @property
    def tags(self) -> dict[str, str]:
        return {} if self.error is None else {FUNCTION_ERROR_TAG: self.error[:4000]}


_lock = threading.Lock()
#: (id(definition), code object, id(storage)) -> ((definition, storage) kept alive so no id is
#: reused, capture).
_cache: dict[tuple[int, object, int], tuple[object, FunctionCapture]] = {}
#: Keys already warned about a storage failure (not cached: the next run tries again).
_warned: set[tuple[int, object, int]] = set()


def clear_cache() -> None:
    """Forget every captured function (tests; a new store in the same process)."""
    with _lock:
        _cache.clear()
        _warned.clear()


@functools.cache
def _library_paths() -> tuple[Path, ...]:
    paths = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        with contextlib.suppress(KeyError, OSError):
            paths.add(Path(sysconfig.get_paths()[key]).resolve())
    for entry in sys.path:
        if entry.endswith(("site-packages", "dist-packages")):
            paths.add(Path(entry).resolve())
    return tuple(paths)


@functools.cache
def _library_prefixes() -> tuple[str, ...]:
    """The library folders as text (resolved and as given), for a quick prefix test."""
    texts = {str(lib) for lib in _library_paths()}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        with contextlib.suppress(KeyError):
            texts.add(sysconfig.get_paths()[key])
    return tuple(sorted(texts))


@functools.cache
def _user_file(file: str) -> Path | None:
    """*file* resolved when it is not in the standard library nor an installed distribution; else None."""
    if "site-packages" in file or "dist-packages" in file or file.startswith(_library_prefixes()):
        return None  # the common case, decided without touching the file system
    path = Path(file).resolve()
    if any(part in ("site-packages", "dist-packages") for part in path.parts):
        return None
    if any(path.is_relative_to(lib) for lib in _library_paths()):
        return None
    return path


def _is_installed(module: ModuleType) -> bool:
    """True when *module* comes from the standard library or an installed distribution."""
    file = getattr(module, "__file__", None)
    return file is None or _user_file(file) is None  # None: built-in or namespace package


def _user_top(name: str, roots: tuple[Path, ...]) -> str | None:
    """The top-level package of module *name* when its files are the user's project (not a library's)."""
    top = name.partition(".")[0]
    if not top or top == "__main__" or top.startswith(("_", "opskit")):
        return None
    module = sys.modules.get(top) or sys.modules.get(name)
    file = getattr(module, "__file__", None) if module is not None else None
    path = _user_file(file) if file else None
    if path is None or not any(path.is_relative_to(root) for root in roots):
        return None
    return top


def _project_roots(fn: Any) -> tuple[Path, ...]:
    """Where the user's code lives: the working directory, the script's folder, the function's git root."""
    from opskit.capture.code import _find_git_root

    roots = {Path.cwd().resolve()}
    if sys.path and sys.path[0]:
        roots.add(Path(sys.path[0]).resolve())
    code = getattr(fn, "__code__", None)
    if code is not None and Path(code.co_filename).is_file():
        folder = Path(code.co_filename).resolve().parent
        roots.add(_find_git_root(folder) or folder)
    return tuple(roots)


def by_value_packages(fn: Any) -> tuple[str, ...]:
    """The top-level packages to pickle by value with *fn*: the user's own code, not libraries.

    *fn*'s own package (unless it is ``__main__``, which cloudpickle pickles by value already)
    and every imported package of the user's project (under the working directory, the script's
    folder or the function's git root, outside the standard library and ``site-packages``; an
    editable install of the project counts as the project): the modules next to a script or a
    notebook that it imports (``from helpers import clean``). ``importlib.metadata`` is not
    consulted: reading every installed distribution costs a second.
    """
    roots = _project_roots(fn)
    own = getattr(fn, "__module__", None) or ""
    own_top = _user_top(own, roots) if own else None
    found = {t for name in list(sys.modules) if "." not in name and (t := _user_top(name, roots))}
    return tuple(sorted(found | ({own_top} if own_top else set())))


def _repo_path(source_file: str | None) -> str | None:
    """*source_file* relative to its git root (for ``git show COMMIT:PATH``), or None."""
    if not source_file:
        return None
    from opskit.capture.code import _find_git_root

    path = Path(source_file)
    root = _find_git_root(path.parent)
    if root is None:
        return None
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


def _pickle(definition: object, packages: tuple[str, ...]) -> bytes:
    import cloudpickle
    from cloudpickle.cloudpickle import _PICKLE_BY_VALUE_MODULES  # what register_... fills

    registered = []
    try:
        for name in packages:
            if name not in _PICKLE_BY_VALUE_MODULES and name in sys.modules:
                cloudpickle.register_pickle_by_value(sys.modules[name])
                registered.append(sys.modules[name])
        return cloudpickle.dumps(definition)  # type: ignore[no-any-return]
    finally:
        for module in registered:
            cloudpickle.unregister_pickle_by_value(module)


@functools.cache
def _cloudpickle_version() -> str | None:
    from opskit.builtins.serializers import _version

    return _version("cloudpickle")


def _meta(fn: Callable[..., Any], source_file: str | None, packages: tuple[str, ...]) -> bytes:
    import platform

    meta = {
        "format": META_VERSION,
        "module": getattr(fn, "__module__", None),
        "qualname": getattr(fn, "__qualname__", None),
        "repo_path": _repo_path(source_file),
        "by_value": list(packages),
        "python": platform.python_version(),
        "cloudpickle": _cloudpickle_version(),
    }
    return json.dumps(meta, sort_keys=True).encode()


def capture_function(
    fn: Callable[..., Any], definition: object, source_file: str | None
) -> FunctionCapture:
    """Store *definition* (the pipeline's record of *fn* and its options) by value, once per function
    per process; the artifacts that link a run to it."""
    from opskit.runtime import get_storage

    storage = get_storage()
    # one decoration (its Definition: the function and its options) and one code object per store
    key = (id(definition), getattr(fn, "__code__", None), id(storage))
    cached = _cache.get(key)
    if cached is not None:
        return cached[1]
    with _lock:
        cached = _cache.get(key)
        if cached is not None:
            return cached[1]
        try:
            capture = _capture(fn, definition, source_file)
        except (OpskitError, OSError) as exc:  # the storage failed: training goes on, try next run
            reason = (
                f"the function could not be stored ({type(exc).__name__}: {exc}); opskit reproduce "
                "falls back to its source at the recorded git commit"
            )
            if key not in _warned:
                _warned.add(key)
                warnings.warn(
                    f"opskit could not store {getattr(fn, '__qualname__', fn)!r} for `opskit "
                    f"reproduce`: {reason}",
                    OpskitWarning,
                    stacklevel=user_stacklevel(),
                )
            return FunctionCapture(error=reason)
        _cache[key] = ((definition, storage), capture)
    return capture


def _capture(
    fn: Callable[..., Any], definition: object, source_file: str | None
) -> FunctionCapture:
    from opskit.runtime import get_storage

    storage = get_storage()
    packages = by_value_packages(fn)
    meta = storage.put_bytes(_meta(fn, source_file, packages))
    meta_artifact = Artifact(FUNCTION_META_ARTIFACT, meta.digest, meta.size_bytes)
    try:
        payload = _pickle(definition, packages)
    except Exception as exc:  # anything cloudpickle raises: the run goes on
        reason = (
            f"{type(exc).__name__}: {exc}".strip()
            + " (cloudpickle could not pickle the function or an option; opskit reproduce falls "
            "back to its source at the recorded git commit)"
        )
        warnings.warn(
            f"opskit could not capture {getattr(fn, '__qualname__', fn)!r} by value for `opskit reproduce`: "
            f"{reason}. Keep what the function uses (globals, closures, options) picklable",
            OpskitWarning,
            stacklevel=user_stacklevel(),
        )
        return FunctionCapture(artifacts=(meta_artifact,), error=reason)
    blob = storage.put_bytes(payload)
    return FunctionCapture(
        artifacts=(Artifact(FUNCTION_ARTIFACT, blob.digest, blob.size_bytes), meta_artifact)
    )
