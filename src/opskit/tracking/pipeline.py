"""The train engine: one call of an ``@opskit.train`` / ``@opskit.track`` function, in explicit stages.

::

    capture  →  begin  →  before_call  →  seed  →  call  →  after_call  →  register  →  end
    (bind the    (store    (checks= on     (seed=:  (the     (evaluate=,     (the model   (FINISHED, or
    arguments,   RUNNING,  the inputs;     the      user's   gates= on the   version,     FAILED/KILLED
    params,      active    ValidationFailed global  code)    result: a       @train, as   with the error)
    data, code,  run,      stops here)     RNGs)             Verdict)        the Verdict
    env, the     before_run;                                                 says; then
    function     function                                                    the report)
    by value)    artifacts)

Each stage is a small function with typed inputs and outputs (frozen records:
``Definition`` is fixed at decoration time, ``Captured`` comes out of the
capture, ``Called`` holds the result). A feature that acts around the call
(data validation before it, gates after it, data snapshots, governance) adds
or fills a stage here; ``opskit.tracking.decorators`` only builds a
``Definition`` and calls ``execute``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from attrs import field, frozen

from opskit.errors import OpskitWarning
from opskit.sdk import lifecycle

if TYPE_CHECKING:
    from opskit.capture.function import FunctionCapture
    from opskit.records import CodeInfo, DataInput, EnvInfo, ModelVersion, Schema
    from opskit.tracking.context import ActiveRun
    from opskit.tracking.options import RunOptions
    from opskit.validation.runner import Session, Verdict

__all__ = [
    "Called",
    "Captured",
    "Definition",
    "after_call",
    "before_call",
    "begin",
    "call",
    "capture",
    "end",
    "execute",
    "record_imports",
    "register",
    "seed",
    "snapshot",
]

R = TypeVar("R")


@frozen
class Definition(Generic[R]):
    """What a decorated function fixes at decoration time: the function, its signature, its options.

    ``model_name`` is the registered model's name for ``@train`` (None for ``@track``).
    """

    fn: Callable[..., R]
    signature: inspect.Signature
    options: RunOptions
    model_name: str | None


@frozen
class Captured:
    """What one call brings in, before anything is stored: params, data inputs (with their values), code, env."""

    params: Mapping[str, Any]
    data: tuple[tuple[DataInput, object], ...]
    code: CodeInfo
    env: EnvInfo
    #: Every argument of the call by name, defaults applied (what checks and ``evaluate=`` read).
    arguments: Mapping[str, Any] = field(factory=dict)
    #: The function stored by value for ``opskit reproduce`` (``opskit.capture.function``).
    function: FunctionCapture | None = None

    @property
    def data_values(self) -> list[object]:
        """The data arguments' values, in argument order."""
        return [value for _, value in self.data]


@frozen
class Called(Generic[R]):
    """The user's function returned: its result."""

    result: R


# -- the stages --------------------------------------------------------------------------------------


def capture(
    definition: Definition[Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> Captured:
    """Bind the call's arguments to the signature; split params from data (``fingerprint_data``);
    capture code and env; store the function by value (once per function per process)."""
    from opskit.capture.code import capture_code
    from opskit.capture.env import capture_env
    from opskit.capture.function import capture_function
    from opskit.capture.params import bind_arguments, split_arguments
    from opskit.runtime import get_config

    config = get_config()
    off = definition.options.data == "off"
    arguments = bind_arguments(definition.signature, args, kwargs)
    params, data = split_arguments(arguments, fingerprint=_no_fingerprint if off else None)
    code = capture_code(definition.fn, git=config.capture_git)
    return Captured(
        params=params,
        data=tuple(data),
        code=code,
        env=capture_env(packages=config.capture_env),
        arguments=arguments,
        function=capture_function(definition.fn, definition, code.source_file),
    )


def _no_fingerprint(name: str, value: object) -> DataInput | None:
    """``data="off"``: no argument is data (arguments that look like params stay params)."""
    return None


def snapshot(definition: Definition[Any], run_id: str, captured: Captured) -> Captured:
    """``data="snapshot"``: store every data argument as a dataset version and link the inputs to it.

    Runs before the run is stored, so an argument that cannot be stored (``UnsupportedData``)
    stops the call before any run or dataset version is recorded.
    """
    import attrs

    from opskit.data.snapshots import snapshot_inputs

    if definition.options.data != "snapshot" or not captured.data:
        return captured
    owner = definition.model_name or definition.fn.__name__
    options = definition.options
    linked = snapshot_inputs(
        owner,
        captured.data,
        run_id=run_id,
        names=options.datasets,
        pii=options.pii,
        pii_mode=options.pii_mode,
    )
    return attrs.evolve(captured, data=tuple(linked))


def card_tag(definition: Definition[Any]) -> str | None:
    """The ``opskit.card`` tag of a ``@train`` run: the ``card=`` option, else the docstring (None for ``@track``)."""
    import json

    from opskit.tracking.options import CARD_MAX_CHARS, TrainOptions

    options = definition.options
    if not isinstance(options, TrainOptions):
        return None
    sections = options.card
    if sections is None:
        doc = inspect.getdoc(definition.fn)
        if not doc:
            return None
        if len(doc) > CARD_MAX_CHARS - 100:
            doc = doc[: CARD_MAX_CHARS - 100] + " [...]"
        sections = {"description": doc}
    return json.dumps(dict(sections), sort_keys=False)


def begin(
    definition: Definition[Any],
    captured: Captured,
    system_tags: Mapping[str, str] | None = None,
) -> ActiveRun:
    """Store the run as RUNNING and make it the active run (``before_run`` fires; if it raises, no run stays active).

    With ``data="snapshot"`` the data arguments are stored first (:func:`snapshot`).
    *system_tags* are opskit's own ``opskit.*`` tags (``opskit.reproduces``), set as they are;
    the function captured by value is linked as the artifacts ``opskit/function.*``.
    """
    from opskit.seeding import SEED_TAG
    from opskit.tracking.context import new_run
    from opskit.tracking.options import CARD_TAG

    options = definition.options
    fn_name = definition.fn.__name__
    run = new_run(
        name=options.name or fn_name,
        experiment=options.experiment,
        fallback_experiment=definition.model_name or fn_name,
        tags=options.tags,
        params=captured.params,
        code=captured.code,
        env=captured.env,
        inputs=[d for d, _ in captured.data],
    )
    linked = snapshot(definition, run.id, captured)
    if linked is not captured:
        run.inputs = [d for d, _ in linked.data]
    # opskit's own tags (the reserved ``opskit.`` prefix that user tags may not take)
    if options.seed is not None:
        run.tags[SEED_TAG] = str(options.seed)
    if captured.function is not None:
        run.tags.update(captured.function.tags)
    card = card_tag(definition)
    if card is not None:
        run.tags[CARD_TAG] = card
    run.tags.update(system_tags or {})
    run.begin()
    if captured.function is not None and captured.function.artifacts:
        try:
            run.artifacts.extend(captured.function.artifacts)
            run.tracker.log_artifacts(run.id, captured.function.artifacts)
        except BaseException as exc:
            end(run, exc)
            raise
    return run


def before_call(definition: Definition[Any], run: ActiveRun, captured: Captured) -> Session | None:
    """Checks on the inputs before the user's code runs (``checks=``; data snapshots go here too).

    They see the captured arguments and the active run, may log to it, and stop the
    call by raising (the run then ends FAILED with that error): a failed data check
    raises ``ValidationFailed`` with the stored report. Returns the validation session
    (None when nothing is declared) that ``after_call`` continues.
    """
    options = definition.options
    if (
        not options.checks
        and not getattr(options, "gates", ())
        and not getattr(options, "metrics", ())
    ):
        return None
    from opskit.validation.runner import before_call as validate_inputs

    return validate_inputs(
        options,
        definition.model_name,
        run,
        captured.arguments,
        {d.name: value for d, value in captured.data},
    )


def seed(definition: Definition[Any]) -> None:
    """``seed=``: seed Python, NumPy and PyTorch generators just before the call (recorded at ``begin``)."""
    if definition.options.seed is not None:
        from opskit.seeding import seed_generators

        seed_generators(definition.options.seed)


def call(definition: Definition[R], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Called[R]:
    """Run the user's function with the arguments it was given."""
    return Called(definition.fn(*args, **kwargs))


def after_call(
    definition: Definition[R],
    run: ActiveRun,
    captured: Captured,
    called: Called[R],
    session: Session | None = None,
) -> Verdict | None:
    """Evaluation of the result before it is registered (``evaluate=``, ``metrics=``, ``gates=``).

    The returned model and the incumbent are scored on the same held-out arguments, the
    gates decided; the ``Verdict`` tells ``register`` whether to register and move the
    alias. Governance checks go here too; raising stops the registration (the run then
    ends FAILED with that error), as ``on_fail="raise"`` does.
    """
    if session is None:
        return None
    from opskit.validation.runner import after_call as decide_gates

    return decide_gates(session, run, called.result, captured.arguments)


def authorize(definition: Definition[Any]) -> None:
    """``@train``: the access policy allows this user to register the model (and move ``alias=``), before anything runs.

    A denial (``PermissionDenied``) starts no run and calls nothing: training is not wasted
    on a model that could not be registered.
    """
    if definition.model_name is None:
        return
    from opskit.registry.register import authorize_registration
    from opskit.tracking.options import TrainOptions

    options = definition.options
    if not isinstance(options, TrainOptions) or not options.register:
        return
    authorize_registration(definition.model_name, options.alias)


def register(
    definition: Definition[R],
    run: ActiveRun,
    captured: Captured,
    called: Called[R],
    verdict: Verdict | None = None,
) -> ModelVersion | None:
    """``@train``: register the returned model (``serialize_model``, storage, tracker, ``alias=``); warn on None.

    A *verdict* from failed gates registers nothing, or (``on_fail="register"``) registers
    the version as rejected without moving the alias.
    """
    if definition.model_name is None:  # @track
        return None
    if verdict is not None and not verdict.register:
        return None
    from opskit.registry.register import register_model, signature_and_source
    from opskit.tracking.options import TrainOptions

    options = definition.options
    if not isinstance(options, TrainOptions) or not options.register:
        return None
    if called.result is None:
        import warnings

        from opskit._stack import user_stacklevel

        warnings.warn(
            f"@opskit.train function {definition.fn.__name__!r} returned None: nothing was registered. "
            "Return the fitted model (or use @opskit.track for runs without a model)",
            OpskitWarning,
            stacklevel=user_stacklevel(),
        )
        return None
    # The data argument the signature comes from is the training data: its profile is stored
    # with the version (opskit.monitor.stored) so drift needs no training data later.
    signature, source = signature_and_source(called.result, captured.data_values)
    if options.schema is not None:
        signature = options.schema
        source = _holding(options.schema, captured.data_values)
    move = verdict is None or verdict.move_alias
    version = register_model(
        run,
        definition.model_name,
        called.result,
        alias=options.alias if move else None,
        signature=signature,
        metadata=verdict.metadata if verdict is not None else None,
        reference=source,
        validated=verdict is not None and verdict.validated,
    )
    if (
        version is not None
        and verdict is not None
        and verdict.metadata.get("opskit.status") == "rejected"
    ):
        from opskit.registry.lifecycle import reject

        version = reject(version, reason=verdict.reason or "validation gates failed")
    run.model_version = version
    return version


def _holding(schema: Schema, data: list[Any]) -> object | None:
    """The first data value with every column of a table *schema* (the training data it describes)."""
    if schema.kind != "table":
        return None
    wanted = set(schema.names)
    for value in data:
        columns = getattr(value, "columns", None)  # a pandas Index has no truth value
        if columns is None:
            columns = getattr(value, "column_names", None)
        try:
            if columns is not None and wanted <= {str(c) for c in columns}:
                found: object = value
                return found
        except TypeError:
            continue
    return None


def end(run: ActiveRun, error: BaseException | None = None) -> None:
    """Store the final status: FINISHED, or the honest status for *error* (``on_run_error``, then ``after_run``)."""
    if error is None:
        record_imports(run)
        run.end("FINISHED")
    else:
        run.end(lifecycle.exit_status(error), error)


def record_imports(run: ActiveRun) -> None:
    """Tag the run with the distributions its process imported (``opskit models requirements`` pins those)."""
    from opskit.capture.requirements import imports_tag
    from opskit.runtime import get_config

    if not get_config().capture_env:  # the packages are not recorded: nothing to pin them with
        return
    tags = imports_tag()
    if tags:
        run.tags.update(tags)
        run.tracker.set_tags(run.id, tags)


def execute(
    definition: Definition[R],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    *,
    system_tags: Mapping[str, str] | None = None,
) -> R:
    """One call of a decorated function, every stage in order; the user's result or exception, unchanged."""
    authorize(definition)
    captured = capture(definition, args, kwargs)
    run = begin(definition, captured, system_tags)
    try:
        session = before_call(definition, run, captured)
        seed(definition)
        called = call(definition, args, kwargs)
        # the session is passed only when there is one: the stage keeps its 4-argument form
        verdict = (
            after_call(definition, run, captured, called)
            if session is None
            else after_call(definition, run, captured, called, session)
        )
        version = register(definition, run, captured, called, verdict)
        if session is not None:
            from opskit.validation.runner import finish

            finish(session, run, version)
    except BaseException as exc:
        end(run, exc)
        raise
    end(run)
    return called.result
