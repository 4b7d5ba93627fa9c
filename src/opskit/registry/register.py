"""Registering a model version: serialize → store the blob → tracker (the registry's only writer).

Also the model's input signature: ``model_signature`` (inferred from the model and
its training data) and ``explicit_signature`` (stated by the user).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from opskit._hooks import hooks
from opskit._stack import user_stacklevel
from opskit.errors import BackendUnavailable, InvalidValue, RegistrationQueued
from opskit.records import ColumnSpec, ModelVersion, Schema
from opskit.registry.events import alias_changed, version_registered
from opskit.registry.hooks import fire_hooks
from opskit.sdk import identity
from opskit.tracker.capabilities import SupportsQueuedRegistration

if TYPE_CHECKING:
    from opskit.tracker.base import Tracker
    from opskit.tracking.context import ActiveRun

__all__ = [
    "authorize_registration",
    "explicit_signature",
    "model_signature",
    "register_model",
    "register_version",
    "signature_and_source",
]


def register_model(
    run: ActiveRun,
    name: str,
    model: object,
    *,
    alias: str | None,
    signature: Schema | None,
    metadata: Mapping[str, Any] | None = None,
    reference: object | None = None,
    validated: bool = False,
) -> ModelVersion | None:
    """Serialize *model*, store its blob, register a version from *run* and move *alias* to it.

    *validated* says the run's validation passed (its report is stored after registration):
    enough for a protected alias's ``require_validation``.

    *reference* is the training data: its profile (``opskit.monitor.profile``, the
    signature's columns) is stored with the version for ``drift(reference="name@alias")``.

    If the tracker cannot be reached and keeps an outbox, the registration (and the alias
    move) waits there with the run for ``opskit sync``: a ``RegistrationQueued`` warning,
    and None instead of the version. Training is never lost to an outage.
    """
    return register_version(
        run.tracker,
        run.id,
        name,
        model,
        alias=alias,
        signature=signature,
        metadata=metadata,
        reference=reference,
        validated=validated,
    )


def authorize_registration(name: str, alias: str | None) -> None:
    """``PermissionDenied`` unless the access policy lets this user register *name* (and set *alias* on it)."""
    from opskit.governance.policy import require

    require("register", subject=name, model=name)
    if alias is not None:
        require(f"set-alias:{alias}", subject=f"{name}@{alias}", model=name)


def register_version(
    tracker: Tracker,
    run_id: str | None,
    name: str,
    model: object,
    *,
    alias: str | None,
    signature: Schema | None,
    metadata: Mapping[str, Any] | None = None,
    reference: object | None = None,
    validated: bool = False,
) -> ModelVersion | None:
    """Serialize *model*, store its blob, register a version (of run *run_id*, if any) and move *alias* to it.

    *metadata* is added to the serializer's version metadata (``opskit.status`` and the like).
    A table *reference* (the training data) is profiled and the profile stored as a blob
    named in the version's metadata (``opskit.monitor.stored``); other data gets no profile.

    During an outage a registration that belongs to a run is queued in the tracker's outbox
    (see ``register_model``) and None is returned; one without a run raises ``BackendUnavailable``.
    """
    from opskit.runtime import get_storage

    authorize_registration(name, alias)
    serialized = hooks.serialize_model(model)
    if serialized is None:
        raise InvalidValue(
            f"no installed plugin can serialize a {type(model).__qualname__}; return a model object "
            "or install a plugin with a `serialize_model` hook for it"
        )
    if metadata:
        serialized = attrs.evolve(serialized, metadata={**serialized.metadata, **metadata})
    blob = get_storage().put_bytes(serialized.data)
    version_metadata = dict(serialized.metadata)
    if reference is not None:
        from opskit.monitor.stored import PROFILE_KEY, store_profile

        columns = signature.names if signature is not None and signature.kind == "table" else None
        stored = store_profile(reference, columns)
        if stored is not None:
            version_metadata[PROFILE_KEY] = stored
    queued = functools.partial(
        _queue_registration,
        tracker,
        run_id,
        name,
        digest=blob.digest,
        size_bytes=blob.size_bytes,
        flavor=serialized.flavor,
        signature=signature,
        metadata=version_metadata,
        alias=_queueable(alias),
        protected=alias if alias is not None and _queueable(alias) is None else None,
    )
    try:
        version = tracker.register_model_version(
            name,
            digest=blob.digest,
            size_bytes=blob.size_bytes,
            flavor=serialized.flavor,
            run_id=run_id,
            signature=signature,
            metadata=version_metadata,
            model=model,
        )
    except BackendUnavailable as exc:
        return queued(error=exc, version=None)
    # Hooks fire from the events the tracker appended with each change (opskit.registry.events).
    fire_hooks([version_registered(version, user=identity.user())])
    if alias is not None:
        from opskit.governance.approvals import pending

        try:
            if pending(name, alias, version.version, registering=True, validated=validated):
                return version  # protected: an approval request was opened instead
            change = tracker.set_alias(name, alias, version.version, user=identity.user())
        except BackendUnavailable as exc:
            queued(error=exc, version=version.version)
            return version
        fire_hooks([alias_changed(change)])
        version = attrs.evolve(version, aliases=(*version.aliases, alias))
    return version


def _queueable(alias: str | None) -> str | None:
    """*alias*, or None when it is protected: a queued move would skip its approval (``opskit sync``)."""
    from opskit.runtime import get_config

    if alias is None or not get_config().governance.is_protected(alias):
        return alias
    return None


def _queue_registration(
    tracker: Tracker,
    run_id: str | None,
    name: str,
    *,
    digest: str,
    size_bytes: int,
    flavor: str,
    signature: Schema | None,
    metadata: Mapping[str, Any],
    alias: str | None,
    error: BackendUnavailable,
    version: int | None,
    protected: str | None = None,
) -> None:
    """Hand a registration the tracker could not take to its outbox (re-raise *error* if it has none)."""
    import warnings

    if (
        run_id is None
        or not isinstance(tracker, SupportsQueuedRegistration)
        or not tracker.queue_registration(
            name,
            digest=digest,
            size_bytes=size_bytes,
            flavor=flavor,
            run_id=run_id,
            signature=signature,
            metadata=metadata,
            alias=alias,
            user=identity.user(),
            version=version,
        )
    ):
        raise error
    what = (
        f"moving alias {alias!r} to {name}:{version}"
        if version is not None
        else (f"registering model {name!r}" + (f" (and moving alias {alias!r})" if alias else ""))
    )
    warnings.warn(
        f"{what} failed: {error}. Nothing is lost: the model blob {digest} is stored and the "
        f"registration waits with run {run_id} in the outbox; run `opskit sync` when the server is back"
        + (
            f"; the protected alias {protected!r} does not move with it: request the move with "
            f"`opskit models promote {name}:VERSION {protected}` once it is delivered"
            if protected
            else ""
        ),
        RegistrationQueued,
        stacklevel=user_stacklevel(),
    )


def _feature_names(model: object) -> list[str] | None:
    """The input columns a fitted model consumes, when it says (scikit-learn, XGBoost, LightGBM, CatBoost)."""
    for attr in ("feature_names_in_", "feature_names", "feature_name_", "feature_names_"):
        try:
            names = getattr(model, attr, None)
        except Exception:  # a property of an unfitted model may raise anything
            continue
        if names is not None and not isinstance(names, str | bytes) and not callable(names):
            try:
                found = [str(n) for n in names]
            except TypeError:
                continue
            if found:
                return found
    return None


def _width(model: object) -> int | None:
    try:
        n = getattr(model, "n_features_in_", None)
    except Exception:
        return None
    return int(n) if isinstance(n, int) and not isinstance(n, bool) else None


def model_signature(model: object, data: list[object]) -> Schema | None:
    """What *model* consumes: its feature names with their dtypes from the data it was trained on.

    A model that names its input columns (``feature_names_in_`` and friends) gets
    those columns, typed from the first data argument that holds them all (so a
    target column in the same frame is left out). A model that only knows its
    width (``n_features_in_``) gets the first data schema of that width. Other
    models get the schema of the first data argument that has one. ``None`` when
    nothing fits (pass ``signature=`` or ``input_example=``).
    """
    return signature_and_source(model, data)[0]


def signature_and_source(model: object, data: list[object]) -> tuple[Schema | None, object | None]:
    """:func:`model_signature` and the data argument it was taken from (None when none was)."""
    found = [(v, s) for v, s in ((v, hooks.infer_schema(v)) for v in data) if s is not None]
    names = _feature_names(model)
    if names is not None:
        for value, schema in found:
            if schema.kind == "table" and set(names) <= set(schema.names):
                by_name = {c.name: c for c in schema.columns}
                return Schema(tuple(by_name[n] for n in names)), value
        return Schema(tuple(ColumnSpec(n, "unknown") for n in names)), None
    width = _width(model)
    if width is not None:
        for value, schema in found:
            if len(schema.columns) == width or (
                schema.shape is not None and schema.shape[1:2] == (width,)
            ):
                return schema, value
        if found:
            return None, None
    return (found[0][1], found[0][0]) if found else (None, None)


def explicit_signature(
    signature: Schema | object | None, input_example: object | None
) -> Schema | None:
    """A signature stated by the user: a ``Schema``, data to infer it from, or an input example.

    From an input example (a few rows) only dtypes and categories are kept:
    whether missing or infinite values are valid stays unknown (so they are
    accepted wherever the dtype can hold them).
    """
    if signature is not None and input_example is not None:
        raise InvalidValue("pass either signature= or input_example=, not both")
    if signature is None and input_example is None:
        return None
    if isinstance(signature, Schema):
        return signature
    value = signature if signature is not None else input_example
    schema = hooks.infer_schema(value)
    if schema is None:
        what = "signature" if signature is not None else "input_example"
        raise InvalidValue(
            f"cannot infer a schema from the {what} {type(value).__qualname__}; pass an opskit.Schema, "
            "a pandas DataFrame or a NumPy array"
        )
    if input_example is not None:
        schema = attrs.evolve(
            schema, columns=[attrs.evolve(c, missing=None, infinite=None) for c in schema.columns]
        )
    return schema
