"""Is the process that runs a run still alive? (pid + start time, so a reused pid is not mistaken.)"""

from __future__ import annotations

import functools
import os

__all__ = ["is_alive", "process_start"]


def process_start(pid: int) -> int | None:
    """The start time of *pid* in clock ticks since boot (Linux), or None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(b")") + 2 :].split()
    try:
        if fields[0] == b"Z":  # a zombie has ended; it is only waiting to be reaped
            return -1
        return int(fields[19])
    except (IndexError, ValueError):
        return None


@functools.cache
def own_start() -> int | None:
    return process_start(os.getpid())


def is_alive(pid: int, started: int | None) -> bool:
    """True unless we know the process *pid* (started at *started*) has ended."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    now = process_start(pid)
    if now == -1:
        return False
    return not (started is not None and now is not None and now != started)


if hasattr(os, "register_at_fork"):  # a forked child is another process, started later
    os.register_at_fork(after_in_child=own_start.cache_clear)
