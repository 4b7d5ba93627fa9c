"""Nothing a ``log_*`` call accepted is lost, whatever ends the process short of SIGKILL.

Three mechanisms, all installed lazily by the first run (``import opskit`` installs nothing):

- **A background flusher.** The first buffered point of a tracker wakes a daemon
  thread that writes the buffers of every such tracker about a second later, so
  points become visible to other processes while the writer is still alive, with
  no later ``log_*`` call needed.
- **The end of the process.** An ``atexit`` handler stops the flusher, writes
  what is buffered and ends every run this process began and did not end, with an
  honest status: ``FINISHED`` after a normal exit or ``sys.exit(0)``, ``FAILED``
  after an uncaught exception or ``sys.exit(n)`` with ``n != 0``, ``KILLED``
  after ``KeyboardInterrupt``. SIGTERM and SIGHUP (and SIGINT where Python does
  not turn it into ``KeyboardInterrupt``) write the buffers and end the open
  runs as ``KILLED``, then the process dies of the signal as it would have; a
  handler installed before opskit's is called instead (the buffers are written
  first, and runs end at exit).
- **Forked children.** After ``os.fork`` (``multiprocessing`` with the ``fork``
  start method), a run begun in the parent is still the parent's: the child
  may log to it but not end it. A child writes every point at once, through
  its own connection, so ``os._exit`` or a signal loses nothing. The child gets
  the signal handlers back that opskit replaced (a worker blocked on a lock can
  miss a signal handled in Python, and ``Pool.terminate()`` would then wait for
  it forever); runs it begins and leaves open are ended at its exit (also by a
  ``multiprocessing`` worker, through its finalizers).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

from opskit.errors import OpskitWarning

if TYPE_CHECKING:
    from opskit.records import RunStatus
    from opskit.tracker.base import Tracker
    from opskit.tracking.context import ActiveRun

__all__ = ["FLUSH_SECONDS", "accepted", "closed", "exit_status", "flush_now", "opened"]

#: How long a buffered point waits before the background flusher writes it.
FLUSH_SECONDS = 1.0
#: Signals after which open runs are ended as KILLED (SIGINT only where it does not raise KeyboardInterrupt).
SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, name)
)

_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None

_state = threading.RLock()  # guards the module state below (held only briefly)
_flushing = threading.RLock()  # held while trackers are written; a fork waits for it
_pid = os.getpid()
_open: dict[str, ActiveRun] = {}  # runs this process began and has not ended, in the order begun
_dirty: dict[int, Tracker] = {}  # trackers holding buffered writes, by id
_wake = threading.Event()
_stop = threading.Event()
_thread: threading.Thread | None = None
_atexit_installed = False
_finalizer_pid: int | None = None
_previous: dict[int, _Handler] = {}
_exit_code: list[object] = []  # the code of the last sys.exit() call, if any
_real_exit: Callable[..., Any] | None = None
_reported: set[str] = set()
_exiting = False  # at exit or dying of a signal: no new thread, every write at once
_forked = (
    False  # a forked child: every write at once (it may die of a signal with no handler of ours)
)


def exit_status(error: BaseException) -> RunStatus:
    """The honest status of a run that *error* ended."""
    if isinstance(error, SystemExit):
        return "FINISHED" if error.code in (None, 0) else "FAILED"
    return "FAILED" if isinstance(error, Exception) else "KILLED"


# -- the flusher ------------------------------------------------------------------------------------


def accepted(run: ActiveRun) -> None:
    """A ``log_*`` call put writes into *run*'s tracker: have them written soon (at once in a forked child)."""
    tracker = run.tracker
    if _forked or run.pid != _pid or _exiting:  # in a forked child (or at the end): write at once
        with _flushing:
            tracker.flush()
        return
    if id(tracker) in _dirty:
        return
    with _state:
        _dirty[id(tracker)] = tracker
        _start_flusher()
        _wake.set()


def _start_flusher() -> None:
    global _thread
    if _thread is None or not _thread.is_alive():
        _stop.clear()
        _thread = threading.Thread(target=_flush_loop, name="opskit-flusher", daemon=True)
        _thread.start()


def _flush_loop() -> None:
    while True:
        _wake.wait()
        _stop.wait(FLUSH_SECONDS)  # gather about a second of points (returns at once when stopping)
        flush_now()
        if _stop.is_set():
            return


def flush_now(wait: float = -1) -> None:
    """Write the buffers of every tracker that holds some; report (never raise) a failure.

    *wait* bounds the wait for a flush in progress in another thread (a signal handler
    must not wait forever for a thread that waits for the interrupted one).
    """
    with _state:
        trackers = list(_dirty.values())
        _dirty.clear()
        _wake.clear()
    got = _flushing.acquire(timeout=wait)
    try:
        for tracker in trackers:
            try:
                tracker.flush()
            except (
                Exception
            ) as exc:  # kept in the tracker's buffers: the next flush or the run's end retries
                with _state:
                    _dirty[id(tracker)] = tracker
                _report(
                    f"writing buffered params/metrics/tags to the {tracker.name} tracker failed "
                    f"({type(exc).__name__}: {exc}); they stay buffered and are retried"
                )
    finally:
        if got:
            _flushing.release()


def _report(message: str) -> None:
    if message not in _reported:
        _reported.add(message)
        warnings.warn(message, OpskitWarning, stacklevel=2)


def _stop_flusher() -> None:
    global _thread
    thread = _thread
    _stop.set()
    _wake.set()
    if thread is not None and thread is not threading.current_thread():
        thread.join(timeout=30)
    _thread = None


# -- runs begun and ended ---------------------------------------------------------------------------


def opened(run: ActiveRun) -> None:
    """*run* began in this process: end it honestly if the process ends first."""
    global _atexit_installed, _finalizer_pid
    with _state:
        _open[run.id] = run
        if not _atexit_installed:
            atexit.register(_at_exit)
            _wrap_sys_exit()
            _atexit_installed = True
        util = sys.modules.get("multiprocessing.util")
        if util is not None and _finalizer_pid != _pid:
            # A multiprocessing worker leaves through os._exit, past atexit, after running the
            # finalizers of its own process (those of its parent are cleared when it starts).
            util.Finalize(None, _at_exit, exitpriority=100)
            _finalizer_pid = _pid
    _install_signal_handlers()


def closed(run: ActiveRun) -> None:
    with _state:
        _open.pop(run.id, None)


def _end_open_runs(status: RunStatus, error: str | None) -> None:
    with _state:
        runs = list(_open.values())
    for run in reversed(runs):  # children before their parents
        try:
            run.end(status, reason=error)
        except Exception as exc:
            print(
                f"opskit: could not end run {run.id} ({type(exc).__name__}: {exc})",
                file=sys.stderr,
                flush=True,
            )


def _at_exit() -> None:
    global _exiting
    _exiting = True
    _stop_flusher()
    flush_now()
    if not _open:
        return
    last = None if _interactive() else getattr(sys, "last_value", None)
    if isinstance(last, BaseException):
        text = "".join(traceback.format_exception(type(last), last, last.__traceback__))
        _end_open_runs(exit_status(last), f"the process ended with an uncaught exception:\n{text}")
    elif _exit_code and _exit_code[-1] not in (None, 0):
        _end_open_runs(
            "FAILED", f"the process called sys.exit({_exit_code[-1]!r}) before the run ended"
        )
    else:
        _end_open_runs("FINISHED", None)


def _interactive() -> bool:
    """In IPython/Jupyter, ``sys.last_value`` is the last error any cell showed, not why the process ends."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    return callable(get) and get() is not None


def _wrap_sys_exit() -> None:
    """Remember the code given to ``sys.exit`` (atexit handlers cannot see it otherwise)."""
    global _real_exit
    if _real_exit is not None:
        return
    real = sys.exit
    _real_exit = real

    def exit(status: Any = None, /) -> Any:
        _exit_code.append(status)
        return real(status)

    exit.__doc__ = real.__doc__
    exit.__wrapped__ = real  # type: ignore[attr-defined]
    sys.exit = exit


# -- signals ----------------------------------------------------------------------------------------


def _install_signal_handlers() -> None:
    if _forked or threading.current_thread() is not threading.main_thread():
        return  # only the main thread may install handlers (the next run begun there does); never in a child
    for sig in SIGNALS:
        if sig in _previous:
            continue
        current = signal.getsignal(sig)
        if current in (signal.SIG_IGN, signal.default_int_handler) or current is None:
            continue  # ignored, or a Python exception (KeyboardInterrupt) that unwinds the runs itself
        try:
            signal.signal(sig, _on_signal)
        except (ValueError, OSError):
            continue
        _previous[sig] = current


def _on_signal(sig: int, frame: FrameType | None) -> None:
    global _exiting
    previous = _previous.get(sig, signal.SIG_DFL)
    if callable(
        previous
    ):  # the program handles this signal itself: write the buffers, let it decide
        flush_now(wait=5.0)
        previous(sig, frame)
        return
    _exiting = True
    flush_now(wait=5.0)
    _end_open_runs("KILLED", f"the process received {signal.Signals(sig).name}")
    signal.signal(sig, signal.SIG_DFL)
    os.kill(os.getpid(), sig)  # die of the signal, as without opskit


# -- fork ---------------------------------------------------------------------------------------------


_mask: list[set[int | signal.Signals]] = []


def _before_fork() -> None:
    _state.acquire()
    _flushing.acquire()
    if _previous and not _forked and hasattr(signal, "pthread_sigmask"):
        # A signal that reaches the child before its handlers are given back would be taken
        # by opskit's Python handler and then dropped by Python's reset of signal state in
        # the child: keep such signals pending until then (multiprocessing forks replacement
        # workers that it terminates right away).
        _mask.append(signal.pthread_sigmask(signal.SIG_BLOCK, list(_previous)))


def _restore_mask() -> None:
    if _mask:
        signal.pthread_sigmask(signal.SIG_SETMASK, _mask.pop())


def _after_fork_in_parent() -> None:
    _restore_mask()
    _flushing.release()
    _state.release()


def _after_fork_in_child() -> None:
    global _state, _flushing, _pid, _thread, _wake, _stop, _forked
    _forked = True
    # Give the signals back to what handled them before opskit: a worker blocked on a lock
    # whose SIGTERM handler is Python code can miss the signal (multiprocessing's
    # Pool.terminate() then waits forever). Nothing waits in a child's buffers anyway.
    for sig, previous in _previous.items():
        if signal.getsignal(sig) is _on_signal:
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(sig, previous)
    _state, _flushing = threading.RLock(), threading.RLock()
    _wake, _stop = threading.Event(), threading.Event()
    _pid = os.getpid()
    _thread = None
    _open.clear()  # the parent's runs: the parent ends them
    _dirty.clear()
    _exit_code.clear()
    _restore_mask()  # handlers given back: a signal sent meanwhile acts now, as without opskit


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )
