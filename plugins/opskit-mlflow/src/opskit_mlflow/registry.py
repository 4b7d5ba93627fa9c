"""The model registry: opskit model versions as MLflow model versions, aliases as MLflow aliases.

A version's tags hold opskit's digest, flavor, signature and metadata; the history of
each alias is kept as registered-model tags.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
from mlflow.exceptions import MlflowException

from opskit.errors import InvalidValue, ModelNotFound, VersionInUse
from opskit.names import ModelRef
from opskit.records import AliasChange, Model, ModelVersion, Schema
from opskit.records.registry import VERSION_STATUSES
from opskit.registry import events as registry_events
from opskit.sdk import identity
from opskit.serialize import from_plain, to_plain
from opskit_mlflow.connection import error_code, is_missing, is_refused
from opskit_mlflow.encode import json_tags, read_json
from opskit_mlflow.events import RegistryEvents
from opskit_mlflow.keys import DOC, HISTORY, MODEL, STATE_EXPERIMENT, escape
from opskit_mlflow.outbox import is_unreachable

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion as MLflowModelVersion

    from opskit.tracker.capabilities import StateChange

__all__ = ["ModelRegistry", "version_record"]


#: The model version tag holding the version status (``opskit.models.archive`` ...).
STATUS = "opskit.status"


def version_record(found: MLflowModelVersion, name: str) -> ModelVersion:
    """The opskit record of the MLflow model version *found*, whose opskit model is *name*."""
    tags = dict(found.tags or {})
    signature = read_json(tags, DOC + "signature")
    return ModelVersion(
        name=name,
        version=int(found.version),
        digest=tags.get("opskit.digest", ""),
        size_bytes=int(tags.get("opskit.size_bytes", "0")),
        flavor=tags.get("opskit.flavor", "mlflow"),
        run_id=tags.get("opskit.run_id") or None,
        created_at=float(tags.get("opskit.created_at", found.creation_timestamp / 1000)),
        signature=from_plain(Schema, signature) if signature else None,
        metadata=read_json(tags, DOC + "metadata") or {},
        aliases=sorted(getattr(found, "aliases", None) or ()),
        status=tags.get(STATUS, "candidate"),  # type: ignore[arg-type]  # written by set_version_status
    )


class ModelRegistry(RegistryEvents):
    """Registering versions, looking models up, moving aliases; each change appends its registry event."""

    if TYPE_CHECKING:  # from the state mixin of the tracker class

        def put_state(
            self,
            kind: str,
            key: str,
            value: Mapping[str, Any],
            *,
            event: registry_events.RegistryEvent | None = None,
        ) -> None: ...

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
            with self._refusals("register", name, name):
                self._check_log_writable()
                return self._register(
                    name,
                    digest,
                    size_bytes,
                    flavor,
                    run_id,
                    signature,
                    metadata,
                    model,
                    identity.user(),
                )
        except Exception as exc:
            if is_unreachable(exc):
                raise self._unavailable(exc) from exc
            raise

    def queue_registration(
        self,
        name: str,
        *,
        digest: str,
        size_bytes: int,
        flavor: str,
        run_id: str,
        signature: Schema | None,
        metadata: Mapping[str, Any],
        alias: str | None,
        user: str | None,
        version: int | None = None,
    ) -> bool:
        """Keep a registration (and its alias move) that could not reach the server in *run_id*'s outbox.

        ``opskit sync`` delivers it after the run's earlier writes and before its end: the run,
        then the version, then the alias. With *version*, the version exists and only the alias
        move waits. Returns False when this tracker has no outbox (the caller raises).
        """
        if self.outbox is None:
            return False
        with self._lock:
            self._go_offline(
                run_id, ConnectionError("the server did not answer at model registration")
            )
            self.flush()  # the run's buffered writes go first (to the outbox, the server being down)
            self.outbox.append(
                run_id,
                {
                    "op": "register",
                    "name": name,
                    "digest": digest,
                    "size_bytes": size_bytes,
                    "flavor": flavor,
                    "signature": to_plain(signature),
                    "metadata": dict(metadata),
                    "alias": alias,
                    "user": user,
                    "version": version,
                },
            )
        return True

    def _deliver_registration(self, run_id: str, op: Mapping[str, Any]) -> None:
        """Register a queued version (once: a version of the same blob from the same run is reused), then move its alias."""
        name = str(op["name"])
        number = op.get("version")
        if number is None:
            done = [
                v
                for v in self._versions_if_any(name)
                if v.digest == op["digest"] and v.run_id == run_id
            ]
            if done:
                number = done[0].version
            else:
                signature = from_plain(Schema, op["signature"]) if op.get("signature") else None
                model = self._queued_model(name, op, run_id, signature)
                number = self._register(
                    name,
                    str(op["digest"]),
                    int(op["size_bytes"]),
                    str(op["flavor"]),
                    run_id,
                    signature,
                    dict(op.get("metadata") or {}),
                    model,
                    op.get("user"),
                ).version
        if op.get("alias"):
            self.set_alias(name, str(op["alias"]), int(number), user=op.get("user"))

    def _versions_if_any(self, name: str) -> list[ModelVersion]:
        try:
            return self._versions(name)
        except MlflowException as exc:
            if is_missing(exc):
                return []
            raise

    @staticmethod
    def _queued_model(
        name: str, op: Mapping[str, Any], run_id: str, signature: Schema | None
    ) -> object | None:
        """The model object rebuilt from its stored blob, so MLflow gets its native flavor too (None if no plugin loads it)."""
        from opskit.errors import OpskitError
        from opskit.loading import load_version

        provisional = ModelVersion(
            name=name,
            version=0,
            digest=str(op["digest"]),
            size_bytes=int(op["size_bytes"]),
            flavor=str(op["flavor"]),
            run_id=run_id,
            created_at=time.time(),
            signature=signature,
            metadata=dict(op.get("metadata") or {}),
        )
        try:
            model: object = load_version(provisional)
        except OpskitError:
            return None
        return model

    def _register(
        self,
        name: str,
        digest: str,
        size_bytes: int,
        flavor: str,
        run_id: str | None,
        signature: Schema | None,
        metadata: Mapping[str, Any],
        model: object | None,
        user: str | None,
    ) -> ModelVersion:
        from opskit_mlflow.native import pip_requirements, save_native

        with self._lock:
            self.flush()
            now = time.time()
            try:
                self.client.create_registered_model(
                    self._m(name), tags={"opskit.created_at": repr(now)}
                )
            except MlflowException as exc:
                if error_code(exc) != "RESOURCE_ALREADY_EXISTS":
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
                if run is None and run_id:  # a queued registration, delivered by `opskit sync`
                    run = self.get_run(run_id)
                packages = run.env.packages if run is not None and run.env is not None else {}
                with tempfile.TemporaryDirectory(prefix="opskit-mlflow-") as tmp:
                    tags["opskit.mlflow_flavor"] = save_native(
                        model,
                        Path(tmp) / path,
                        signature=signature,
                        requirements=pip_requirements(packages, model),
                    )
                    self.client.log_artifacts(mlflow_id, str(Path(tmp) / path), path)
            created = self.client.create_model_version(
                self._m(name), source=f"runs:/{mlflow_id}/{path}", run_id=mlflow_id, tags=tags
            )
            if run_id:
                self.client.set_tag(mlflow_id, MODEL, f"{self._m(name)}:{created.version}")
            version = self._version(created)
            self._append_event(registry_events.version_registered(version, user=user))
            return version

    def _holder_run(self, name: str) -> str:
        """A run of the state experiment that holds the files of versions registered without a run."""
        experiment_id = self._experiment_id(STATE_EXPERIMENT)
        assert experiment_id is not None
        return str(self.client.create_run(experiment_id, run_name=f"registry/{name}").info.run_id)

    def _version(self, found: MLflowModelVersion) -> ModelVersion:
        return version_record(found, self._strip(found.name))

    def _registered(self, name: str) -> Any:
        try:
            return self.client.get_registered_model(self._m(name))
        except MlflowException as exc:
            if not is_missing(exc):
                raise
        known = (
            ", ".join(sorted(self._strip(m.name) for m in self._registered_models())[:20]) or "none"
        )
        raise ModelNotFound(
            f"no registered model {name!r} in the MLflow server at {self.tracking_uri} (models: {known}); "
            "train one with @opskit.train(model=...)"
        ) from None

    def _registered_models(self) -> list[Any]:
        pattern = f"name LIKE '{escape(self._ns)}%'" if self._ns else ""
        found = self._all(
            lambda token: self.client.search_registered_models(
                pattern, max_results=1000, page_token=token
            )
        )
        return [m for m in found if m.name.startswith(self._ns)]

    def _versions(self, name: str) -> list[ModelVersion]:
        found = self._all(
            lambda token: self.client.search_model_versions(
                f"name = '{escape(self._m(name))}'", max_results=10000, page_token=token
            )
        )
        return sorted((self._version(v) for v in found), key=lambda v: v.version)

    def _model(self, registered: Any) -> Model:
        aliases = {
            alias: int(version)
            for alias, version in (getattr(registered, "aliases", None) or {}).items()
        }
        # MLflow's version search leaves ModelVersion.aliases empty: fill them from the model's alias map,
        # so every version says which aliases point at it, as on the local tracker.
        versions = [
            attrs.evolve(v, aliases=sorted(a for a, n in aliases.items() if n == v.version))
            for v in self._versions(self._strip(registered.name))
        ]
        return Model(
            name=self._strip(registered.name),
            created_at=float(
                registered.tags.get("opskit.created_at", registered.creation_timestamp / 1000)
            ),
            versions=versions,
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
        return (
            f"versions {min(numbers)}–{max(numbers)}"
            if len(numbers) > 1
            else f"version {numbers[0]}"
        )

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
                if not is_missing(exc):
                    raise
            raise ModelNotFound(
                f"model {ref.name!r} has no version {number} ({self._numbers(ref.name)}); "
                f"see `opskit models show {ref.name}`"
            )

    def _record_alias(self, change: AliasChange, reason: str | None = None) -> None:
        event = registry_events.alias_changed(change)
        assert event is not None
        self._append_event(attrs.evolve(event, reason=reason))
        body = [
            change.alias,
            change.version,
            change.previous_version,
            change.changed_at,
            change.user,
        ]
        self.client.set_registered_model_tag(
            self._m(change.model), f"{HISTORY}{time.time_ns():020d}", json.dumps(body)
        )

    def set_alias(self, name: str, alias: str, version: int, *, user: str | None) -> AliasChange:
        try:
            with self._refusals(f"set-alias:{alias}", f"{name}@{alias}", name):
                return self._set_alias(name, alias, version, user=user)
        except Exception as exc:
            if is_unreachable(exc):
                raise self._unavailable(exc) from exc
            raise

    def _set_alias(
        self, name: str, alias: str, version: int, *, user: str | None, reason: str | None = None
    ) -> AliasChange:
        with self._lock:
            self.get_model_version(ModelRef(name, version=version))
            previous = (getattr(self._registered(name), "aliases", None) or {}).get(alias)
            change = AliasChange(
                name, alias, version, int(previous) if previous else None, time.time(), user
            )
            if (
                change.previous_version == version
            ):  # already there: nothing moved, nothing to record
                return change
            self._check_log_writable()
            self.client.set_registered_model_alias(self._m(name), alias, str(version))
            try:
                self._record_alias(change, reason)
            except MlflowException as exc:
                if is_refused(exc):  # the user may move the alias but not write the audit log: undo
                    self._undo_alias(name, alias, change.previous_version)
                raise
            return change

    def _undo_alias(self, name: str, alias: str, previous: int | None) -> None:
        """Put *alias* back where it was (an alias move whose event the server refused is not kept)."""
        if previous is None:
            self.client.delete_registered_model_alias(self._m(name), alias)
        else:
            self.client.set_registered_model_alias(self._m(name), alias, str(previous))

    def move_alias(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        user: str | None,
        reason: str | None = None,
        state: StateChange | None = None,
    ) -> AliasChange:
        with self._lock, self._refusals(f"set-alias:{alias}", f"{name}@{alias}", name):
            if state is not None:  # MLflow has no transactions: the document and its event first
                self.get_model_version(ModelRef(name, version=version))
                kind, key, value, event = state
                self.put_state(kind, key, value, event=event)
            return self._set_alias(name, alias, version, user=user, reason=reason)

    def set_version_status(
        self, name: str, version: int, status: str, *, user: str | None, reason: str | None = None
    ) -> ModelVersion:
        if status not in VERSION_STATUSES:
            raise InvalidValue(
                f"unknown version status {status!r}; use one of {', '.join(VERSION_STATUSES)}"
            )
        with (
            self._lock,
            self._refusals(
                "archive" if status == "archived" else f"set-status:{status}",
                f"{name}:{version}",
                name,
            ),
        ):
            found = self.get_model_version(ModelRef(name, version=version))
            if found.status == status:
                return found
            self._check_log_writable()
            self.client.set_model_version_tag(self._m(name), str(version), STATUS, status)
            self._append_event(
                registry_events.status_changed(found, status, user=user, reason=reason)
            )
            return attrs.evolve(found, status=status)

    def delete_model_version(
        self, name: str, version: int, *, user: str | None, reason: str | None = None
    ) -> ModelVersion:
        with self._lock, self._refusals("delete", f"{name}:{version}", name):
            found = self.get_model_version(ModelRef(name, version=version))
            if found.aliases:
                raise VersionInUse(
                    f"cannot delete {found.ref}: the alias(es) {', '.join(found.aliases)} point at it; "
                    "move them first (opskit.models.promote / set_alias) and retry"
                )
            self._check_log_writable()
            self.client.delete_model_version(self._m(name), str(version))
            self._append_event(registry_events.version_deleted(found, user=user, reason=reason))
            return found

    def delete_alias(self, name: str, alias: str, *, user: str | None) -> AliasChange:
        with self._lock, self._refusals(f"delete-alias:{alias}", f"{name}@{alias}", name):
            previous = self.get_model_version(ModelRef(name, alias=alias)).version
            self._check_log_writable()
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
