"""``@opskit.train`` and ``@opskit.track``: a run around every call, the same signature and return value."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

import attrs
from attrs import frozen

from opskit._hooks import hooks
from opskit.errors import BackendUnavailable, InvalidValue, OpskitWarning, RegistrationQueued
from opskit.names import (
    validate_alias,
    validate_experiment,
    validate_model_name,
    validate_run_name,
    validate_tag_key,
    validate_tag_value,
)
from opskit.records import ColumnSpec, ModelVersion, Schema
from opskit.registry.events import alias_changed, version_registered
from opskit.registry.hooks import fire_hooks
from opskit.sdk import identity, lifecycle
from opskit.sdk.context import ActiveRun, new_run
from opskit.tracker.capabilities import SupportsQueuedRegistration

if TYPE_CHECKING:
    from opskit.tracker.base import Tracker

__all__ = ["explicit_signature", "model_signature", "register_model", "register_version", "track", "train"]

P = ParamSpec("P")
R = TypeVar("R")


@frozen
class _Options:
    model: str | None
    alias: str | None
    register: bool
    name: str | None
    experiment: str | None
    tags: Mapping[str, Any]
    signature: Schema | None = None


def register_model(
    run: ActiveRun, name: str, model: object, *, alias: str | None, signature: Schema | None
) -> ModelVersion | None:
    """Serialize *model*, store its blob, register a version from *run* and move *alias* to it.

    If the tracker cannot be reached and keeps an outbox, the registration (and the alias
    move) waits there with the run for ``opskit sync``: a ``RegistrationQueued`` warning,
    and None instead of the version. Training is never lost to an outage.
    """
    return register_version(run.tracker, run.id, name, model, alias=alias, signature=signature)


def register_version(
    tracker: Tracker, run_id: str | None, name: str, model: object, *, alias: str | None, signature: Schema | None
) -> ModelVersion | None:
    """Serialize *model*, store its blob, register a version (of run *run_id*, if any) and move *alias* to it.

    During an outage a registration that belongs to a run is queued in the tracker's outbox
    (see ``register_model``) and None is returned; one without a run raises ``BackendUnavailable``.
    """
    from opskit.runtime import get_storage

    serialized = hooks.serialize_model(model)
    if serialized is None:
        raise InvalidValue(
            f"no installed plugin can serialize a {type(model).__qualname__}; return a model object "
            "or install a plugin with a `serialize_model` hook for it"
        )
    blob = get_storage().put_bytes(serialized.data)
    queued = functools.partial(
        _queue_registration, tracker, run_id, name, digest=blob.digest, size_bytes=blob.size_bytes,
        flavor=serialized.flavor, signature=signature, metadata=serialized.metadata, alias=alias,
    )
    try:
        version = tracker.register_model_version(
            name,
            digest=blob.digest,
            size_bytes=blob.size_bytes,
            flavor=serialized.flavor,
            run_id=run_id,
            signature=signature,
            metadata=serialized.metadata,
            model=model,
        )
    except BackendUnavailable as exc:
        return queued(error=exc, version=None)
    # Hooks fire from the events the tracker appended with each change (opskit.registry.events).
    fire_hooks([version_registered(version, user=identity.user())])
    if alias is not None:
        try:
            change = tracker.set_alias(name, alias, version.version, user=identity.user())
        except BackendUnavailable as exc:
            queued(error=exc, version=version.version)
            return version
        fire_hooks([alias_changed(change)])
        version = attrs.evolve(version, aliases=(*version.aliases, alias))
    return version


def _queue_registration(
    tracker: Tracker, run_id: str | None, name: str, *, digest: str, size_bytes: int, flavor: str,
    signature: Schema | None, metadata: Mapping[str, Any], alias: str | None, error: BackendUnavailable,
    version: int | None,
) -> None:
    """Hand a registration the tracker could not take to its outbox (re-raise *error* if it has none)."""
    import warnings

    if run_id is None or not isinstance(tracker, SupportsQueuedRegistration) or not tracker.queue_registration(
        name, digest=digest, size_bytes=size_bytes, flavor=flavor, run_id=run_id, signature=signature,
        metadata=metadata, alias=alias, user=identity.user(), version=version,
    ):
        raise error
    what = f"moving alias {alias!r} to {name}:{version}" if version is not None else (
        f"registering model {name!r}" + (f" (and moving alias {alias!r})" if alias else "")
    )
    warnings.warn(
        f"{what} failed: {error}. Nothing is lost: the model blob {digest} is stored and the "
        f"registration waits with run {run_id} in the outbox; run `opskit sync` when the server is back",
        RegistrationQueued,
        stacklevel=5,
    )


def _wrap(fn: Callable[P, R], opts: _Options, *, is_train: bool) -> Callable[P, R]:
    from opskit.capture.code import capture_code

    sig = inspect.signature(fn)
    model_name = validate_model_name(opts.model or fn.__name__) if is_train else None

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from opskit.capture.env import capture_env
        from opskit.capture.params import bind_arguments, split_arguments
        from opskit.runtime import get_config

        config = get_config()
        params, data = split_arguments(bind_arguments(sig, args, kwargs))
        run = new_run(
            name=opts.name or fn.__name__,
            experiment=opts.experiment,
            fallback_experiment=model_name or fn.__name__,
            tags=opts.tags,
            params=params,
            code=capture_code(fn, git=config.capture_git),
            env=capture_env(packages=config.capture_env),
            inputs=[d for d, _ in data],
        )
        run.begin()
        try:
            result = fn(*args, **kwargs)
            if model_name is not None and opts.register:
                if result is None:
                    import warnings

                    warnings.warn(
                        f"@opskit.train function {fn.__name__!r} returned None: nothing was registered. "
                        "Return the fitted model (or use @opskit.track for runs without a model)",
                        OpskitWarning,
                        stacklevel=2,
                    )
                else:
                    signature = opts.signature or model_signature(result, [v for _, v in data])
                    run.model_version = register_model(run, model_name, result, alias=opts.alias, signature=signature)
        except BaseException as exc:
            run.end(lifecycle.exit_status(exc), exc)
            raise
        run.end("FINISHED")
        return result

    wrapper.__opskit__ = opts  # type: ignore[attr-defined]
    return wrapper


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
    schemas = [s for s in (hooks.infer_schema(v) for v in data) if s is not None]
    names = _feature_names(model)
    if names is not None:
        for schema in schemas:
            if schema.kind == "table" and set(names) <= set(schema.names):
                by_name = {c.name: c for c in schema.columns}
                return Schema(tuple(by_name[n] for n in names))
        return Schema(tuple(ColumnSpec(n, "unknown") for n in names))
    width = _width(model)
    if width is not None:
        for schema in schemas:
            if len(schema.columns) == width or (schema.shape is not None and schema.shape[1:2] == (width,)):
                return schema
        if schemas:
            return None
    return schemas[0] if schemas else None


def explicit_signature(signature: Schema | object | None, input_example: object | None) -> Schema | None:
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
        schema = attrs.evolve(schema, columns=[attrs.evolve(c, missing=None, infinite=None) for c in schema.columns])
    return schema


def _options(model: str | None, alias: str | None, register: bool, name: str | None,
             experiment: str | None, tags: Mapping[str, Any] | None, signature: Schema | None = None) -> _Options:
    if model is not None:
        validate_model_name(model)
    if alias is not None:
        validate_alias(alias)
    if experiment is not None:
        validate_experiment(experiment)
    if name is not None:
        validate_run_name(name)
    for key, value in (tags or {}).items():  # every name rule at decoration time, not after training
        validate_tag_key(key)
        validate_tag_value(key, value)
    return _Options(model, alias, register, name, experiment, dict(tags or {}), signature)


@overload
def train(fn: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def train(
    *,
    model: str | None = None,
    alias: str | None = None,
    register: bool = True,
    name: str | None = None,
    experiment: str | None = None,
    tags: Mapping[str, Any] | None = None,
    signature: Schema | object | None = None,
    input_example: object | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def train(
    fn: Callable[P, R] | None = None,
    /,
    *,
    model: str | None = None,
    alias: str | None = None,
    register: bool = True,
    name: str | None = None,
    experiment: str | None = None,
    tags: Mapping[str, Any] | None = None,
    signature: Schema | object | None = None,
    input_example: object | None = None,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Track every call as a run and register the returned model as a new version.

    ``model`` names the registered model (default: the function name); ``alias``
    moves that alias to each new version; ``register=False`` keeps the run only.
    ``signature`` (an ``opskit.Schema`` or data to infer it from) or
    ``input_example`` (a few rows) states the model's input; by default it is
    taken from the returned model's feature names and the data arguments.
    The decorated function keeps its signature and returns what it returned.
    """
    opts = _options(model, alias, register, name, experiment, tags, explicit_signature(signature, input_example))
    if fn is not None:
        return _wrap(fn, opts, is_train=True)
    return lambda f: _wrap(f, opts, is_train=True)


@overload
def track(fn: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def track(
    *, name: str | None = None, experiment: str | None = None, tags: Mapping[str, Any] | None = None
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def track(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    experiment: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Track every call as a run (params, code, env, data inputs, metrics), with no model."""
    opts = _options(None, None, False, name, experiment, tags)
    if fn is not None:
        return _wrap(fn, opts, is_train=False)
    return lambda f: _wrap(f, opts, is_train=False)
