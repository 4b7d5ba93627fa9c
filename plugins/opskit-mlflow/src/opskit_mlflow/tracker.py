"""``MLflowTracker``: opskit runs and the model registry in an MLflow tracking server.

One opskit run is one MLflow run in the experiment of the same name. Params,
metrics and tags are buffered and sent with ``log_batch``; what MLflow has no
field for (typed params, code, environment, data fingerprints, artifact
digests, the error) travels in ``opskit.*`` tags (see ``encode``) and as
artifacts under ``opskit/``. Model versions are MLflow model versions whose
tags hold opskit's digest, flavor, signature and metadata; aliases are MLflow
aliases, and their history is kept as registered-model tags. State documents
are runs of the experiment ``opskit.state``. With a *namespace*, every
experiment and registered model name gets the prefix ``<namespace>.``, so
several projects (or test sessions) share one server without meeting. See
docs/backends/mlflow.md.
"""

from __future__ import annotations

import json
import math
import os
import socket
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflow.entities import Metric as MLflowMetric
from mlflow.entities import Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from opskit.errors import BackendUnavailable, ModelNotFound, OpskitWarning, RunNotFound
from opskit.names import ModelRef
from opskit.query import RunQuery
from opskit.records import (
    AliasChange,
    Artifact,
    CodeInfo,
    DataInput,
    EnvInfo,
    Metric,
    Model,
    ModelVersion,
    Run,
    RunStatus,
    Schema,
)
from opskit.serialize import from_dict, from_plain, to_dict, to_plain
from opskit.tracker.sqlite.process import is_alive, own_start, process_start
from opskit_mlflow.encode import display_param, json_tags, read_json
from opskit_mlflow.outbox import Outbox, is_unreachable
from opskit_mlflow.search import matches, mlflow_filter, order_runs, pushes_everything

if TYPE_CHECKING:
    from mlflow.entities import Run as MLflowRun
    from mlflow.entities.model_registry import ModelVersion as MLflowModelVersion

    from opskit.config import Config

__all__ = ["STATE_EXPERIMENT", "MLflowTracker"]

STATE_EXPERIMENT = "opskit.state"
RUN_ID, HOST, PID, PID_START = "opskit.run_id", "opskit.host", "opskit.pid", "opskit.pid_start"
STARTED, ENDED, USER, MODEL = "opskit.started_at", "opskit.ended_at", "opskit.user", "opskit.model_version"
CODE_DIGEST, GIT_COMMIT, DATA = "opskit.code_digest", "opskit.git_commit", "opskit.data."
DOC = "opskit.json."
HISTORY = "opskit.alias_history."
_INTERNAL = {RUN_ID, HOST, PID, PID_START, STARTED, ENDED, USER, MODEL, CODE_DIGEST, GIT_COMMIT}
_BATCH_METRICS, _BATCH_ITEMS = 1000, 100
FLUSH_POINTS, FLUSH_SECONDS = 1000, 1.0


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _code(error: MlflowException) -> str:
    return str(getattr(error, "error_code", ""))


def _missing(error: MlflowException) -> bool:
    return _code(error) == "RESOURCE_DOES_NOT_EXIST" or "not found" in str(error).lower()


def user_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """The tags a user set (opskit's and MLflow's own bookkeeping tags left out)."""
    return {
        k: v for k, v in tags.items()
        if not (k in _INTERNAL or k.startswith(("mlflow.", DOC, DATA)))
    }


class _Buffer:
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


class MLflowTracker:
    """The ``mlflow`` tracker: talks to one MLflow tracking server through ``MlflowClient``."""

    name = "mlflow"

    def __init__(
        self, tracking_uri: str | None = None, *, namespace: str | None = None, outbox: Path | None = None
    ) -> None:
        self.tracking_uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
        if not self.tracking_uri:
            raise BackendUnavailable(
                "the mlflow tracker needs a tracking server: set MLFLOW_TRACKING_URI (e.g. "
                "http://mlflow.internal:5000) or tracker_options={'tracking_uri': ...}"
            )
        # MLflow prints (and fetches the run again for) a "View run" link at every run end;
        # opskit ends runs itself, so keep stdout quiet unless the user asked for the links.
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
        # MLflow retries an unreachable server 7 times with exponential backoff (minutes); opskit
        # has the outbox, so it gives up after a few seconds unless the user chose otherwise.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
        self.namespace = namespace or ""
        self._ns = f"{namespace}." if namespace else ""
        self.outbox = Outbox(outbox) if outbox is not None else None
        self.client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        self._lock = threading.RLock()
        self._ids: dict[str, str] = {}  # opskit run id -> MLflow run id
        self._runs: dict[str, Run] = {}  # runs this process created (code/env/inputs for end_run)
        self._buffers: dict[str, _Buffer] = {}
        self._experiments: dict[str, str] = {}
        self._experiment_names: dict[str, str] = {}
        self._points = 0
        self._last_flush = time.monotonic()

    @classmethod
    def from_config(cls, config: Config) -> MLflowTracker:
        uri = config.tracker_options.get("tracking_uri")
        namespace = config.tracker_options.get("namespace") or os.environ.get("OPSKIT_MLFLOW_NAMESPACE")
        return cls(
            str(uri) if uri else None,
            namespace=str(namespace) if namespace else None,
            outbox=config.home / "mlflow-outbox",
        )

    def _m(self, name: str) -> str:
        """The MLflow name of an opskit model or experiment (namespace prefix added)."""
        return self._ns + name

    def _strip(self, name: str) -> str:
        return name[len(self._ns) :] if self._ns and name.startswith(self._ns) else name

    # -- plumbing ----------------------------------------------------------------------------------

    def _unavailable(self, error: Exception) -> BackendUnavailable:
        return BackendUnavailable(
            f"the MLflow tracking server at {self.tracking_uri} did not answer ({type(error).__name__}: "
            f"{str(error)[:300]}); check that it runs and that MLFLOW_TRACKING_URI is right. A model "
            "cannot be registered without the server (it numbers versions); runs are kept in the "
            "outbox and delivered by `opskit sync`"
        )

    def _experiment_id(self, name: str, *, create: bool = True) -> str | None:
        found = self._experiments.get(name)
        if found is not None:
            return found
        experiment = self.client.get_experiment_by_name(self._m(name))
        if experiment is None:
            if not create:
                return None
            try:
                experiment_id = self.client.create_experiment(self._m(name))
            except MlflowException as exc:  # created meanwhile by another process
                if _code(exc) != "RESOURCE_ALREADY_EXISTS":
                    raise
                experiment = self.client.get_experiment_by_name(self._m(name))
                assert experiment is not None
                experiment_id = experiment.experiment_id
        else:
            experiment_id = experiment.experiment_id
        self._experiments[name] = experiment_id
        self._experiment_names[experiment_id] = name
        return experiment_id

    def _experiment_name(self, experiment_id: str) -> str:
        name = self._experiment_names.get(experiment_id)
        if name is None:
            name = self._strip(self.client.get_experiment(experiment_id).name)
            self._experiment_names[experiment_id] = name
        return name

    def _run_experiments(self) -> list[str]:
        ids = []
        for experiment in self._all(lambda token: self.client.search_experiments(max_results=1000, page_token=token)):
            if not experiment.name.startswith(self._ns):
                continue
            name = self._strip(experiment.name)
            self._experiment_names[experiment.experiment_id] = name
            if name != STATE_EXPERIMENT:
                ids.append(experiment.experiment_id)
        return ids

    @staticmethod
    def _all(page: Any) -> Iterator[Any]:
        token = None
        while True:
            items = page(token)
            yield from items
            token = getattr(items, "token", None)
            if not token:
                return

    def _mlflow_id(self, run_id: str) -> str:
        found = self._ids.get(run_id)
        if found is not None:
            return found
        hits = self.client.search_runs(
            self._run_experiments(), filter_string=f"tags.`{RUN_ID}` = '{run_id}'", max_results=1, run_view_type=3
        ) if "'" not in run_id else []
        if not hits:
            raise RunNotFound(
                f"no run with id {run_id!r} in the MLflow server at {self.tracking_uri}; "
                "list runs with `opskit runs list`"
            )
        self._ids[run_id] = hits[0].info.run_id
        return str(hits[0].info.run_id)

    # -- runs --------------------------------------------------------------------------------------

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
            experiment_id, start_time=_ms(run.started_at), tags={RUN_ID: run.id}, run_name=run.name
        )
        mlflow_id = str(created.info.run_id)
        self._ids[run.id] = mlflow_id
        return mlflow_id

    def create_run(self, run: Run, *, pid: int | None = None) -> None:
        started = own_start() if pid == os.getpid() else (process_start(pid) if pid else None)
        with self._lock:
            self._deliver_quietly()
            self._runs[run.id] = run
            buffer = _Buffer(run.params)
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
            self._flush_run(run.id)  # visible to other processes when this returns (or kept in the outbox)

    def _go_offline(self, run_id: str, error: BaseException) -> None:
        assert self.outbox is not None
        if not self.outbox.holds(run_id):
            warnings.warn(
                f"the MLflow server at {self.tracking_uri} is unreachable ({type(error).__name__}); run "
                f"{run_id} is kept in {self.outbox.folder} and is delivered by `opskit sync` or the next run",
                OpskitWarning,
                stacklevel=4,
            )
            self.outbox.append(run_id, {"op": "open", "run_id": run_id, "pid": os.getpid(), "host": socket.gethostname()})

    @staticmethod
    def _input_tags(inputs: Sequence[DataInput]) -> dict[str, str]:
        tags = {f"{DATA}{data.name}": data.digest for data in inputs}
        if inputs:
            tags.update(json_tags(DOC + "inputs", [to_plain(d) for d in inputs]))
        return tags

    def _buffer(self, run_id: str) -> _Buffer:
        buffer = self._buffers.get(run_id)
        if buffer is None:
            self._mlflow_id(run_id)  # raises RunNotFound
            previous = self.get_run(run_id).params
            buffer = self._buffers[run_id] = _Buffer(previous)
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
                buffer.metrics.append(MLflowMetric(m.key, m.value, _ms(m.timestamp), m.step))
                if math.isinf(m.value):
                    buffer.infinite.setdefault(m.key, []).append([m.step, _ms(m.timestamp)])
                    buffer.infinite_dirty = True
            self._points += len(metrics)
            self._maybe_flush()

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        with self._lock:
            self._buffer(run_id).tags.update(tags)
            self._maybe_flush()

    def log_inputs(self, run_id: str, inputs: Sequence[DataInput]) -> None:
        with self._lock:
            known = list(self._runs[run_id].inputs) if run_id in self._runs else list(self.get_run(run_id).inputs)
            known.extend(inputs)
            self._buffer(run_id).tags.update(self._input_tags(known))
            if run_id in self._runs:
                self._runs[run_id] = _evolve(self._runs[run_id], inputs=tuple(known))

    def log_artifacts(self, run_id: str, artifacts: Sequence[Artifact]) -> None:
        with self._lock:
            known = list(self._runs[run_id].artifacts) if run_id in self._runs else list(self.get_run(run_id).artifacts)
            known.extend(artifacts)
            self._buffer(run_id).tags.update(json_tags(DOC + "artifacts", [to_plain(a) for a in known]))
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

    def _send_batch(self, mlflow_id: str, buffer: _Buffer) -> None:
        """Send the buffer with ``log_batch``, dropping each chunk from it once the server took it."""
        while buffer.new_params or buffer.tags or buffer.metrics:
            params = list(buffer.new_params.items())[:_BATCH_ITEMS]
            tags = list(buffer.tags.items())[:_BATCH_ITEMS]
            metrics = buffer.metrics[:_BATCH_METRICS]
            self.client.log_batch(
                mlflow_id,
                metrics=metrics,
                params=[Param(k, v) for k, v in params],
                tags=[RunTag(k, v) for k, v in tags],
                synchronous=True,
            )
            for key, value in params:
                buffer.sent_params[key] = buffer.new_params.pop(key) if key in buffer.new_params else value
            for key, _ in tags:
                buffer.tags.pop(key, None)
            del buffer.metrics[: len(metrics)]

    def _buffer_to_outbox(self, run_id: str, buffer: _Buffer) -> None:
        assert self.outbox is not None
        self.outbox.append(run_id, {
            "op": "batch",
            "params": buffer.new_params,
            "tags": buffer.tags,
            "metrics": [[m.key, m.value, m.timestamp, m.step] for m in buffer.metrics],
        })
        buffer.sent_params.update(buffer.new_params)
        buffer.new_params, buffer.tags, buffer.metrics = {}, {}, []

    def flush(self) -> None:
        with self._lock:
            for run_id in list(self._buffers):
                self._flush_run(run_id)
            self._points = 0
            self._last_flush = time.monotonic()

    def end_run(self, run_id: str, *, status: RunStatus, ended_at: float, error: str | None = None) -> None:
        with self._lock:
            buffer = self._buffer(run_id)
            buffer.tags[ENDED] = repr(ended_at)
            if error is not None:
                buffer.tags.update(json_tags(DOC + "error", error))
            self._flush_run(run_id)
            run = self._runs.pop(run_id, None)
            self._buffers.pop(run_id, None)
            end = {"op": "end", "status": status, "ended_at": ended_at, "run": to_dict(run) if run else None}
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
        self.client.set_terminated(mlflow_id, status=status, end_time=_ms(ended_at))

    # -- the outbox --------------------------------------------------------------------------------

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
                if not complete and (head.get("host") != socket.gethostname() or is_alive(int(head.get("pid", 0)), None)):
                    continue  # still being written by a live process
                if not complete:
                    ops.append({"op": "end", "status": "KILLED", "ended_at": time.time(), "run": None})
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
            buffer = _Buffer({})
            buffer.new_params = dict(op["params"])
            buffer.tags = dict(op["tags"])
            buffer.metrics = [MLflowMetric(k, v, ts, step) for k, v, ts, step in op["metrics"]]
            self._send_batch(self._mlflow_id(run_id), buffer)
        elif kind == "end":
            run = from_dict(op["run"]) if op.get("run") else None
            self._finish(self._mlflow_id(run_id), run, op["status"], float(op["ended_at"]))

    def _upload_run_files(self, mlflow_id: str, run: Run) -> None:
        """Code snapshot, environment, data fingerprints and logged files, browsable in MLflow's UI."""
        with tempfile.TemporaryDirectory(prefix="opskit-mlflow-") as tmp:
            folder = Path(tmp)
            if run.code is not None and run.code.source:
                (folder / "code.py").write_text(run.code.source)
            if run.code is not None and run.code.git_diff:
                (folder / "git.diff").write_text(run.code.git_diff)
            if run.env is not None:
                (folder / "environment.json").write_text(json.dumps(to_plain(run.env), indent=1, sort_keys=True))
            if run.inputs:
                (folder / "inputs.json").write_text(json.dumps([to_plain(d) for d in run.inputs], indent=1))
            if any(folder.iterdir()):
                self.client.log_artifacts(mlflow_id, tmp, "opskit")
        if run.artifacts:
            from opskit._backends import get_storage

            storage = get_storage()
            with tempfile.TemporaryDirectory(prefix="opskit-mlflow-") as tmp:
                for artifact in run.artifacts:
                    target = Path(tmp) / artifact.name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(storage.get_bytes(artifact.digest))
                self.client.log_artifacts(mlflow_id, tmp, "artifacts")

    # -- reading runs ----------------------------------------------------------------------------

    def _record(self, found: MLflowRun, versions: bool = True) -> Run:
        tags = found.data.tags
        code = read_json(tags, DOC + "code")
        env = read_json(tags, DOC + "env")
        ended = tags.get(ENDED)
        model_version = None
        if versions and MODEL in tags:
            name, _, number = tags[MODEL].rpartition(":")
            try:
                model_version = self._version(self.client.get_model_version(name, number))
            except MlflowException:
                model_version = None
        status = found.info.status
        return Run(
            id=tags[RUN_ID],
            name=found.info.run_name or "",
            status=status if status in ("RUNNING", "FINISHED", "FAILED", "KILLED") else "RUNNING",
            experiment=self._experiment_name(found.info.experiment_id),
            started_at=float(tags.get(STARTED, found.info.start_time / 1000)),
            ended_at=float(ended) if ended else (found.info.end_time / 1000 if found.info.end_time else None),
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

    def _history(self, mlflow_id: str, key: str, infinite: list[list[int]] | None = None) -> list[Metric]:
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
                if _missing(exc):
                    raise RunNotFound(f"no run with id {run_id!r} in the MLflow server at {self.tracking_uri}") from exc
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
                    experiment_ids, filter_string=text, max_results=query.limit, order_by=["attributes.start_time DESC"]
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
                    tags=[RunTag(ENDED, repr(now)), *[RunTag(k, v) for k, v in json_tags(DOC + "error", message).items()]],
                )
                self.client.set_terminated(found.info.run_id, status="KILLED", end_time=_ms(now))
            return [found.data.tags[RUN_ID] for found, _ in dead]

    # -- model registry ----------------------------------------------------------------------------

    def register_model_version(
        self,
        name: str,
        *,
        digest: str,
        size_bytes: int,
        flavor: str,
        run_id: str | None,
        signature: Schema | None,
        metadata: Mapping[str, Any],
        model: object | None = None,
    ) -> ModelVersion:
        try:
            return self._register(name, digest, size_bytes, flavor, run_id, signature, metadata, model)
        except MlflowException as exc:
            if is_unreachable(exc):
                raise self._unavailable(exc) from exc
            raise

    def _register(
        self, name: str, digest: str, size_bytes: int, flavor: str, run_id: str | None,
        signature: Schema | None, metadata: Mapping[str, Any], model: object | None,
    ) -> ModelVersion:
        from opskit_mlflow.native import pip_requirements, save_native

        with self._lock:
            self.flush()
            now = time.time()
            try:
                self.client.create_registered_model(self._m(name), tags={"opskit.created_at": repr(now)})
            except MlflowException as exc:
                if _code(exc) != "RESOURCE_ALREADY_EXISTS":
                    raise
            mlflow_id = self._mlflow_id(run_id) if run_id else self._holder_run(name)
            run = self._runs.get(run_id or "")
            tags = {
                "opskit.digest": digest,
                "opskit.size_bytes": str(size_bytes),
                "opskit.flavor": flavor,
                "opskit.run_id": run_id or "",
                "opskit.created_at": repr(now),
                **json_tags(DOC + "signature", to_plain(signature)),
                **json_tags(DOC + "metadata", dict(metadata)),
            }
            path = f"model-{digest.split(':')[-1][:12]}"
            if model is not None:
                packages = run.env.packages if run is not None and run.env is not None else {}
                with tempfile.TemporaryDirectory(prefix="opskit-mlflow-") as tmp:
                    tags["opskit.mlflow_flavor"] = save_native(
                        model, Path(tmp) / path, signature=signature, requirements=pip_requirements(packages, model)
                    )
                    self.client.log_artifacts(mlflow_id, str(Path(tmp) / path), path)
            created = self.client.create_model_version(
                self._m(name), source=f"runs:/{mlflow_id}/{path}", run_id=mlflow_id, tags=tags
            )
            if run_id:
                self.client.set_tag(mlflow_id, MODEL, f"{self._m(name)}:{created.version}")
            return self._version(created)

    def _holder_run(self, name: str) -> str:
        """A run of the state experiment that holds the files of versions registered without a run."""
        experiment_id = self._experiment_id(STATE_EXPERIMENT)
        assert experiment_id is not None
        return str(self.client.create_run(experiment_id, run_name=f"registry/{name}").info.run_id)

    def _version(self, found: MLflowModelVersion) -> ModelVersion:
        tags = dict(found.tags or {})
        signature = read_json(tags, DOC + "signature")
        return ModelVersion(
            name=self._strip(found.name),
            version=int(found.version),
            digest=tags.get("opskit.digest", ""),
            size_bytes=int(tags.get("opskit.size_bytes", "0")),
            flavor=tags.get("opskit.flavor", "mlflow"),
            run_id=tags.get("opskit.run_id") or None,
            created_at=float(tags.get("opskit.created_at", found.creation_timestamp / 1000)),
            signature=from_plain(Schema, signature) if signature else None,
            metadata=read_json(tags, DOC + "metadata") or {},
            aliases=sorted(getattr(found, "aliases", None) or ()),
        )

    def _registered(self, name: str) -> Any:
        try:
            return self.client.get_registered_model(self._m(name))
        except MlflowException as exc:
            if not _missing(exc):
                raise
        known = ", ".join(sorted(self._strip(m.name) for m in self._registered_models())[:20]) or "none"
        raise ModelNotFound(
            f"no registered model {name!r} in the MLflow server at {self.tracking_uri} (models: {known}); "
            "train one with @opskit.train(model=...)"
        ) from None

    def _registered_models(self) -> list[Any]:
        pattern = f"name LIKE '{_escape(self._ns)}%'" if self._ns else ""
        found = self._all(
            lambda token: self.client.search_registered_models(pattern, max_results=1000, page_token=token)
        )
        return [m for m in found if m.name.startswith(self._ns)]

    def _versions(self, name: str) -> list[ModelVersion]:
        found = self._all(
            lambda token: self.client.search_model_versions(
                f"name = '{_escape(self._m(name))}'", max_results=10000, page_token=token
            )
        )
        return sorted((self._version(v) for v in found), key=lambda v: v.version)

    def _model(self, registered: Any) -> Model:
        aliases = {alias: int(version) for alias, version in (getattr(registered, "aliases", None) or {}).items()}
        return Model(
            name=self._strip(registered.name),
            created_at=float(registered.tags.get("opskit.created_at", registered.creation_timestamp / 1000)),
            versions=self._versions(self._strip(registered.name)),
            aliases=aliases,
        )

    def list_models(self) -> list[Model]:
        with self._lock:
            return sorted((self._model(r) for r in self._registered_models()), key=lambda m: m.name)

    def get_model(self, name: str) -> Model:
        with self._lock:
            return self._model(self._registered(name))

    def _numbers(self, name: str) -> str:
        numbers = [v.version for v in self._versions(name)]
        if not numbers:
            return "no versions yet"
        return f"versions {min(numbers)}–{max(numbers)}" if len(numbers) > 1 else f"version {numbers[0]}"

    def get_model_version(self, ref: ModelRef) -> ModelVersion:
        with self._lock:
            registered = self._registered(ref.name)
            if ref.alias is not None:
                aliases = getattr(registered, "aliases", None) or {}
                if ref.alias not in aliases:
                    known = ", ".join(sorted(aliases)) or "none"
                    raise ModelNotFound(
                        f"model {ref.name!r} has no alias {ref.alias!r} (aliases: {known}); set one with "
                        f"opskit.models.set_alias({ref.name!r}, {ref.alias!r}, VERSION)"
                    )
                number = int(aliases[ref.alias])
            elif ref.version is not None:
                number = ref.version
            else:
                versions = self._versions(ref.name)
                if not versions:
                    raise ModelNotFound(f"model {ref.name!r} has no versions yet")
                return versions[-1]
            try:
                return self._version(self.client.get_model_version(self._m(ref.name), str(number)))
            except MlflowException as exc:
                if not _missing(exc):
                    raise
            raise ModelNotFound(
                f"model {ref.name!r} has no version {number} ({self._numbers(ref.name)}); "
                f"see `opskit models show {ref.name}`"
            )

    def _record_alias(self, change: AliasChange) -> None:
        body = [change.alias, change.version, change.previous_version, change.changed_at, change.user]
        self.client.set_registered_model_tag(self._m(change.model), f"{HISTORY}{time.time_ns():020d}", json.dumps(body))

    def set_alias(self, name: str, alias: str, version: int, *, user: str | None) -> AliasChange:
        with self._lock:
            self.get_model_version(ModelRef(name, version=version))
            previous = (getattr(self._registered(name), "aliases", None) or {}).get(alias)
            self.client.set_registered_model_alias(self._m(name), alias, str(version))
            change = AliasChange(name, alias, version, int(previous) if previous else None, time.time(), user)
            self._record_alias(change)
            return change

    def delete_alias(self, name: str, alias: str, *, user: str | None) -> AliasChange:
        with self._lock:
            previous = self.get_model_version(ModelRef(name, alias=alias)).version
            self.client.delete_registered_model_alias(self._m(name), alias)
            change = AliasChange(name, alias, None, previous, time.time(), user)
            self._record_alias(change)
            return change

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasChange]:
        with self._lock:
            tags = self._registered(name).tags
        changes = []
        for key in sorted(k for k in tags if k.startswith(HISTORY)):
            moved, version, previous, when, user = json.loads(tags[key])
            if alias is None or moved == alias:
                changes.append(AliasChange(name, moved, version, previous, when, user))
        return changes

    # -- state documents -----------------------------------------------------------------------

    def _state_runs(self, kind: str, key: str | None = None) -> list[Any]:
        experiment_id = self._experiment_id(STATE_EXPERIMENT)
        assert experiment_id is not None
        text = f"tags.`opskit.state.kind` = '{_escape(kind)}'"
        if key is not None:
            text += f" and tags.`opskit.state.key` = '{_escape(key)}'"
        return list(self._all(
            lambda token: self.client.search_runs([experiment_id], filter_string=text, max_results=1000, page_token=token)
        ))

    def put_state(self, kind: str, key: str, value: Mapping[str, Any]) -> None:
        tags = {"opskit.state.kind": kind, "opskit.state.key": key, **json_tags(DOC + "state", dict(value))}
        with self._lock:
            found = self._state_runs(kind, key)
            if found:
                mlflow_id = found[0].info.run_id
            else:
                experiment_id = self._experiment_id(STATE_EXPERIMENT)
                assert experiment_id is not None
                mlflow_id = self.client.create_run(experiment_id, run_name=f"{kind}/{key}").info.run_id
            items = [RunTag(k, v) for k, v in tags.items()]
            for i in range(0, len(items), _BATCH_ITEMS):
                self.client.log_batch(mlflow_id, tags=items[i : i + _BATCH_ITEMS])

    def get_state(self, kind: str, key: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._state_runs(kind, key)
        return dict(read_json(found[0].data.tags, DOC + "state")) if found else None

    def list_state(self, kind: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            found = self._state_runs(kind)
        docs = {r.data.tags["opskit.state.key"]: dict(read_json(r.data.tags, DOC + "state")) for r in found}
        return dict(sorted(docs.items()))

    def delete_state(self, kind: str, key: str) -> None:
        with self._lock:
            for found in self._state_runs(kind, key):
                self.client.delete_run(found.info.run_id)

    def referenced_digests(self) -> set[str]:
        with self._lock:
            self.flush()
            digests = {v.digest for m in self.list_models() for v in m.versions if v.digest}
            experiment_ids = self._run_experiments()
            runs = self._all(lambda token: self.client.search_runs(
                experiment_ids, filter_string=f"tags.`{RUN_ID}` != ''", max_results=1000, page_token=token
            )) if experiment_ids else iter(())
            for found in runs:
                digests.update(a["digest"] for a in read_json(found.data.tags, DOC + "artifacts") or [])
        return digests

    def close(self) -> None:
        with self._lock:
            self.flush()


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _evolve(run: Run, **changes: Any) -> Run:
    import attrs

    return attrs.evolve(run, **changes)
