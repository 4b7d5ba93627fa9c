"""The outbox: what could not reach the MLflow server, kept on disk in order until ``opskit sync``.

One JSON-lines file per run, named by the time the run went offline, so runs
are delivered in the order they happened. Each line is one operation:
``create`` (the run record), ``batch`` (params, tags and metric points not yet
sent) or ``end`` (final status and the run's files). A file is appended with
one ``write`` per line and removed only after every line was delivered.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["Outbox", "is_unreachable"]

_UNREACHABLE = (
    "Max retries exceeded",
    "Connection refused",
    "ConnectionError",
    "Failed to establish",
    "RemoteDisconnected",
)


def is_unreachable(error: BaseException) -> bool:
    """Did this error come from a server that cannot be reached (rather than a refused request)?"""
    import requests

    if isinstance(error, requests.exceptions.ConnectionError | ConnectionError):
        return True
    text = str(error)
    return any(marker in text for marker in _UNREACHABLE)


class Outbox:
    """A folder of per-run operation logs."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._files: dict[str, Path] = {}

    def file_for(self, run_id: str) -> Path:
        found = self._files.get(run_id)
        if found is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            found = self.folder / f"{time.time_ns():020d}-{run_id}.jsonl"
            self._files[run_id] = found
        return found

    def holds(self, run_id: str) -> bool:
        """Is this run being written to the outbox (so its later writes must follow it there)?"""
        return run_id in self._files

    def append(self, run_id: str, op: dict[str, Any]) -> None:
        line = json.dumps(op, separators=(",", ":"), allow_nan=True) + "\n"
        with self.file_for(run_id).open("a", encoding="utf-8") as out:
            out.write(line)

    def release(self, run_id: str) -> None:
        """The run ended: its file is complete and may be delivered."""
        self._files.pop(run_id, None)

    def pending(self) -> list[Path]:
        """Complete files waiting for delivery, oldest first (runs still being written are skipped)."""
        if not self.folder.is_dir():
            return []
        busy = set(self._files.values())
        return sorted(p for p in self.folder.glob("*.jsonl") if p not in busy)

    def files(self) -> list[Path]:
        """Every file in the outbox, complete or still being written, oldest first."""
        return sorted(self.folder.glob("*.jsonl")) if self.folder.is_dir() else []

    @staticmethod
    def read(path: Path) -> Iterator[dict[str, Any]]:
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    yield json.loads(line)
