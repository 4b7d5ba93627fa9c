"""Who and where: user, host, process, cached per process."""

from __future__ import annotations

import functools
import getpass
import os
import socket
import uuid

__all__ = ["host", "new_run_id", "pid", "user"]


@functools.cache
def user() -> str | None:
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
