"""State documents: small JSON documents kept as tagged runs of the experiment ``opskit.state``."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlflow.entities import RunTag
from mlflow.exceptions import MlflowException

from opskit_mlflow.connection import error_code
from opskit_mlflow.encode import json_tags, read_json
from opskit_mlflow.events import RegistryEvents
from opskit_mlflow.keys import BATCH_ITEMS, CLAIM_PREFIX, DOC, STATE_EXPERIMENT, escape

if TYPE_CHECKING:
    from opskit.registry.events import RegistryEvent

__all__ = ["StateDocuments"]


class StateDocuments(RegistryEvents):
    """``put_state``, ``get_state``, ``list_state``, ``claim_state`` and ``delete_state``, one run per (kind, key)."""

    def _state_runs(self, kind: str, key: str | None = None) -> list[Any]:
        experiment_id = self._experiment_id(STATE_EXPERIMENT)
        assert experiment_id is not None
        text = f"tags.`opskit.state.kind` = '{escape(kind)}'"
        if key is not None:
            text += f" and tags.`opskit.state.key` = '{escape(key)}'"
        return list(
            self._all(
                lambda token: self.client.search_runs(
                    [experiment_id], filter_string=text, max_results=1000, page_token=token
                )
            )
        )

    def _all_state_documents(self) -> list[dict[str, Any]]:
        """Every state document of every kind (for ``referenced_digests``)."""
        experiment_id = self._experiment_id(STATE_EXPERIMENT, create=False)
        if experiment_id is None:
            return []
        found = self._all(
            lambda token: self.client.search_runs(
                [experiment_id],
                filter_string="tags.`opskit.state.kind` != ''",
                max_results=1000,
                page_token=token,
            )
        )
        return [dict(read_json(r.data.tags, DOC + "state") or {}) for r in found]

    def put_state(
        self, kind: str, key: str, value: Mapping[str, Any], *, event: RegistryEvent | None = None
    ) -> None:
        """Store the document; with *event*, append it right after (MLflow has no transactions: see ``events``)."""
        tags = {
            "opskit.state.kind": kind,
            "opskit.state.key": key,
            **json_tags(DOC + "state", dict(value)),
        }
        with self._lock:
            found = self._state_runs(kind, key)
            if found:
                mlflow_id = found[0].info.run_id
            else:
                experiment_id = self._experiment_id(STATE_EXPERIMENT)
                assert experiment_id is not None
                mlflow_id = self.client.create_run(
                    experiment_id, run_name=f"{kind}/{key}"
                ).info.run_id
            items = [RunTag(k, v) for k, v in tags.items()]
            for i in range(0, len(items), BATCH_ITEMS):
                self.client.log_batch(mlflow_id, tags=items[i : i + BATCH_ITEMS])
            if event is not None:
                self._append_event(event)

    def get_state(self, kind: str, key: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._state_runs(kind, key)
        return dict(read_json(found[0].data.tags, DOC + "state")) if found else None

    def list_state(self, kind: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            found = self._state_runs(kind)
        docs = {
            r.data.tags["opskit.state.key"]: dict(read_json(r.data.tags, DOC + "state"))
            for r in found
        }
        return dict(sorted(docs.items()))

    def claim_state(self, kind: str, key: str, value: Mapping[str, Any]) -> bool:
        """Claim (*kind*, *key*) by creating an experiment named after it (MLflow keeps experiment
        names unique in its database: exactly one ``create_experiment`` wins), then store the document.

        The claim experiments are named ``opskit.state.claim/<digest of kind and key>`` and are
        never searched for runs. A process killed between the claim and the document leaves the
        key claimed with no document (a skipped number), never two owners.
        """
        digest = hashlib.sha256(f"{kind}\0{key}".encode()).hexdigest()[:40]
        with self._lock:
            try:
                self.client.create_experiment(self._m(CLAIM_PREFIX + digest))
            except MlflowException as exc:
                if error_code(exc) != "RESOURCE_ALREADY_EXISTS":
                    raise
                return False
            self.put_state(kind, key, value)
        return True

    def delete_state(self, kind: str, key: str) -> None:
        with self._lock:
            for found in self._state_runs(kind, key):
                self.client.delete_run(found.info.run_id)
