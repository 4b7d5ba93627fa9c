"""A transfer progress bar that appears only for slow transfers on a terminal.

rich is imported the first time a bar is actually shown, never before, so a
transfer that ends within :data:`SHOW_AFTER` seconds (or runs without a
terminal, as in CI and notebooks' captured output) costs one clock read per
chunk.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any

from opskit.config import env_flag

__all__ = ["SHOW_AFTER", "Progress"]

#: Seconds a transfer must run before its bar appears.
SHOW_AFTER = 2.0


def _enabled() -> bool:
    if not env_flag("OPSKIT_PROGRESS", True):
        return False
    stream = sys.stderr
    return stream is not None and hasattr(stream, "isatty") and stream.isatty()


class Progress:
    """Counts transferred bytes; draws a rich bar once the transfer is slow (context manager)."""

    def __init__(self, description: str, total: int | None) -> None:
        self.description = description
        self.total = total
        self.done = 0
        self._started = time.monotonic()
        self._enabled = _enabled()
        self._bar: Any = None
        self._task: Any = None

    def advance(self, nbytes: int) -> None:
        """Record *nbytes* more transferred."""
        self.done += nbytes
        if self._bar is None:
            if not self._enabled or time.monotonic() - self._started < SHOW_AFTER:
                return
            self._show()
            if self._bar is None:
                return
        self._bar.update(self._task, completed=self.done)

    def _show(self) -> None:
        try:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )
            from rich.progress import Progress as RichProgress
        except ImportError:  # rich is optional (it comes with the s3 extra): no bar then
            self._enabled = False
            return

        self._bar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(file=sys.stderr),
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task(self.description, total=self.total, completed=self.done)

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
