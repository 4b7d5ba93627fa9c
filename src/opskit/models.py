"""The model registry: ``opskit.models.list()``, ``get``, ``set_alias``, ``delete_alias``, ``history``, ``requirements``."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from opskit.names import ModelRef, validate_alias, validate_model_name
from opskit.records import AliasChange, Model, ModelVersion, Schema
from opskit.registry.events import EventKind, RegistryEvent, alias_changed
from opskit.registry.hooks import fire_hooks
from opskit.runtime import get_tracker
from opskit.sdk import identity

if TYPE_CHECKING:
    from opskit.capture.requirements import Requirements
    from opskit.governance.approvals import ApprovalRequest
    from opskit.records.card import ModelCard

__all__ = [
    "archive",
    "card",
    "delete",
    "delete_alias",
    "events",
    "get",
    "get_version",
    "history",
    "list",
    "promote",
    "register",
    "requirements",
    "rollback",
    "set_alias",
]


def list() -> builtins.list[Model]:
    """Every registered model, sorted by name."""
    return get_tracker().list_models()


def get(name: str) -> Model:
    """One model with its versions and aliases (raises ``ModelNotFound``)."""
    return get_tracker().get_model(validate_model_name(name))


def get_version(ref: str | ModelRef) -> ModelVersion:
    """The version a reference points at: ``name``, ``name:3`` or ``name@alias``."""
    return get_tracker().get_model_version(ModelRef.parse(ref))


def requirements(ref: str | ModelRef) -> Requirements:
    """Pinned requirements for the environment that trained a version (``str(...)`` is the file).

    Only the distributions the training process imported when the run recorded them
    (``@opskit.train`` / ``@opskit.track`` do), else every captured package; the first
    comment line says which. ``opskit models requirements REF -o requirements.txt`` writes it.
    """
    from opskit.capture.requirements import version_requirements
    from opskit.errors import RunNotFound

    tracker = get_tracker()
    version = tracker.get_model_version(ModelRef.parse(ref))
    run = None
    if version.run_id:
        try:
            run = tracker.get_run(version.run_id)
        except RunNotFound:
            run = None
    return version_requirements(version, run)


def _version_number(name: str, version: object) -> int:
    """The version number *version* stands for: an int, its text, or a ``ModelVersion`` of model *name*."""
    from opskit.errors import InvalidModelRef

    if isinstance(version, ModelVersion):
        if version.name != name:
            raise InvalidModelRef(
                f"{version.ref} is a version of model {version.name!r}, not of {name!r}; pass a version of {name!r} "
                f"(see `opskit models show {name}`) or set the alias on {version.name!r}"
            )
        return version.version
    if isinstance(version, str) and version.strip().isdigit():
        version = int(version)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidModelRef(
            f"version {version!r} of model {name!r} is not a version number: pass an int >= 1 or a ModelVersion "
            f"(see `opskit models show {name}`)"
        )
    return version


def set_alias(name: str, alias: str, version: int | ModelVersion) -> AliasChange:
    """Point *alias* at *version* (a number or a ``ModelVersion`` of this model); the move is kept in the alias history.

    Setting an alias to the version it already points at changes nothing: no history entry and no
    ``after_alias_changed`` hook; the returned change has ``previous_version == version``.
    A protected alias (``[tool.opskit.governance]``) does not move: an approval request is
    opened (an ``ApprovalPending`` warning names it) and the returned change says the alias
    stayed where it was (``version == previous_version``).
    """
    from opskit.governance.policy import require

    name, alias = validate_model_name(name), validate_alias(alias)
    number = _version_number(name, version)
    require(f"set-alias:{alias}", subject=f"{name}@{alias}", model=name)
    from opskit.governance.approvals import pending

    stayed = pending(name, alias, number)
    if stayed is not None:
        return stayed
    change = get_tracker().set_alias(name, alias, number, user=identity.user())
    fire_hooks([alias_changed(change)])  # None (no hook) when the alias already pointed there
    return change


def delete_alias(name: str, alias: str) -> AliasChange:
    """Remove *alias* from model *name*."""
    from opskit.governance.policy import require

    name, alias = validate_model_name(name), validate_alias(alias)
    require(f"delete-alias:{alias}", subject=f"{name}@{alias}", model=name)
    change = get_tracker().delete_alias(name, alias, user=identity.user())
    fire_hooks([alias_changed(change)])
    return change


def history(name: str, alias: str | None = None) -> builtins.list[AliasChange]:
    """Every move of the model's aliases (or of one alias), oldest first."""
    return get_tracker().alias_history(validate_model_name(name), alias)


def events(
    name: str | None = None,
    *,
    since: int | None = None,
    kinds: builtins.list[EventKind] | tuple[EventKind, ...] | None = None,
    limit: int | None = None,
) -> builtins.list[RegistryEvent]:
    """The registry events (versions registered, aliases set/moved/removed, deployments created/switched/stopped), oldest first.

    *name* keeps those of one model (deployment events belong to no model); *since* those after
    the event with that ``id``; *kinds* those of these kinds; *limit* at most that many (the oldest).
    Every change is one event, appended by the tracker in the same transaction as the change.
    """
    return get_tracker().events(
        model=None if name is None else validate_model_name(name),
        since=since,
        kinds=None if kinds is None else tuple(kinds),
        limit=limit,
    )


def register(
    model: object,
    name: str,
    *,
    signature: Schema | Any | None = None,
    input_example: Any | None = None,
    alias: str | None = None,
    reference: Any | None = None,
) -> ModelVersion:
    """Register a model you already fitted as the next version of *name* (no run; ``run_id`` is None).

    ``signature`` is an ``opskit.Schema`` or data to infer it from (e.g. the
    training frame); ``input_example`` a few rows (dtypes only). Without either,
    the model's own feature names are used when it has them (their dtypes are
    then unknown: pass ``signature=`` so the server can cast requests exactly).
    ``reference`` is the training data (a pandas DataFrame or pyarrow Table; default: the
    ``signature`` data when that is a table): its profile is stored with the version, so
    ``opskit.monitor.drift(reference="name@alias", ...)`` needs no training data later.
    Raises ``BackendUnavailable`` when the tracker cannot be reached (there is no run whose
    outbox could keep the registration).
    """
    from opskit.registry.register import explicit_signature, model_signature, register_version

    validate_model_name(name)
    if alias is not None:
        validate_alias(alias)
    schema = explicit_signature(signature, input_example) or model_signature(model, [])
    if reference is None and signature is not None and not isinstance(signature, Schema):
        reference = signature
    version = register_version(
        get_tracker(), None, name, model, alias=alias, signature=schema, reference=reference
    )
    assert (
        version is not None
    )  # only a run's registration is queued during an outage; this one raises
    return version


def promote(
    ref: str | ModelRef, alias: str, *, comment: str | None = None
) -> AliasChange | ApprovalRequest:
    """Point *alias* at the version *ref* (``"wine:7"``, ``"production"``), audited with *comment*.

    Refuses an archived or rejected version (``VersionNotServable``) and an alias of another
    model (``InvalidModelRef``: ``promote("wine:7", "iris@production")``); nothing moves then.
    On a protected alias (docs/governance.md) nothing moves either: the open
    ``ApprovalRequest`` is returned; approvals by other users (``opskit.approvals``) move it.
    """
    from opskit.registry.lifecycle import promote as _promote

    return _promote(ref, alias, comment=comment)


def rollback(name: str, alias: str, *, comment: str | None = None) -> AliasChange:
    """Point *alias* back at the version it pointed at before its last move; audited.

    Raises ``NoRollbackTarget`` when the alias was never moved (or was removed).
    """
    from opskit.registry.lifecycle import rollback as _rollback

    return _rollback(name, alias, comment=comment)


def archive(ref: str | ModelRef, *, comment: str | None = None) -> ModelVersion:
    """Mark a version ``archived``: kept, but never promoted or deployed again.

    Refused (``VersionInUse``) while an alias or a running deployment uses it.
    """
    from opskit.registry.lifecycle import archive as _archive

    return _archive(ref, comment=comment)


def delete(ref: str | ModelRef, *, comment: str | None = None) -> ModelVersion:
    """Remove a version from the registry, and its blob when no other record references it.

    Refused (``VersionInUse``) while an alias or a running deployment uses it; the audit log
    keeps the deleted record. Version numbers are never reused.
    """
    from opskit.registry.lifecycle import delete as _delete

    return _delete(ref, comment=comment)


def card(ref: str | ModelRef) -> ModelCard:
    """The model card of a version (``"wine@production"``, ``"wine:7"``, ``"wine"``): a ``ModelCard`` record.

    It holds the model and version, status, intended use and limitations (the ``card=`` option
    of ``@opskit.train``, else its docstring), training data (dataset versions or digests, shapes,
    schemas), params, metrics, the validation report and fairness results, the environment, and
    the approvals and alias history from the audit log. ``.to_markdown()`` and ``.to_html()``
    (one self-contained page) render it; notebooks show it through ``_repr_html_``.
    """
    from opskit.governance.card import build_card

    return build_card(ref)
