"""``opskit.reproduce(run_id)``: re-execute a run's function with its params and data, and compare.

Steps (``prepare`` does 1-3 and runs nothing; ``run`` does 4-5):

1. the environment: Python, platform and packages of the run against this process's;
2. the function: the ``Definition`` (function and decorator options) stored by value
   (``opskit/function.pkl``); when it cannot be loaded, its source at the recorded git commit
   (``git show COMMIT:PATH`` in the current repository), executed as a fresh module;
3. the arguments: the run's params and its data arguments loaded back from their snapshots
   (``opskit.data.snapshots.run_inputs``, verified against their digests);
4. the call, through the same pipeline as the original (tracked as a new run tagged
   ``opskit.reproduces=RUN_ID``, in the original's experiment; ``@train`` registers a new
   version of the same model, and moves no alias unless ``alias=`` is given);
5. the comparison: every metric within ``tolerance``, and the model's bytes (blob digest).
"""

from __future__ import annotations

import json
import sys
import types
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attrs import frozen

from opskit.errors import FunctionNotCaptured, InvalidValue, OpskitWarning, ReproductionError
from opskit.records import EnvInfo, Run
from opskit.records.reproduction import (
    EnvironmentDiff,
    MetricComparison,
    Reproduction,
    metrics_match,
)

if TYPE_CHECKING:
    import inspect

    from opskit.tracking.pipeline import Definition

__all__ = [
    "REPRODUCES_TAG",
    "Plan",
    "environment_diff",
    "load_function",
    "prepare",
    "reproduce",
    "run",
]

#: The tag that links a reproduction's run to the run it reproduces.
REPRODUCES_TAG = "opskit.reproduces"

_CAPTURE_HINT = (
    "To capture it next time: decorate the function with @opskit.train or @opskit.track (not "
    "start_run), keep what it uses picklable by cloudpickle, and commit its source to git"
)


def environment_diff(original: EnvInfo | None, current: EnvInfo) -> EnvironmentDiff:
    """What differs between the environment a run captured and *current*."""
    if original is None:
        return EnvironmentDiff(packages_known=False)

    def pair(a: str, b: str) -> tuple[str, str] | None:
        return None if a == b else (a, b)

    old, new = dict(original.packages), dict(current.packages)
    known = bool(old)
    return EnvironmentDiff(
        python=pair(original.python, current.python),
        implementation=pair(original.implementation, current.implementation),
        platform=pair(original.platform, current.platform),
        added={k: v for k, v in new.items() if k not in old} if known else {},
        removed={k: v for k, v in old.items() if k not in new} if known else {},
        changed={k: (v, new[k]) for k, v in old.items() if k in new and new[k] != v}
        if known
        else {},
        packages_known=known,
    )


# -- the function -------------------------------------------------------------------------------


def _artifact(run: Run, name: str) -> str | None:
    for artifact in run.artifacts:
        if artifact.name == name:
            return artifact.digest
    return None


def _meta(run: Run) -> dict[str, Any]:
    from opskit.capture.function import FUNCTION_META_ARTIFACT
    from opskit.runtime import get_storage

    digest = _artifact(run, FUNCTION_META_ARTIFACT)
    if digest is None:
        return {}
    try:
        meta = json.loads(get_storage().get_bytes(digest))
    except Exception:  # a lost or damaged note: fall back to the run's code record
        return {}
    return meta if isinstance(meta, dict) else {}


def _from_pickle(run: Run) -> Definition[Any]:
    """The run's ``Definition`` from ``opskit/function.pkl`` (raises with the reason it cannot)."""
    import cloudpickle

    from opskit.capture.function import FUNCTION_ARTIFACT, FUNCTION_ERROR_TAG
    from opskit.runtime import get_storage
    from opskit.tracking.pipeline import Definition

    digest = _artifact(run, FUNCTION_ARTIFACT)
    if digest is None:
        why = run.tags.get(FUNCTION_ERROR_TAG)
        raise LookupError(
            f"it was not captured by value ({why})"
            if why
            else "the run has no opskit/function.pkl artifact (a start_run() run, or one recorded "
            "before opskit captured functions)"
        )
    data = get_storage().get_bytes(digest)  # verified against its digest
    loaded = cloudpickle.loads(data)
    if not isinstance(loaded, Definition):
        raise TypeError(f"opskit/function.pkl holds a {type(loaded).__name__}, not a Definition")
    return loaded


def _git_root(start: Path) -> Path | None:
    from opskit.capture.code import _run_git

    out = _run_git(start, "rev-parse", "--show-toplevel")
    return Path(out.strip()) if out else None


def _from_source(run: Run, meta: Mapping[str, Any]) -> tuple[Definition[Any], str]:
    """The run's ``Definition`` rebuilt from its source file at the recorded commit."""
    from opskit.capture.code import _run_git

    code = run.code
    commit = code.git_commit if code else None
    if not commit:
        raise LookupError("the run recorded no git commit")
    qualname = meta.get("qualname") or (code.function if code else None)
    if not qualname or "<locals>" in qualname:
        raise LookupError(
            f"the function {qualname!r} is not reachable by name in its module (nested functions "
            "cannot be rebuilt from source)"
        )
    root = _git_root(Path.cwd())
    if root is None:
        raise LookupError(
            f"the working directory {str(Path.cwd())!r} is not in a git repository: run "
            "`opskit reproduce` from a clone of the repository of the original run"
        )
    path = meta.get("repo_path")
    if not path and code is not None and code.source_file:
        try:
            path = Path(code.source_file).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            path = None
    if not path:
        raise LookupError(
            "the run recorded no source file inside a git repository (a notebook cell?)"
        )
    source = _run_git(root, "show", f"{commit}:{path}")
    if source is None:
        raise LookupError(f"`git show {commit[:12]}:{path}` found nothing in {str(root)!r}")
    if code is not None and code.git_dirty:
        warnings.warn(
            f"run {run.id} ran with uncommitted changes: its source at commit {commit[:12]} may "
            "differ from the code that ran (the run's code.git_diff shows how)",
            OpskitWarning,
            stacklevel=3,
        )
    name = f"_opskit_reproduce_{commit[:12]}_{Path(path).stem}"
    module = types.ModuleType(name)
    module.__file__ = str(root / path)
    sys.modules[name] = module  # pickling, dataclasses and typing look the module up by name
    try:
        exec(compile(source, str(root / path), "exec"), module.__dict__)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise LookupError(
            f"its source at {commit[:12]}:{path} failed to run: {type(exc).__name__}: {exc}"
        ) from exc
    target: Any = module
    for part in qualname.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise LookupError(f"{path} at {commit[:12]} defines no {qualname!r}")
    definition = getattr(target, "__opskit_definition__", None)
    from opskit.tracking.pipeline import Definition

    if not isinstance(definition, Definition):
        raise LookupError(
            f"{qualname!r} in {path} at {commit[:12]} is not decorated with @opskit.train/@opskit.track"
        )
    return definition, f"git:{commit[:12]}:{path}"


def load_function(run: Run) -> tuple[Definition[Any], str]:
    """The run's function and decorator options, and how they were loaded (``"pickle"`` or ``"git:..."``).

    Raises ``FunctionNotCaptured`` saying why neither the pickle nor the source could be used.
    """
    try:
        return _from_pickle(run), "pickle"
    except Exception as exc:  # any reason: try the source next
        pickle_error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, LookupError) else exc
    try:
        definition, how = _from_source(run, _meta(run))
    except LookupError as exc:
        raise FunctionNotCaptured(
            f"cannot reproduce run {run.id}: its function cannot be loaded by value ({pickle_error}) "
            f"nor from its source at the recorded git commit ({exc}). {_CAPTURE_HINT}"
        ) from None
    warnings.warn(
        f"run {run.id}: the function stored by value could not be loaded ({pickle_error}); "
        f"using its source from {how}",
        OpskitWarning,
        stacklevel=2,
    )
    return definition, how


# -- the arguments ------------------------------------------------------------------------------


def _data_inputs(run: Run) -> dict[str, object]:
    if not run.inputs:
        return {}
    from opskit.data.snapshots import run_inputs

    return dict(run_inputs(run.id))


def call_arguments(
    signature: inspect.Signature, params: Mapping[str, Any], data: Mapping[str, object]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Rebuild ``(args, kwargs)`` for *signature* from recorded params and data (``bind_arguments`` reversed)."""
    import inspect

    values: dict[str, Any] = {**params, **data}
    used: set[str] = set()
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    missing = []
    for name, parameter in signature.parameters.items():
        kind = parameter.kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            index = 0
            while f"{name}.{index}" in values:
                args.append(values[f"{name}.{index}"])
                used.add(f"{name}.{index}")
                index += 1
            continue
        if kind is inspect.Parameter.VAR_KEYWORD:
            continue
        if name not in values:
            missing.append(name)
            continue
        used.add(name)
        if kind is inspect.Parameter.KEYWORD_ONLY:
            kwargs[name] = values[name]
        else:
            args.append(values[name])
    if missing:
        raise ReproductionError(
            f"argument(s) {', '.join(map(repr, missing))} were recorded neither as params nor as data "
            "inputs (a value opskit does not store, such as an object or a model), so the call cannot be "
            "rebuilt (with data='off' no data argument is recorded). Pass such values as params "
            "(numbers, strings, lists) or data (frames, arrays, files) with data='snapshot'"
        )
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
    if var_kw:
        kwargs.update({k: v for k, v in values.items() if k not in used})
    return tuple(args), kwargs


# -- prepare, run, reproduce -------------------------------------------------------------------


@frozen
class Plan:
    """What ``reproduce`` is about to run: the original run, the environment differences, the call."""

    original: Run
    environment: EnvironmentDiff
    definition: Definition[Any]
    function_source: str
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]


def environment_of(run_id: str) -> tuple[Run, EnvironmentDiff]:
    """The run and how its environment differs from this process's (nothing loaded, nothing run)."""
    from opskit.capture.env import capture_env
    from opskit.tracking.runs import get_run

    original = get_run(run_id)
    return original, environment_diff(original.env, capture_env(packages=True))


def prepare(run_id: str) -> Plan:
    """Everything ``reproduce`` needs, checked before anything runs.

    Raises ``RunNotFound``, ``FunctionNotCaptured``, the data snapshot errors of
    ``opskit.data.snapshots`` (``SnapshotMissing``, a tampered snapshot), or ``ReproductionError``.
    """
    original, environment = environment_of(run_id)
    definition, how = load_function(original)
    data = _data_inputs(original)
    args, kwargs = call_arguments(definition.signature, original.params, data)
    return Plan(original, environment, definition, how, args, kwargs)


def run(plan: Plan, *, tolerance: float = 1e-9, alias: str | None = None) -> Reproduction:
    """Re-execute *plan* in a new run and compare it with the original."""
    import attrs

    from opskit.seeding import SEED_TAG
    from opskit.tracking import pipeline
    from opskit.tracking.context import last_run_id
    from opskit.tracking.options import TrainOptions
    from opskit.tracking.runs import get_run

    tolerance = _tolerance(tolerance)
    original = plan.original
    definition = plan.definition
    options = attrs.evolve(definition.options, experiment=original.experiment)
    if isinstance(options, TrainOptions):
        options = attrs.evolve(options, alias=alias)
    elif alias is not None:
        raise ReproductionError(
            f"alias={alias!r}: run {original.id} registered no model (an @opskit.track run)"
        )
    definition = attrs.evolve(definition, options=options)
    pipeline.execute(definition, plan.args, plan.kwargs, system_tags={REPRODUCES_TAG: original.id})
    new_id = last_run_id()  # the run execute() just ended (in this process)
    if new_id is None:  # pragma: no cover - execute() always ends a run or raises
        raise ReproductionError(f"the reproduction of run {original.id} recorded no run")
    new = get_run(new_id)
    keys = sorted(set(original.metrics) | set(new.metrics))
    metrics = [
        MetricComparison(
            key,
            original.metrics.get(key),
            new.metrics.get(key),
            metrics_match(original.metrics.get(key), new.metrics.get(key), tolerance),
        )
        for key in keys
    ]
    seed_text = original.tags.get(SEED_TAG)
    return Reproduction(
        original_run_id=original.id,
        run_id=new.id,
        environment=plan.environment,
        metrics=metrics,
        tolerance=tolerance,
        original_model=original.model_version.ref if original.model_version else None,
        new_model=new.model_version.ref if new.model_version else None,
        original_model_digest=original.model_version.digest if original.model_version else None,
        new_model_digest=new.model_version.digest if new.model_version else None,
        function_source=plan.function_source,
        seed=int(seed_text) if seed_text and seed_text.isdigit() else None,
    )


def reproduce(run_id: str, *, tolerance: float = 1e-9, alias: str | None = None) -> Reproduction:
    """Re-execute run *run_id*'s function with its params and data in a new run; compare the outcome.

    The environment differences are known before anything runs (``Reproduction.environment``);
    the new run is tagged ``opskit.reproduces=RUN_ID``; an ``@train`` function registers a new
    version of the same model and moves *alias* to it only when given (the original's alias
    never moves by default). A metric matches when ``math.isclose(original, new,
    rel_tol=tolerance, abs_tol=tolerance)``; the model matches when its serialized bytes are
    identical. Raises ``FunctionNotCaptured`` / the snapshot errors before running anything.
    """
    _tolerance(tolerance)  # bad input is refused before anything is loaded or run
    return run(prepare(run_id), tolerance=tolerance, alias=alias)


def _tolerance(value: object) -> float:
    """*value* as a tolerance (a finite number >= 0), else ``InvalidValue`` naming it."""
    import math
    import numbers

    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(float(value))
        or float(value) < 0
    ):
        raise InvalidValue(
            f"tolerance must be a finite number >= 0 (e.g. 1e-9, or 1e-3 for metrics that may "
            f"differ in the last digits), got {type(value).__name__} {value!r}"
        )
    return float(value)
