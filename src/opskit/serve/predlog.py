"""The prediction log: sampled inputs and outputs, written to the store in background batches.

The request path only appends to an in-memory buffer; a daemon thread writes
each batch as one JSON-lines blob and indexes it with a tracker state
document (kind ``"predictions"``), so monitoring can read it later.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import deque
from typing import Any

__all__ = ["STATE_KIND", "PredictionLog", "read_predictions"]

STATE_KIND = "predictions"


class PredictionLog:
    """Buffer prediction records and flush them from a background thread."""

    def __init__(
        self,
        deployment: str,
        *,
        sample: float = 1.0,
        interval: float = 1.0,
        max_records: int = 10_000,
    ) -> None:
        self.deployment = deployment
        self.sample = min(max(float(sample), 0.0), 1.0)
        self.interval = interval
        self._buffer: deque[dict[str, Any]] = deque(maxlen=max_records)
        self._stop = threading.Event()
        self._seq = 0
        self._thread: threading.Thread | None = None

    def record(
        self,
        variant: str,
        role: str,
        columns: tuple[str, ...] | None,
        rows: list[list[Any]],
        predictions: list[Any],
    ) -> None:
        """Keep one request's inputs and outputs (sampled). Cheap: no I/O here."""
        if self.sample <= 0 or (self.sample < 1 and random.random() >= self.sample):
            return
        self._buffer.append(
            {
                "ts": time.time(),
                "variant": variant,
                "role": role,
                "columns": columns,
                "rows": rows,
                "predictions": predictions,
            }
        )

    def start(self) -> None:
        if self.sample > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="opskit-predlog", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()
        self.flush()

    def flush(self) -> int:
        """Write everything buffered as one blob; returns the number of records written."""
        records = []
        while self._buffer:
            records.append(self._buffer.popleft())
        if not records:
            return 0
        from opskit.runtime import get_storage, get_tracker

        data = "".join(json.dumps(r, default=str) + "\n" for r in records).encode()
        try:
            blob = get_storage().put_bytes(data)
            self._seq += 1
            key = f"{self.deployment}/{time.time():.6f}-{os.getpid()}-{self._seq}"
            get_tracker().put_state(
                STATE_KIND,
                key,
                {
                    "deployment": self.deployment,
                    "digest": blob.digest,
                    "records": len(records),
                    "written_at": time.time(),
                },
            )
        except Exception as exc:  # the log must never take the server down
            print(
                f"opskit: prediction log flush failed ({type(exc).__name__}: {exc}); dropped {len(records)} records",
                flush=True,
            )
            return 0
        return len(records)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        else:
            self.flush()


def read_predictions(deployment: str) -> list[dict[str, Any]]:
    """Every logged record of *deployment*, oldest batch first."""
    from opskit.runtime import get_storage, get_tracker

    index = get_tracker().list_state(STATE_KIND)
    entries = sorted((k, v) for k, v in index.items() if v.get("deployment") == deployment)
    out: list[dict[str, Any]] = []
    storage = get_storage()
    for _, entry in entries:
        for line in storage.get_bytes(entry["digest"]).decode().splitlines():
            out.append(json.loads(line))
    return out
