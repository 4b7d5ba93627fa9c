"""Who and where: user, host, process, cached per process."""

from __future__ import annotations

import functools
import getpass
import os
import socket
import uuid

__all__ = ["host", "new_run_id", "pid", "user"]


def user() -> str | None:
    """Who is acting: ``$OPSKIT_USER`` when set, else the OS user of the process (None if unknown).

    Recorded on runs, registry and audit events. On the embedded store this names the
    actor; it is not authentication (see docs/governance.md).
    """
    from opskit.config import env_text

    return env_text("OPSKIT_USER") or _os_user()


@functools.cache
def _os_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


@functools.cache
def host() -> str:
    return socket.gethostname()


def pid() -> int:
    return os.getpid()


def new_run_id() -> str:
    return uuid.uuid4().hex
