"""The tracker contract every tracker backend (local SQLite, MLflow, ...) implements.

The contract is split by concern: ``RunTracker`` (runs, their params, metrics,
tags, inputs and artifacts, search), ``RegistryTracker`` (models, versions,
aliases and their history) and ``StateStore`` (small JSON documents other
features keep, such as deployment records). ``Tracker`` is their union plus
``referenced_digests`` and ``close``: what every tracker backend implements and
what ``opskit`` asks a ``register_trackers`` factory for. Code that needs only
one concern annotates with the narrower protocol. Optional extras a backend
may offer are in ``opskit.tracker.capabilities``.

A tracker holds run metadata (params, metrics, tags, code, environment, data
inputs, artifact references) and the model registry (models, versions, aliases
with history). Blobs themselves live in a ``Storage``; the tracker only keeps
their digests.

Writes may be buffered: ``log_params``/``log_metrics``/``set_tags`` must be
cheap to call in a tight loop; a tracker flushes its buffer at ``end_run``, at
``flush`` and before any read, so reads always see this process's writes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from opskit.names import ModelRef
from opskit.query import RunQuery
from opskit.records import (
    AliasChange,
    Artifact,
    DataInput,
    Metric,
    Model,
    ModelVersion,
    Run,
    RunStatus,
    Schema,
)

if TYPE_CHECKING:
    from opskit.registry.events import EventKind, RegistryEvent

__all__ = [
    "RegistryTracker",
    "RunTracker",
    "StateStore",
    "Tracker",
    "digests_in",
    "digests_in_text",
]

_BLOB_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def digests_in(value: Any) -> set[str]:
    """Every blob digest (``sha256:<64 hex>``) anywhere in a JSON value: what a state document keeps alive.

    Any kind of state document may keep blobs (prediction-log batches today, more
    kinds tomorrow); a tracker's ``referenced_digests`` counts every digest in
    every document, so ``opskit doctor --repair`` never deletes a blob a record needs.
    """
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if len(item) == 71 and _BLOB_DIGEST.fullmatch(item):
                found.add(item)
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return found


def digests_in_text(text: str) -> set[str]:
    """Every blob digest written anywhere in *text* (e.g. a file of queued operations)."""
    return set(_BLOB_DIGEST.findall(text))


@runtime_checkable
class RunTracker(Protocol):
    """Runs: create, log to, end, read back and search them."""

    #: The backend name it is registered under ("local", "mlflow", ...).
    name: str

    def create_run(self, run: Run, *, pid: int | None = None) -> None:
        """Record a new run (status RUNNING) with its params, tags, code, env and inputs.

        *pid* is the process that executes the run, on ``run.host``; it lets
        ``mark_stale_runs`` tell a run whose process died from a live one.
        The run must be visible to other processes when this returns.
        """
        ...

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Add params (JSON values). Re-logging a key with a different value overwrites it."""
        ...

    def log_metrics(self, run_id: str, metrics: Sequence[Metric]) -> None:
        """Append metric points. May buffer; must be cheap."""
        ...

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Set (overwrite) string tags."""
        ...

    def log_inputs(self, run_id: str, inputs: Sequence[DataInput]) -> None:
        """Record data inputs of a run."""
        ...

    def log_artifacts(self, run_id: str, artifacts: Sequence[Artifact]) -> None:
        """Record artifacts (already in storage) of a run."""
        ...

    def end_run(
        self, run_id: str, *, status: RunStatus, ended_at: float, error: str | None = None
    ) -> None:
        """Flush everything buffered for the run and set its final status."""
        ...

    def flush(self) -> None:
        """Write every buffered point now."""
        ...

    def get_run(self, run_id: str) -> Run:
        """Return the run, with its model version if one was registered from it.

        Raises ``RunNotFound``.
        """
        ...

    def search_runs(self, query: RunQuery) -> list[Run]:
        """Return runs matching ``query`` (filter clauses, order, limit), newest first by default."""
        ...

    def metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric of one run, ordered by step then timestamp."""
        ...

    def mark_stale_runs(self) -> list[str]:
        """Mark KILLED every RUNNING run whose process is known dead; return their ids."""
        ...


@runtime_checkable
class RegistryTracker(Protocol):
    """The model registry: models, numbered versions, aliases and the history of their moves."""

    #: The backend name it is registered under ("local", "mlflow", ...).
    name: str

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
        """Create the model if needed and add the next version number, atomically.

        The model's bytes are already in opskit storage under *digest*. *model* is
        the live object when it is at hand (``@opskit.train`` passes it): a tracker
        with its own model format (MLflow) writes a native copy from it; the local
        tracker ignores it. It is ``None`` when only the stored blob exists.
        Append the ``version_registered`` event
        (``opskit.registry.events.version_registered``) in the same transaction.
        """
        ...

    def list_models(self) -> list[Model]:
        """Every registered model, sorted by name."""
        ...

    def get_model(self, name: str) -> Model:
        """One model with its versions and aliases. Raises ``ModelNotFound``."""
        ...

    def get_model_version(self, ref: ModelRef) -> ModelVersion:
        """Resolve a reference (latest, version or alias). Raises ``ModelNotFound``."""
        ...

    def set_alias(self, name: str, alias: str, version: int, *, user: str | None) -> AliasChange:
        """Point *alias* at *version* and append its event in the same transaction. Raises ``ModelNotFound``.

        When the alias already points at *version*, record nothing and return a change whose
        ``previous_version`` equals ``version``.
        """
        ...

    def delete_alias(self, name: str, alias: str, *, user: str | None) -> AliasChange:
        """Remove an alias and append its ``alias_removed`` event in the same transaction. Raises ``ModelNotFound``."""
        ...

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasChange]:
        """Every move of the model's aliases (or one alias), oldest first."""
        ...

    def events(
        self,
        *,
        model: str | None = None,
        since: int | None = None,
        kinds: Sequence[EventKind] | None = None,
        limit: int | None = None,
    ) -> list[RegistryEvent]:
        """The registry events appended so far, oldest first (``opskit.registry.events``).

        Only those of *model* (deployment events have none), with ``id > since``, of
        one of *kinds*; at most *limit* (the oldest ones matching).
        """
        ...


@runtime_checkable
class StateStore(Protocol):
    """Small JSON documents other features keep in the tracker (deployments, ...), by kind and key."""

    def put_state(
        self, kind: str, key: str, value: Mapping[str, Any], *, event: RegistryEvent | None = None
    ) -> None:
        """Store (replace) a JSON document under (*kind*, *key*), e.g. a deployment record.

        With *event* (e.g. ``deployment_created``), append it to the registry events in the
        same transaction as the document.
        """
        ...

    def get_state(self, kind: str, key: str) -> dict[str, Any] | None:
        """The document stored under (*kind*, *key*), or None."""
        ...

    def list_state(self, kind: str) -> dict[str, dict[str, Any]]:
        """Every document of *kind*, by key."""
        ...

    def delete_state(self, kind: str, key: str) -> None:
        """Remove a document (missing is fine)."""
        ...

    def claim_state(self, kind: str, key: str, value: Mapping[str, Any]) -> bool:
        """Store *value* under (*kind*, *key*) only if no document was ever claimed there; True if stored.

        Atomic across processes: when several call it with the same (*kind*, *key*) at once,
        exactly one gets True. Numbered records (dataset versions) allocate their numbers with
        it. A key claimed once stays claimed (``delete_state`` removes the document, not
        necessarily the claim), so a number is never handed out twice.
        """
        ...


@runtime_checkable
class Tracker(RunTracker, RegistryTracker, StateStore, Protocol):
    """What opskit needs from a tracker backend: every concern, plus blob references and ``close``.

    Every tracker backend implements the whole of it; declare it by subclassing
    (``class MyTracker(Tracker): ...``) so mypy reports a missing method, or
    rely on structural typing.
    """

    #: The backend name it is registered under ("local", "mlflow", ...).
    name: str

    def referenced_digests(self) -> set[str]:
        """Every blob digest a record refers to: model versions, artifacts and every state document
        (``digests_in``), plus anything a tracker keeps for later delivery. ``opskit doctor --repair``
        deletes only blobs outside this set, so it must hold every kind of record that keeps blobs."""
        ...

    def close(self) -> None:
        """Flush and release connections."""
        ...
