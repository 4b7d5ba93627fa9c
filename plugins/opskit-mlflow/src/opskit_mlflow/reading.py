"""Reading runs: MLflow runs back as opskit ``Run`` records, searches, and runs whose process died."""

from __future__ import annotations

import math
import socket
import sys
import time
from typing import TYPE_CHECKING

from mlflow.entities import RunTag
from mlflow.exceptions import MlflowException

from opskit.errors import RunNotFound
from opskit.query import RunQuery
from opskit.records import Artifact, CodeInfo, DataInput, EnvInfo, Metric, Run
from opskit.serialize import from_plain
from opskit.tracker.sqlite.process import is_alive
from opskit_mlflow.connection import MLflowConnection, is_missing
from opskit_mlflow.encode import json_tags, read_json
from opskit_mlflow.keys import (
    DOC,
    ENDED,
    HOST,
    MODEL,
    PID,
    PID_START,
    RUN_ID,
    STARTED,
    USER,
    ms,
    user_tags,
)
from opskit_mlflow.registry import version_record
from opskit_mlflow.search import matches, mlflow_filter, order_runs, pushes_everything

if TYPE_CHECKING:
    from mlflow.entities import Run as MLflowRun

__all__ = ["RunReader"]


class RunReader(MLflowConnection):
    """``get_run``, ``search_runs``, ``metric_history`` and ``mark_stale_runs``."""

    def _record(self, found: MLflowRun, versions: bool = True) -> Run:
        tags = found.data.tags
        code = read_json(tags, DOC + "code")
        env = read_json(tags, DOC + "env")
        ended = tags.get(ENDED)
        model_version = None
        if versions and MODEL in tags:
            name, _, number = tags[MODEL].rpartition(":")
            try:
                found_version = self.client.get_model_version(name, number)
                model_version = version_record(found_version, self._strip(found_version.name))
            except MlflowException:
                model_version = None
        status = found.info.status
        return Run(
            id=tags.get(
                RUN_ID, found.info.run_id
            ),  # a run logged with MLflow itself keeps its MLflow id
            name=found.info.run_name or "",
            status=status if status in ("RUNNING", "FINISHED", "FAILED", "KILLED") else "RUNNING",
            experiment=self._experiment_name(found.info.experiment_id),
            started_at=float(tags.get(STARTED, found.info.start_time / 1000)),
            ended_at=float(ended)
            if ended
            else (found.info.end_time / 1000 if found.info.end_time else None),
            user=tags.get(USER),
            host=tags.get(HOST),
            params=read_json(tags, DOC + "params") or {},
            metrics=self._latest(found),
            tags=user_tags(tags),
            code=from_plain(CodeInfo, code) if code else None,
            env=from_plain(EnvInfo, env) if env else None,
            inputs=[from_plain(DataInput, d) for d in read_json(tags, DOC + "inputs") or []],
            artifacts=[from_plain(Artifact, a) for a in read_json(tags, DOC + "artifacts") or []],
            model_version=model_version,
            error=read_json(tags, DOC + "error"),
        )

    def _latest(self, found: MLflowRun) -> dict[str, float]:
        metrics = dict(found.data.metrics)
        infinite = read_json(found.data.tags, DOC + "infinite") or {}
        for key, value in metrics.items():
            if key in infinite and abs(value) == sys.float_info.max:
                history = self._history(found.info.run_id, key, infinite[key])
                metrics[key] = max(history, key=lambda m: (m.step, m.timestamp)).value
        return metrics

    def _history(
        self, mlflow_id: str, key: str, infinite: list[list[int]] | None = None
    ) -> list[Metric]:
        points = self.client.get_metric_history(mlflow_id, key)
        marked = {(step, ms) for step, ms in infinite or ()}
        out = []
        for p in points:
            value = p.value
            if abs(value) == sys.float_info.max and (p.step, p.timestamp) in marked:
                value = math.copysign(math.inf, value)
            out.append(Metric(p.key, value, p.step, p.timestamp / 1000))
        return sorted(out, key=lambda m: (m.step, m.timestamp))

    def get_run(self, run_id: str) -> Run:
        with self._lock:
            self.flush()
            mlflow_id = self._mlflow_id(run_id)
            try:
                found = self.client.get_run(mlflow_id)
            except MlflowException as exc:
                if is_missing(exc):
                    raise RunNotFound(
                        f"no run with id {run_id!r} in the MLflow server at {self.tracking_uri}"
                    ) from exc
                raise
            return self._record(found)

    def search_runs(self, query: RunQuery) -> list[Run]:
        with self._lock:
            self.flush()
            if query.experiment is not None:
                experiment_id = self._experiment_id(query.experiment, create=False)
                if experiment_id is None:
                    return []
                experiment_ids = [experiment_id]
            else:
                experiment_ids = self._run_experiments()
            if not experiment_ids:
                return []
            text = mlflow_filter(query)
            if pushes_everything(query):
                found = self.client.search_runs(
                    experiment_ids,
                    filter_string=text,
                    max_results=query.limit,
                    order_by=["attributes.start_time DESC"],
                )
                runs = [self._record(r) for r in found]
                return sorted(runs, key=lambda r: r.started_at, reverse=True)
            candidates = self._all(
                lambda token: self.client.search_runs(
                    experiment_ids, filter_string=text, max_results=1000, page_token=token
                )
            )
            runs = [self._record(r, versions=False) for r in candidates]
            runs = [r for r in runs if all(matches(r, c) for c in query.clauses)]
            chosen = order_runs(runs, query)[: query.limit]
            return [self.get_run(r.id) if MODEL in self._tags_of(r) else r for r in chosen]

    def _tags_of(self, run: Run) -> dict[str, str]:
        return dict(self.client.get_run(self._mlflow_id(run.id)).data.tags)

    def metric_history(self, run_id: str, key: str) -> list[Metric]:
        with self._lock:
            self.flush()
            mlflow_id = self._mlflow_id(run_id)
            infinite = read_json(self.client.get_run(mlflow_id).data.tags, DOC + "infinite") or {}
            return self._history(mlflow_id, key, infinite.get(key))

    def mark_stale_runs(self) -> list[str]:
        host = socket.gethostname()
        with self._lock:
            experiment_ids = self._run_experiments()
            if not experiment_ids:
                return []
            running = self.client.search_runs(
                experiment_ids,
                filter_string=f"attributes.status = 'RUNNING' and tags.`{HOST}` = '{host}'",
                max_results=1000,
            )
            dead = []
            for found in running:
                tags = found.data.tags
                if PID not in tags or tags.get(RUN_ID) in self._buffers:
                    continue
                start = int(tags[PID_START]) if PID_START in tags else None
                if not is_alive(int(tags[PID]), start):
                    dead.append((found, tags[PID]))
            now = time.time()
            for found, pid in dead:
                message = f"process {pid} on {host} ended without finishing the run"
                self.client.log_batch(
                    found.info.run_id,
                    tags=[
                        RunTag(ENDED, repr(now)),
                        *[RunTag(k, v) for k, v in json_tags(DOC + "error", message).items()],
                    ],
                )
                self.client.set_terminated(found.info.run_id, status="KILLED", end_time=ms(now))
            return [found.data.tags[RUN_ID] for found, _ in dead]
