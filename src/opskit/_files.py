"""Writing a file the user named: atomically, and with a clear error naming *their* path."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path

from opskit.errors import OutputNotWritable

__all__ = ["check_writable", "write_text_atomic"]


def check_writable(path: str | os.PathLike[str], *, what: str, example: str = "out.txt") -> Path:
    """*path* as a file that can be written (nothing is written), or :class:`~opskit.errors.OutputNotWritable`
    when it is a directory or its folder is missing; lets a command refuse a bad output path
    before long work."""
    target = Path(path)
    given = os.fspath(path)
    if target.is_dir():
        raise OutputNotWritable(
            f"cannot write {what} to {given!r}: it is a directory; "
            f"pass a file path, e.g. {os.path.join(given, example)!r}"
        )
    if not target.parent.is_dir():
        raise OutputNotWritable(
            f"cannot write {what} to {given!r}: folder {str(target.parent)!r} does not exist; create it first"
        )
    return target


def write_text_atomic(
    path: str | os.PathLike[str], text: str, *, what: str, example: str = "out.txt"
) -> Path:
    """Write *text* to *path* through a temp file in the same folder and ``os.replace``; return the path.

    Any OS error becomes :class:`~opskit.errors.OutputNotWritable` naming *path* as given and
    saying what to do; the temp file is removed and an existing file at *path* is left as it was.
    *what* names the content in the message ("the drift report"), *example* a file name
    to suggest when *path* is a directory.
    """
    target = check_writable(path, what=what, example=example)
    given = os.fspath(path)
    folder = target.parent
    tmp: str | None = None
    try:
        tmp = str(folder / f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
        # 0o666 minus the umask, like open(path, "w") (mkstemp would make it 0o600)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise OutputNotWritable(
            f"cannot write {what} to {given!r}: {_reason(exc)}; pass a path you can write to"
        ) from exc
    finally:
        if tmp is not None:  # no half-written file left behind
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return target


def _reason(exc: OSError) -> str:
    """The OS error without the file names it carries (they may be opskit's temp file)."""
    if exc.errno is not None:
        return f"{os.strerror(exc.errno)} ({errno.errorcode.get(exc.errno, exc.errno)})"
    return str(exc) or type(exc).__name__
