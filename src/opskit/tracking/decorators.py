"""``@opskit.train`` and ``@opskit.track``: a run around every call, the same signature and return value.

The decorators only check their options (``RunOptions`` / ``TrainOptions``, each
option declared once, as a field) and hand every call to the engine in
``opskit.tracking.pipeline``. To add an option: add a field (with its validator)
to the record, and the keyword to the ``@overload`` signatures below.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar, overload

import attrs
from attrs import field, frozen

from opskit.names import (
    validate_alias,
    validate_experiment,
    validate_model_name,
    validate_run_name,
    validate_tag_key,
    validate_tag_value,
)
from opskit.records import Schema
from opskit.tracking import pipeline

__all__ = ["RunOptions", "TrainOptions", "track", "train"]

P = ParamSpec("P")
R = TypeVar("R")


def _optional(check: Callable[[str], object]) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    """An attrs validator applying a name rule to a value that may be None."""

    def validate(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None:
            check(value)

    return validate


def _tags(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """Tags checked at decoration time (every name rule then, not after training), copied."""
    tags = dict(value or {})
    for key, tag in tags.items():
        validate_tag_key(key)
        validate_tag_value(key, tag)
    return tags


@frozen(kw_only=True)
class RunOptions:
    """The options of ``@opskit.track`` (and the run half of ``@opskit.train``), checked when decorating."""

    #: The run's name (default: the function name).
    name: str | None = field(default=None, validator=_optional(validate_run_name))
    #: The experiment (default: the configured one, else the model or function name).
    experiment: str | None = field(default=None, validator=_optional(validate_experiment))
    #: Tags set on every run.
    tags: Mapping[str, Any] = field(default=None, converter=_tags)


@frozen(kw_only=True)
class TrainOptions(RunOptions):
    """The options of ``@opskit.train``: the run's, plus what to register."""

    #: The registered model's name (default: the function name).
    model: str | None = field(default=None, validator=_optional(validate_model_name))
    #: An alias moved to each new version.
    alias: str | None = field(default=None, validator=_optional(validate_alias))
    #: False: keep the run only, register nothing.
    register: bool = True
    #: The model's input: an ``opskit.Schema`` or data to infer it from.
    signature: Schema | object | None = None
    #: A few input rows to infer the model's input from (instead of ``signature``).
    input_example: object | None = None
    #: The input schema stated by ``signature`` / ``input_example`` (None: inferred at registration).
    schema: Schema | None = field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        from opskit.registry.register import explicit_signature

        object.__setattr__(self, "schema", explicit_signature(self.signature, self.input_example))


def _options(kind: type[RunOptions], decorator: str, options: Mapping[str, Any]) -> RunOptions:
    known = {a.name for a in attrs.fields(kind) if a.init}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(
            f"@opskit.{decorator} got unexpected option(s) {', '.join(map(repr, unknown))}; "
            f"it takes {', '.join(sorted(known))}"
        )
    return kind(**options)


def _wrap(fn: Callable[P, R], options: RunOptions) -> Callable[P, R]:
    model_name = validate_model_name(options.model or fn.__name__) if isinstance(options, TrainOptions) else None
    definition = pipeline.Definition(fn, inspect.signature(fn), options, model_name)

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        return pipeline.execute(definition, args, kwargs)

    wrapper.__opskit__ = options  # type: ignore[attr-defined]
    return wrapper


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
    fn: Callable[P, R] | None = None, /, **options: Any
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Track every call as a run and register the returned model as a new version.

    ``model`` names the registered model (default: the function name); ``alias``
    moves that alias to each new version; ``register=False`` keeps the run only.
    ``signature`` (an ``opskit.Schema`` or data to infer it from) or
    ``input_example`` (a few rows) states the model's input; by default it is
    taken from the returned model's feature names and the data arguments.
    The decorated function keeps its signature and returns what it returned.
    """
    opts = _options(TrainOptions, "train", options)
    if fn is not None:
        return _wrap(fn, opts)
    return lambda f: _wrap(f, opts)


@overload
def track(fn: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def track(
    *, name: str | None = None, experiment: str | None = None, tags: Mapping[str, Any] | None = None
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def track(
    fn: Callable[P, R] | None = None, /, **options: Any
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Track every call as a run (params, code, env, data inputs, metrics), with no model."""
    opts = _options(RunOptions, "track", options)
    if fn is not None:
        return _wrap(fn, opts)
    return lambda f: _wrap(f, opts)
