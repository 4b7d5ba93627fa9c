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

The tracker is put together from one part per responsibility: ``connection``
(client, names, experiments, outages), ``writing`` (runs), ``delivery`` (the
outbox), ``reading`` (runs back as records), ``registry`` (models and aliases)
and ``state`` (state documents); tag keys live in ``keys``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from opskit.tracker.base import Tracker, digests_in, digests_in_text
from opskit.tracker.capabilities import (
    SupportsEventRecording,
    SupportsLifecycle,
    SupportsLocation,
    SupportsQueuedRegistration,
    SupportsSync,
)
from opskit_mlflow.delivery import OutboxDelivery
from opskit_mlflow.encode import read_json
from opskit_mlflow.keys import DOC, RUN_ID, STATE_EXPERIMENT
from opskit_mlflow.reading import RunReader
from opskit_mlflow.registry import ModelRegistry
from opskit_mlflow.state import StateDocuments

if TYPE_CHECKING:
    from opskit.config import Config

__all__ = ["STATE_EXPERIMENT", "MLflowTracker"]


class MLflowTracker(
    OutboxDelivery,
    RunReader,
    ModelRegistry,
    StateDocuments,
    Tracker,
    SupportsSync,
    SupportsQueuedRegistration,
    SupportsLocation,
    SupportsLifecycle,
    SupportsEventRecording,
):
    """The ``mlflow`` tracker: talks to one MLflow tracking server through ``MlflowClient``."""

    def location(self) -> str:
        """The tracking server, with the namespace when one is set."""
        return f"{self.tracking_uri}" + (f" (namespace {self.namespace})" if self.namespace else "")

    name = "mlflow"

    @classmethod
    def from_config(cls, config: Config) -> MLflowTracker:
        uri = config.tracker_options.get("tracking_uri")
        namespace = config.tracker_options.get("namespace") or os.environ.get(
            "OPSKIT_MLFLOW_NAMESPACE"
        )
        return cls(
            str(uri) if uri else None,
            namespace=str(namespace) if namespace else None,
            outbox=config.home / "mlflow-outbox",
        )

    def referenced_digests(self) -> set[str]:
        with self._lock:
            self.flush()
            digests: set[str] = set()
            for m in self.list_models():
                for v in m.versions:
                    # The model blob, and any blob its metadata names (its reference profile).
                    digests |= ({v.digest} if v.digest else set()) | digests_in(dict(v.metadata))
            experiment_ids = self._run_experiments()
            runs = (
                self._all(
                    lambda token: self.client.search_runs(
                        experiment_ids,
                        filter_string=f"tags.`{RUN_ID}` != ''",
                        max_results=1000,
                        page_token=token,
                    )
                )
                if experiment_ids
                else iter(())
            )
            for found in runs:
                digests.update(
                    a["digest"] for a in read_json(found.data.tags, DOC + "artifacts") or []
                )
            for document in self._all_state_documents():  # prediction logs, deployments, any kind
                digests |= digests_in(document)
            if self.outbox is not None:  # offline runs and queued registrations, delivered later
                for path in self.outbox.files():
                    digests |= digests_in_text(path.read_text(encoding="utf-8", errors="replace"))
        return digests

    def close(self) -> None:
        with self._lock:
            self.flush()
