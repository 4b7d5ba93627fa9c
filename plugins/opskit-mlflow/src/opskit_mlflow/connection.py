"""The connection to one MLflow tracking server: client, namespace, experiments and run ids.

``MLflowConnection`` is the base every part of ``MLflowTracker`` builds on: it holds
the client and the state the parts share, maps opskit names to MLflow names, finds
experiments and runs, and turns an unreachable server into ``BackendUnavailable`` or
into a run kept in the outbox.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import warnings
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from opskit.errors import BackendUnavailable, OpskitWarning, PermissionDenied, RunNotFound
from opskit_mlflow.keys import CLAIM_PREFIX, RUN_ID, STATE_EXPERIMENT
from opskit_mlflow.outbox import Outbox

if TYPE_CHECKING:
    from opskit.records import Run
    from opskit_mlflow.writing import Buffer

__all__ = ["REFUSED", "MLflowConnection", "error_code", "is_missing", "is_refused"]


_connections: weakref.WeakSet[MLflowConnection] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for connection in list(_connections):
        connection._forked()


def error_code(error: MlflowException) -> str:
    return str(getattr(error, "error_code", ""))


#: The error codes of a server that refused the request's credentials or permission (HTTP 401/403).
REFUSED = frozenset({"PERMISSION_DENIED", "UNAUTHENTICATED"})


def is_refused(error: BaseException) -> bool:
    """Did the server refuse the user (no permission, or credentials it does not accept)? Not an outage."""
    return isinstance(error, MlflowException) and error_code(error) in REFUSED


def is_missing(error: MlflowException) -> bool:
    return error_code(error) == "RESOURCE_DOES_NOT_EXIST" or "not found" in str(error).lower()


class MLflowConnection:
    """What the parts of the tracker share: the client, caches and the outbox."""

    def __init__(
        self,
        tracking_uri: str | None = None,
        *,
        namespace: str | None = None,
        outbox: Path | None = None,
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
        self._buffers: dict[str, Buffer] = {}
        self._experiments: dict[str, str] = {}
        self._experiment_names: dict[str, str] = {}
        self._points = 0
        self._last_flush = time.monotonic()
        _connections.add(self)

    def _forked(self) -> None:
        """In a forked child: the parent sends what it buffered; the child sends only its own writes.

        MLflow's HTTP session is per process already (its cache is keyed by the pid).
        """
        self._lock = threading.RLock()  # another thread of the parent may have held it at the fork
        for buffer in self._buffers.values():
            buffer.new_params, buffer.tags, buffer.metrics = {}, {}, []
            buffer.params_dirty = buffer.infinite_dirty = False
        self._points = 0

    # -- provided by the other parts (RunWriter, RunReader, OutboxDelivery) ------------------------

    def flush(self) -> None:
        raise NotImplementedError

    def get_run(self, run_id: str) -> Run:
        raise NotImplementedError

    def _deliver_quietly(self) -> None:
        raise NotImplementedError

    # -- names -------------------------------------------------------------------------------------

    def _m(self, name: str) -> str:
        """The MLflow name of an opskit model or experiment (namespace prefix added)."""
        return self._ns + name

    def _strip(self, name: str) -> str:
        return name[len(self._ns) :] if self._ns and name.startswith(self._ns) else name

    # -- an unreachable server ---------------------------------------------------------------------

    def _unavailable(self, error: Exception) -> BackendUnavailable:
        return BackendUnavailable(
            f"the MLflow tracking server at {self.tracking_uri} did not answer ({type(error).__name__}: "
            f"{str(error)[:300]}); check that it runs and that MLFLOW_TRACKING_URI is right. A model "
            "cannot be registered without the server (it numbers versions); runs are kept in the "
            "outbox and delivered by `opskit sync`"
        )

    def _refusal(self, error: MlflowException, action: str, subject: str) -> PermissionDenied:
        """The ``PermissionDenied`` for the server's 401/403 *error* on *action* (``set-alias:production``) of *subject*."""
        user = os.environ.get("MLFLOW_TRACKING_USERNAME")
        if error_code(error) == "UNAUTHENTICATED":
            message = (
                f"the MLflow server at {self.tracking_uri} did not accept the credentials of user "
                f"{user!r} for {action} on {subject}; set MLFLOW_TRACKING_USERNAME and "
                "MLFLOW_TRACKING_PASSWORD to an account of that server. Nothing was changed"
            )
        else:
            message = (
                f"the MLflow server at {self.tracking_uri} refused {action} on {subject} to user "
                f"{user!r}: that user has no permission to change it there (MLflow answered 403 "
                "PERMISSION_DENIED); ask an MLflow admin to grant EDIT on the registered model (and on "
                f"the experiment {self._m(STATE_EXPERIMENT)!r}, which keeps the audit log). Nothing was changed"
            )
        return PermissionDenied(message, user=user, action=action)

    def _go_offline(self, run_id: str, error: BaseException) -> None:
        assert self.outbox is not None
        if not self.outbox.holds(run_id):
            warnings.warn(
                f"the MLflow server at {self.tracking_uri} is unreachable ({type(error).__name__}); run "
                f"{run_id} is kept in {self.outbox.folder} and is delivered by `opskit sync` or the next run",
                OpskitWarning,
                stacklevel=4,
            )
            self.outbox.append(
                run_id,
                {"op": "open", "run_id": run_id, "pid": os.getpid(), "host": socket.gethostname()},
            )

    # -- experiments and runs ----------------------------------------------------------------------

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
                if error_code(exc) != "RESOURCE_ALREADY_EXISTS":
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
        for experiment in self._all(
            lambda token: self.client.search_experiments(max_results=1000, page_token=token)
        ):
            if not experiment.name.startswith(self._ns):
                continue
            name = self._strip(experiment.name)
            self._experiment_names[experiment.experiment_id] = name
            if name != STATE_EXPERIMENT and not name.startswith(CLAIM_PREFIX):
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

    def _by_mlflow_id(self, mlflow_id: str) -> list[Any]:
        """The MLflow run with this MLflow run id (as a one-item list), or an empty list."""
        try:
            found = self.client.get_run(mlflow_id)
        except MlflowException as exc:
            if is_missing(exc):
                return []
            raise
        return [found]

    def _mlflow_id(self, run_id: str) -> str:
        found = self._ids.get(run_id)
        if found is not None:
            return found
        hits = (
            self.client.search_runs(
                self._run_experiments(),
                filter_string=f"tags.`{RUN_ID}` = '{run_id}'",
                max_results=1,
                run_view_type=3,
            )
            if "'" not in run_id
            else []
        )
        if not hits and len(run_id) == 32 and all(ch in "0123456789abcdef" for ch in run_id):
            hits = self._by_mlflow_id(run_id)  # the id MLflow shows (UI, MlflowClient) works too
        if not hits:
            raise RunNotFound(
                f"no run with id {run_id!r} in the MLflow server at {self.tracking_uri}; "
                "list runs with `opskit runs list`"
            )
        self._ids[run_id] = hits[0].info.run_id
        return str(hits[0].info.run_id)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
