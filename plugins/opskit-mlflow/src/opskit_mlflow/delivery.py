"""Delivering the outbox: runs written while the MLflow server was unreachable, replayed in order."""

from __future__ import annotations

import socket
import time
from typing import Any

from mlflow.entities import Metric as MLflowMetric

from opskit.errors import RunNotFound
from opskit.serialize import from_dict
from opskit.tracker.sqlite.process import is_alive
from opskit_mlflow.outbox import is_unreachable
from opskit_mlflow.registry import ModelRegistry
from opskit_mlflow.writing import Buffer, RunWriter

__all__ = ["OutboxDelivery"]


class OutboxDelivery(RunWriter, ModelRegistry):
    """``sync``: replays each run kept in the outbox through the same writes as a live run."""

    def _deliver_quietly(self) -> None:
        """Deliver what earlier runs left in the outbox, if the server answers now."""
        if self.outbox is None or not self.outbox.pending():
            return
        try:
            self.sync()
        except Exception as exc:
            if not is_unreachable(exc):
                raise

    def sync(self) -> int:
        """Deliver every complete run in the outbox, oldest first; return how many were delivered.

        A run whose process died before it ended is delivered as KILLED. Progress is
        kept per operation, so an interrupted sync never sends anything twice.
        """
        if self.outbox is None:
            return 0
        delivered = 0
        with self._lock:
            for path in self.outbox.pending():
                ops = list(self.outbox.read(path))
                head = ops[0] if ops else {}
                complete = bool(ops) and ops[-1].get("op") == "end"
                if not complete and (
                    head.get("host") != socket.gethostname()
                    or is_alive(int(head.get("pid", 0)), None)
                ):
                    continue  # still being written by a live process
                if not complete:
                    ops.append(
                        {"op": "end", "status": "KILLED", "ended_at": time.time(), "run": None}
                    )
                progress = path.with_suffix(".done")
                done = int(progress.read_text() or "0") if progress.exists() else 0
                for index, op in enumerate(ops):
                    if index >= done:
                        self._replay(head.get("run_id", ""), op)
                        progress.write_text(str(index + 1))
                path.unlink()
                progress.unlink(missing_ok=True)
                delivered += 1
        return delivered

    def _replay(self, run_id: str, op: dict[str, Any]) -> None:
        kind = op["op"]
        if kind == "create":
            run = from_dict(op["run"])
            try:
                self._mlflow_id(run.id)  # created before the connection dropped
            except RunNotFound:
                self._create_mlflow_run(run)
        elif kind == "batch":
            buffer = Buffer({})
            buffer.new_params = dict(op["params"])
            buffer.tags = dict(op["tags"])
            buffer.metrics = [MLflowMetric(k, v, ts, step) for k, v, ts, step in op["metrics"]]
            self._send_batch(self._mlflow_id(run_id), buffer)
        elif kind == "register":  # after the run's writes, before its end: run, version, alias
            self._deliver_registration(run_id, op)
        elif kind == "end":
            run = from_dict(op["run"]) if op.get("run") else None
            self._finish(self._mlflow_id(run_id), run, op["status"], float(op["ended_at"]))
