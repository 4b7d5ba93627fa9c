"""Writing runs: params, metrics and tags buffered per run and sent with ``log_batch``.

What MLflow has no field for travels in ``opskit.*`` tags (see ``encode``); code,
environment, data fingerprints and logged files are uploaded as artifacts when the
run ends. While the server is unreachable, writes go to the outbox instead.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlflow.entities import Metric as MLflowMetric
from mlflow.entities import Param, RunTag

from opskit.records import Artifact, DataInput, Metric, Run, RunStatus
from opskit.serialize import to_dict, to_plain
from opskit.tracker.sqlite.process import own_start, process_start
from opskit_mlflow.connection import MLflowConnection
from opskit_mlflow.encode import display_param, json_tags
from opskit_mlflow.keys import (
    BATCH_ITEMS,
    BATCH_METRICS,
    CODE_DIGEST,
    DATA,
    DOC,
    ENDED,
    FLUSH_POINTS,
    FLUSH_SECONDS,
    GIT_COMMIT,
    HOST,
    PID,
    PID_START,
    RUN_ID,
    STARTED,
    USER,
    input_key,
    ms,
)
from opskit_mlflow.outbox import is_unreachable

__all__ = ["Buffer", "RunWriter"]


class Buffer:
    """Writes waiting for ``log_batch``, for one run."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.params: dict[str, Any] = dict(params)
        self.sent_params: dict[str, str] = {}
        self.params_dirty = False
        self.new_params: dict[str, str] = {}
        self.tags: dict[str, str] = {}
        self.metrics: list[MLflowMetric] = []
        # MLflow stores an infinite metric as the largest finite double: opskit notes which
        # points were infinite (key -> [[step, timestamp_ms], ...]) to give the infinity back.
        self.infinite: dict[str, list[list[int]]] = {}
        self.infinite_dirty = False


class RunWriter(MLflowConnection):
    """Creating, logging to and ending runs."""

    def _run_tags(self, run: Run, pid: int | None, started: int | None) -> dict[str, str]:
        tags: dict[str, str] = {RUN_ID: run.id, STARTED: repr(run.started_at), **run.tags}
        if run.user:
            tags[USER] = run.user
            tags["mlflow.user"] = run.user
        if run.host:
            tags[HOST] = run.host
        if pid is not None:
            tags[PID] = str(pid)
        if started is not None:
            tags[PID_START] = str(started)
        if run.code is not None:
            if run.code.file_digest:
                tags[CODE_DIGEST] = run.code.file_digest
            if run.code.git_commit:
                tags[GIT_COMMIT] = run.code.git_commit
                tags["mlflow.source.git.commit"] = run.code.git_commit
            if run.code.source_file:
                tags["mlflow.source.name"] = run.code.source_file
            tags.update(json_tags(DOC + "code", to_plain(run.code)))
        if run.env is not None:
            tags.update(json_tags(DOC + "env", to_plain(run.env)))
        tags.update(self._input_tags(run.inputs))
        tags.update(json_tags(DOC + "params", run.params))
        return tags

    def _create_mlflow_run(self, run: Run) -> str:
        experiment_id = self._experiment_id(run.experiment)
        assert experiment_id is not None
        created = self.client.create_run(
            experiment_id, start_time=ms(run.started_at), tags={RUN_ID: run.id}, run_name=run.name
        )
        mlflow_id = str(created.info.run_id)
        self._ids[run.id] = mlflow_id
        return mlflow_id

    def create_run(self, run: Run, *, pid: int | None = None) -> None:
        started = own_start() if pid == os.getpid() else (process_start(pid) if pid else None)
        with self._lock:
            self._deliver_quietly()
            self._runs[run.id] = run
            buffer = Buffer(run.params)
            buffer.new_params = {k: display_param(v) for k, v in run.params.items()}
            buffer.tags = self._run_tags(run, pid, started)
            self._buffers[run.id] = buffer
            try:
                self._create_mlflow_run(run)
            except Exception as exc:
                if self.outbox is None or not is_unreachable(exc):
                    raise
                self._go_offline(run.id, exc)
                self.outbox.append(run.id, {"op": "create", "run": to_dict(run)})
            self._flush_run(
                run.id
            )  # visible to other processes when this returns (or kept in the outbox)

    @staticmethod
    def _input_tags(inputs: Sequence[DataInput]) -> dict[str, str]:
        tags = {f"{DATA}{data.name}": data.digest for data in inputs}
        tags.update({input_key(data.digest): data.name for data in inputs})
        if inputs:
            tags.update(json_tags(DOC + "inputs", [to_plain(d) for d in inputs]))
        return tags

    def _buffer(self, run_id: str) -> Buffer:
        buffer = self._buffers.get(run_id)
        if buffer is None:
            self._mlflow_id(run_id)  # raises RunNotFound
            previous = self.get_run(run_id).params
            buffer = self._buffers[run_id] = Buffer(previous)
            buffer.sent_params = {k: display_param(v) for k, v in previous.items()}
        return buffer

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        with self._lock:
            buffer = self._buffer(run_id)
            for key, value in params.items():
                buffer.params[key] = value
                shown = display_param(value)
                # MLflow params are write-once: a changed value lives only in the typed document.
                if key not in buffer.sent_params:
                    buffer.new_params[key] = shown
            buffer.params_dirty = True
            self._maybe_flush()

    def log_metrics(self, run_id: str, metrics: Sequence[Metric]) -> None:
        with self._lock:
            buffer = self._buffer(run_id)
            for m in metrics:
                buffer.metrics.append(MLflowMetric(m.key, m.value, ms(m.timestamp), m.step))
                if math.isinf(m.value):
                    buffer.infinite.setdefault(m.key, []).append([m.step, ms(m.timestamp)])
                    buffer.infinite_dirty = True
            self._points += len(metrics)
            self._maybe_flush()

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        with self._lock:
            self._buffer(run_id).tags.update(tags)
            self._maybe_flush()

    def log_inputs(self, run_id: str, inputs: Sequence[DataInput]) -> None:
        with self._lock:
            known = (
                list(self._runs[run_id].inputs)
                if run_id in self._runs
                else list(self.get_run(run_id).inputs)
            )
            known.extend(inputs)
            self._buffer(run_id).tags.update(self._input_tags(known))
            if run_id in self._runs:
                self._runs[run_id] = _evolve(self._runs[run_id], inputs=tuple(known))

    def log_artifacts(self, run_id: str, artifacts: Sequence[Artifact]) -> None:
        with self._lock:
            known = (
                list(self._runs[run_id].artifacts)
                if run_id in self._runs
                else list(self.get_run(run_id).artifacts)
            )
            known.extend(artifacts)
            self._buffer(run_id).tags.update(
                json_tags(DOC + "artifacts", [to_plain(a) for a in known])
            )
            if run_id in self._runs:
                self._runs[run_id] = _evolve(self._runs[run_id], artifacts=tuple(known))

    def _maybe_flush(self) -> None:
        if self._points >= FLUSH_POINTS or time.monotonic() - self._last_flush >= FLUSH_SECONDS:
            self.flush()

    def _flush_run(self, run_id: str) -> None:
        buffer = self._buffers.get(run_id)
        if buffer is None:
            return
        if buffer.params_dirty:
            buffer.tags.update(json_tags(DOC + "params", buffer.params))
            buffer.params_dirty = False
        if buffer.infinite_dirty:
            buffer.tags.update(json_tags(DOC + "infinite", buffer.infinite))
            buffer.infinite_dirty = False
        if not (buffer.new_params or buffer.tags or buffer.metrics):
            return
        if self.outbox is not None and self.outbox.holds(run_id):
            self._buffer_to_outbox(run_id, buffer)
            return
        try:
            mlflow_id = self._ids[run_id] if run_id in self._ids else self._mlflow_id(run_id)
            self._send_batch(mlflow_id, buffer)
        except Exception as exc:
            if self.outbox is None or not is_unreachable(exc):
                raise
            self._go_offline(run_id, exc)
            self._buffer_to_outbox(run_id, buffer)

    def _send_batch(self, mlflow_id: str, buffer: Buffer) -> None:
        """Send the buffer with ``log_batch``, dropping each chunk from it once the server took it."""
        while buffer.new_params or buffer.tags or buffer.metrics:
            params = list(buffer.new_params.items())[:BATCH_ITEMS]
            tags = list(buffer.tags.items())[:BATCH_ITEMS]
            metrics = buffer.metrics[:BATCH_METRICS]
            self.client.log_batch(
                mlflow_id,
                metrics=metrics,
                params=[Param(k, v) for k, v in params],
                tags=[RunTag(k, v) for k, v in tags],
                synchronous=True,
            )
            for key, value in params:
                buffer.sent_params[key] = (
                    buffer.new_params.pop(key) if key in buffer.new_params else value
                )
            for key, _ in tags:
                buffer.tags.pop(key, None)
            del buffer.metrics[: len(metrics)]

    def _buffer_to_outbox(self, run_id: str, buffer: Buffer) -> None:
        assert self.outbox is not None
        self.outbox.append(
            run_id,
            {
                "op": "batch",
                "params": buffer.new_params,
                "tags": buffer.tags,
                "metrics": [[m.key, m.value, m.timestamp, m.step] for m in buffer.metrics],
            },
        )
        buffer.sent_params.update(buffer.new_params)
        buffer.new_params, buffer.tags, buffer.metrics = {}, {}, []

    def flush(self) -> None:
        with self._lock:
            for run_id in list(self._buffers):
                self._flush_run(run_id)
            self._points = 0
            self._last_flush = time.monotonic()

    def end_run(
        self, run_id: str, *, status: RunStatus, ended_at: float, error: str | None = None
    ) -> None:
        with self._lock:
            buffer = self._buffer(run_id)
            buffer.tags[ENDED] = repr(ended_at)
            if error is not None:
                buffer.tags.update(json_tags(DOC + "error", error))
            self._flush_run(run_id)
            run = self._runs.pop(run_id, None)
            self._buffers.pop(run_id, None)
            end = {
                "op": "end",
                "status": status,
                "ended_at": ended_at,
                "run": to_dict(run) if run else None,
            }
            if self.outbox is not None and self.outbox.holds(run_id):
                self.outbox.append(run_id, end)
                self.outbox.release(run_id)
                return
            try:
                self._finish(self._ids[run_id], run, status, ended_at)
            except Exception as exc:
                if self.outbox is None or not is_unreachable(exc):
                    raise
                self._go_offline(run_id, exc)
                self.outbox.append(run_id, end)
                self.outbox.release(run_id)

    def _finish(self, mlflow_id: str, run: Run | None, status: str, ended_at: float) -> None:
        if run is not None:
            self._upload_run_files(mlflow_id, run)
        self.client.set_terminated(mlflow_id, status=status, end_time=ms(ended_at))

    def _upload_run_files(self, mlflow_id: str, run: Run) -> None:
        """Code snapshot, environment, data fingerprints and logged files, browsable in MLflow's UI."""
        with tempfile.TemporaryDirectory(prefix="opskit-mlflow-") as tmp:
            folder = Path(tmp)
            if run.code is not None and run.code.source:
                (folder / "code.py").write_text(run.code.source)
            if run.code is not None and run.code.git_diff:
                (folder / "git.diff").write_text(run.code.git_diff)
            if run.env is not None:
                (folder / "environment.json").write_text(
                    json.dumps(to_plain(run.env), indent=1, sort_keys=True)
                )
            if run.inputs:
                (folder / "inputs.json").write_text(
                    json.dumps([to_plain(d) for d in run.inputs], indent=1)
                )
            if any(folder.iterdir()):
                self.client.log_artifacts(mlflow_id, tmp, "opskit")
        if run.artifacts:
            from opskit.runtime import get_storage

            storage = get_storage()
            with tempfile.TemporaryDirectory(prefix="opskit-mlflow-") as tmp:
                for artifact in run.artifacts:
                    target = Path(tmp) / artifact.name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(storage.get_bytes(artifact.digest))
                self.client.log_artifacts(mlflow_id, tmp, "artifacts")


def _evolve(run: Run, **changes: Any) -> Run:
    import attrs

    return attrs.evolve(run, **changes)
