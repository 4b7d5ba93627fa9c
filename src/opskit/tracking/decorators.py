"""``@opskit.train`` and ``@opskit.track``: a run around every call, the same signature and return value.

The decorators only check their options (``RunOptions`` / ``TrainOptions``, each
option declared once, as a field) and hand every call to the engine in
``opskit.tracking.pipeline``. To add an option: add a field (with its validator)
to the record, and the keyword to the ``@overload`` signatures below.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar, overload

import attrs

from opskit.names import (
    validate_model_name,
)
from opskit.records import Schema

if TYPE_CHECKING:
    from opskit.data.snapshots import DataMode
from opskit.tracking import pipeline
from opskit.tracking.options import RunOptions, TrainOptions

__all__ = ["RunOptions", "TrainOptions", "track", "train"]

P = ParamSpec("P")
R = TypeVar("R")


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
    model_name = (
        validate_model_name(options.model or fn.__name__)
        if isinstance(options, TrainOptions)
        else None
    )
    definition = pipeline.Definition(fn, inspect.signature(fn), options, model_name)
    if options.checks or (isinstance(options, TrainOptions) and options.evaluate):
        from opskit.validation.runner import check_arguments

        check_arguments(fn.__name__, definition.signature, options)

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        return pipeline.execute(definition, args, kwargs)

    wrapper.__opskit__ = options  # type: ignore[attr-defined]
    # what `opskit reproduce` runs when it rebuilds the function from its source (no pickle)
    wrapper.__opskit_definition__ = definition  # type: ignore[attr-defined]
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
    checks: Sequence[object] | None = None,
    evaluate: tuple[str, str] | None = None,
    metrics: Sequence[str] | Mapping[str, object] | None = None,
    gates: Sequence[object] | None = None,
    on_fail: Literal["warn", "raise", "register"] = "warn",
    card: Mapping[str, str] | str | None = None,
    seed: int | None = None,
    data: DataMode = "fingerprint",
    datasets: Mapping[str, str] | None = None,
    pii: Sequence[str] | str | None = None,
    pii_mode: Literal["hash", "drop"] = "hash",
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
    ``checks`` run on the data arguments before the body; ``evaluate=("X_test", "y_test")``
    and ``metrics`` score the returned model (and the incumbent) on held-out arguments;
    ``gates`` decide whether it is registered; ``on_fail`` says what a failed gate does
    (``warn``, ``raise``, ``register`` as rejected). See docs/validation.md.
    ``card`` states the model card's intended use and limitations: text, or a dict such as
    ``{"intended use": ..., "limitations": ...}`` (default: the function's docstring;
    ``opskit.models.card``, docs/governance.md).
    ``seed`` seeds Python, NumPy and PyTorch before each call (``opskit.seed``)
    and records it as the tag ``opskit.seed``.
    ``data="snapshot"`` also stores every data argument as a dataset version
    (``<model>.<argument>``, or the name ``datasets={"argument": "name"}`` gives) and
    links the run to it; ``data="off"`` records no data inputs at all. ``pii=["email"]``
    (with ``data="snapshot"``) hashes those columns with the store's key, or drops them with
    ``pii_mode="drop"``, in what is stored; the function still gets the data as passed.
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
    *,
    name: str | None = None,
    experiment: str | None = None,
    tags: Mapping[str, Any] | None = None,
    checks: Sequence[object] | None = None,
    seed: int | None = None,
    data: DataMode = "fingerprint",
    datasets: Mapping[str, str] | None = None,
    pii: Sequence[str] | str | None = None,
    pii_mode: Literal["hash", "drop"] = "hash",
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def track(
    fn: Callable[P, R] | None = None, /, **options: Any
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Track every call as a run (params, code, env, data inputs, metrics), with no model.

    ``seed`` seeds Python, NumPy and PyTorch before each call (``opskit.seed``).
    ``data`` and ``datasets`` as for ``@opskit.train`` (snapshots are named ``<function>.<argument>``).
    """
    opts = _options(RunOptions, "track", options)
    if fn is not None:
        return _wrap(fn, opts)
    return lambda f: _wrap(f, opts)
