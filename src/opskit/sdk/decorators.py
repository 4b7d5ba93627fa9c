"""``@opskit.train`` and ``@opskit.track``: a run around every call, the same signature and return value."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar, overload

import attrs
from attrs import frozen

from opskit._hooks import hooks
from opskit.errors import BackendUnavailable, InvalidValue, OpskitWarning, RegistrationQueued
from opskit.names import validate_alias, validate_model_name
from opskit.records import DataInput, ModelVersion, Schema
from opskit.sdk import identity, lifecycle
from opskit.sdk.context import ActiveRun, new_run

__all__ = ["register_model", "track", "train"]

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


def register_model(
    run: ActiveRun, name: str, model: object, *, alias: str | None, signature: Schema | None
) -> ModelVersion | None:
    """Serialize *model*, store its blob, register a version from *run* and move *alias* to it.

    If the tracker cannot be reached and keeps an outbox, the registration (and the alias
    move) waits there with the run for ``opskit sync``: a ``RegistrationQueued`` warning,
    and None instead of the version. Training is never lost to an outage.
    """
    from opskit._backends import get_storage

    serialized = hooks.serialize_model(model)
    if serialized is None:
        raise InvalidValue(
            f"no installed plugin can serialize a {type(model).__qualname__}; return a model object "
            "or install a plugin with a `serialize_model` hook for it"
        )
    blob = get_storage().put_bytes(serialized.data)
    queued = functools.partial(
        _queue_registration, run, name, digest=blob.digest, size_bytes=blob.size_bytes, flavor=serialized.flavor,
        signature=signature, metadata=serialized.metadata, alias=alias,
    )
    try:
        version = run.tracker.register_model_version(
            name,
            digest=blob.digest,
            size_bytes=blob.size_bytes,
            flavor=serialized.flavor,
            run_id=run.id,
            signature=signature,
            metadata=serialized.metadata,
            model=model,
        )
    except BackendUnavailable as exc:
        return queued(error=exc, version=None)
    hooks.after_model_registered(version)
    if alias is not None:
        try:
            change = run.tracker.set_alias(name, alias, version.version, user=identity.user())
        except BackendUnavailable as exc:
            queued(error=exc, version=version.version)
            return version
        hooks.after_alias_changed(change)
        version = attrs.evolve(version, aliases=(*version.aliases, alias))
    return version


def _queue_registration(
    run: ActiveRun, name: str, *, digest: str, size_bytes: int, flavor: str, signature: Schema | None,
    metadata: Mapping[str, Any], alias: str | None, error: BackendUnavailable, version: int | None,
) -> None:
    """Hand a registration the tracker could not take to its outbox (re-raise *error* if it has none)."""
    import warnings

    queue = getattr(run.tracker, "queue_registration", None)
    if queue is None or not queue(
        name, digest=digest, size_bytes=size_bytes, flavor=flavor, run_id=run.id, signature=signature,
        metadata=metadata, alias=alias, user=identity.user(), version=version,
    ):
        raise error
    what = f"moving alias {alias!r} to {name}:{version}" if version is not None else (
        f"registering model {name!r}" + (f" (and moving alias {alias!r})" if alias else "")
    )
    warnings.warn(
        f"{what} failed: {error}. Nothing is lost: the model blob {digest} is stored and the "
        f"registration waits with run {run.id} in the outbox; run `opskit sync` when the server is back",
        RegistrationQueued,
        stacklevel=4,
    )


def _wrap(fn: Callable[P, R], opts: _Options, *, is_train: bool) -> Callable[P, R]:
    from opskit.capture.code import capture_code

    sig = inspect.signature(fn)
    model_name = validate_model_name(opts.model or fn.__name__) if is_train else None

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from opskit.capture.env import capture_env
        from opskit.capture.params import bind_arguments, split_arguments
        from opskit.config import get_config

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
                    run.model_version = register_model(
                        run, model_name, result, alias=opts.alias, signature=_signature(data)
                    )
        except BaseException as exc:
            run.end(lifecycle.exit_status(exc), exc)
            raise
        run.end("FINISHED")
        return result

    wrapper.__opskit__ = opts  # type: ignore[attr-defined]
    return wrapper


def _signature(data: list[tuple[DataInput, object]]) -> Schema | None:
    """The schema of the first data argument that has one (files and folders have none)."""
    for _, value in data:
        schema = hooks.infer_schema(value)
        if schema is not None:
            return schema
    return None


def _options(model: str | None, alias: str | None, register: bool, name: str | None,
             experiment: str | None, tags: Mapping[str, Any] | None) -> _Options:
    if model is not None:
        validate_model_name(model)
    if alias is not None:
        validate_alias(alias)
    return _Options(model, alias, register, name, experiment, dict(tags or {}))


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
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Track every call as a run and register the returned model as a new version.

    ``model`` names the registered model (default: the function name); ``alias``
    moves that alias to each new version; ``register=False`` keeps the run only.
    The decorated function keeps its signature and returns what it returned.
    """
    opts = _options(model, alias, register, name, experiment, tags)
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
