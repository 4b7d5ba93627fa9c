"""The code behind a run: function source, source file digest, git commit and dirty diff, notebook cell.

Everything is cached per process (git per repository, sources per function), so
capturing code costs microseconds per run and never a subprocess per run.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import linecache
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opskit.records import CodeInfo

__all__ = ["capture_code", "git_info"]

_MAX_DIFF = 1 << 20  # keep at most 1 MiB of dirty diff per run


def _is_notebook_file(filename: str) -> bool:
    return (
        filename.startswith("<ipython-input-")
        or "/ipykernel_" in filename
        or "ipykernel" in Path(filename).parent.name
    )


@functools.cache
def _function_code(code: Any) -> tuple[str | None, str | None, str | None]:
    """(source, source_file, notebook_cell) for a code object."""
    filename = code.co_filename
    try:
        lines, _ = inspect.getsourcelines(code)
        source: str | None = "".join(lines)
    except (OSError, TypeError):
        source = None
    if _is_notebook_file(filename):
        cell = "".join(linecache.getlines(filename)) or None
        return source, None, cell
    path = Path(filename)
    return source, (str(path.resolve()) if path.is_file() else None), None


def _file_digest(path: str) -> str | None:
    try:
        stat = Path(path).stat()
    except OSError:
        return None
    return _file_digest_cached(path, stat.st_size, stat.st_mtime_ns)


@functools.cache
def _file_digest_cached(path: str, size: int, mtime_ns: int) -> str | None:
    try:
        return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


@functools.cache
def _find_git_root(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def _run_git(root: Path, *args: str) -> str | None:
    git = shutil.which("git")
    if git is None:
        return None
    try:
        done = subprocess.run(
            [git, "-C", str(root), *args], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


@functools.cache
def git_info(root: Path) -> tuple[str | None, bool | None, str | None]:
    """(commit, dirty, diff) of the repository at *root*, computed once per process."""
    commit = _run_git(root, "rev-parse", "--verify", "--quiet", "HEAD")
    if commit is None:
        return None, None, None
    status = _run_git(root, "status", "--porcelain", "--untracked-files=no")
    dirty = bool(status and status.strip())
    diff = _run_git(root, "diff", "HEAD") if dirty else None
    if diff is not None and len(diff) > _MAX_DIFF:
        diff = diff[:_MAX_DIFF] + "\n[... diff truncated by opskit at 1 MiB ...]\n"
    return commit.strip(), dirty, diff


def capture_code(
    fn: Callable[..., Any] | None, *, git: bool = True, cwd: Path | None = None
) -> CodeInfo:
    """Describe the code of *fn* (or of the working directory when *fn* is None)."""
    source = source_file = cell = None
    function = module = None
    if fn is not None:
        target = inspect.unwrap(fn)
        function = getattr(target, "__qualname__", None)
        module = getattr(target, "__module__", None)
        code = getattr(target, "__code__", None)
        if code is not None:
            source, source_file, cell = _function_code(code)
    commit = dirty = diff = None
    if git:
        base = Path(source_file).parent if source_file else (cwd or Path.cwd())
        root = _find_git_root(base)
        if root is not None:
            commit, dirty, diff = git_info(root)
    file_digest = _file_digest(source_file) if source_file else None
    return _code_info(function, module, source, source_file, file_digest, commit, dirty, diff, cell)


@functools.cache
def _code_info(*fields: Any) -> CodeInfo:
    """One shared record per distinct content, so trackers can cache its digest by identity."""
    return CodeInfo(*fields)
