"""Running checks and gates inside the train pipeline, deciding the outcome, storing the report.

``opskit.tracking.pipeline`` calls ``before_call`` (declarations resolved, data checks run:
a failed check stores the report and raises ``ValidationFailed`` before the body),
``after_call`` (the returned model and the incumbent scored on the same evaluation data,
the gates decided: a ``Verdict`` for the registration step) and ``finish`` (the report
stored with its outcome, ``after_validation`` fired, ``ValidationWarning`` on a failed gate).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from attrs import define, field, frozen

from opskit._hooks import hooks
from opskit._stack import user_stacklevel
from opskit.errors import ModelNotFound, ValidationError, ValidationFailed, ValidationWarning
from opskit.records.validation import ResultStatus, ValidationReport, ValidationResult
from opskit.validation import checks as _checks
from opskit.validation import evaluate as _evaluate
from opskit.validation import gates as _gates

if TYPE_CHECKING:
    import inspect

    from opskit.records import ModelVersion, Schema
    from opskit.tracking.context import ActiveRun

__all__ = [
    "REJECTED",
    "Session",
    "Verdict",
    "after_call",
    "before_call",
    "check_arguments",
    "check_train_options",
    "finish",
]

#: Version metadata marking a version registered by ``on_fail="register"`` after a failed gate.
REJECTED = {"opskit.status": "rejected"}


def check_train_options(options: Any) -> None:
    """Cross-option rules of ``@opskit.train`` known at decoration: ``ValidationError`` naming the value."""
    names = [m.name for m in options.metrics]
    if options.metrics and options.evaluate is None:
        raise ValidationError(
            f"metrics={names!r} need held-out data to be scored on: add evaluate=('X_test', 'y_test') "
            "naming two arguments of the function"
        )
    for gate in options.gates:
        if isinstance(gate, _gates.Fairness) and options.evaluate is None:
            raise ValidationError(
                f"gate {gate.name} scores predictions on held-out data: add evaluate=('X_test', 'y_test')"
            )
        if isinstance(gate, _gates.Beats) and not options.metrics:
            raise ValidationError(
                f"gate {gate.name} compares scores on the same data: declare metrics=[{gate.metric!r}] and evaluate="
            )
        if gate.metric is not None and options.metrics and gate.metric not in names:
            raise ValidationError(
                f"gate {gate.name} reads metric {gate.metric!r}, which is not in metrics={names!r}; "
                "add it to metrics= or fix the name"
            )


def check_arguments(fn_name: str, signature: inspect.Signature, options: Any) -> None:
    """``on=`` and ``evaluate=`` name parameters of the decorated function (``ValidationError`` otherwise)."""
    import inspect as _inspect

    params = signature.parameters
    if any(p.kind is _inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    wanted = [(f"on={c.on!r} of {c.name}", c.on) for c in options.checks if c.on is not None]
    evaluate = getattr(options, "evaluate", None)
    if evaluate is not None:
        wanted += [(f"evaluate={evaluate!r}", n) for n in evaluate]
    for what, name in wanted:
        if name not in params:
            raise ValidationError(
                f"{what} names {name!r}, which is not an argument of {fn_name}() "
                f"(its arguments: {', '.join(params) or 'none'}); use one of them"
            )


@frozen
class Verdict:
    """What the registration step does: ``register`` at all, ``move_alias``, extra version ``metadata``."""

    register: bool = True
    move_alias: bool = True
    metadata: Mapping[str, Any] = field(factory=dict)
    #: Why (the failing gates), recorded with a rejected version's status change.
    reason: str | None = None
    #: Every check and gate passed (the report, stored after registration, will say ``passed``):
    #: enough for ``require_validation`` of a protected alias (docs/governance.md).
    validated: bool = False


@define
class Session:
    """One call's validation: the results so far and the scores (mutable, private to the pipeline)."""

    model_name: str | None
    options: Any
    results: list[ValidationResult] = field(factory=list)
    metrics: dict[str, float] = field(factory=dict)
    incumbent: str | None = None
    incumbent_metrics: dict[str, float] = field(factory=dict)
    resolved: tuple[_evaluate.Resolved, ...] = ()
    verdict: Verdict | None = None

    def report(self, run: ActiveRun, outcome: str | None) -> ValidationReport:
        return ValidationReport(
            results=self.results,
            run_id=run.id,
            model=self.model_name,
            incumbent=self.incumbent,
            metrics=self.metrics,
            incumbent_metrics=self.incumbent_metrics,
            outcome=outcome,
        )


def _is_frame(value: object) -> bool:
    kind = type(value)
    return kind.__name__ == "DataFrame" and kind.__module__.startswith("pandas")


def _targets(
    check: _checks.Check,
    frames: Mapping[str, Any],
    data: Mapping[str, Any],
    arguments: Mapping[str, Any],
) -> list[str]:
    """The arguments *check* applies to (the binding rules of ``opskit.validation.checks``)."""
    pool = frames if check.frames_only else data
    if check.on is not None:
        if check.on not in arguments:
            raise ValidationError(f"{check.name}: on={check.on!r} is not an argument of this call")
        value = arguments[check.on]
        if check.frames_only and not _is_frame(value):
            raise ValidationError(
                f"{check.name}: on={check.on!r} is a {type(value).__name__}, not a pandas DataFrame"
            )
        if check.columns and not isinstance(check, _checks.MatchesSchema):
            missing = [c for c in check.columns if c not in value.columns]
            if missing:
                raise ValidationError(
                    f"{check.name}: argument {check.on!r} has no column {missing[0]!r} "
                    f"(its columns: {', '.join(map(str, value.columns))}); fix the column name"
                )
        return [check.on]
    if isinstance(check, _checks.MatchesSchema) or not check.columns:
        return list(pool)
    having = [n for n, f in frames.items() if all(c in f.columns for c in check.columns)]
    if not having:
        missing = [c for c in check.columns if not any(c in f.columns for f in frames.values())]
        shown = missing or list(check.columns)
        raise ValidationError(
            f"{check.name}: no data argument has column {shown[0]!r}"
            + (
                f" (frame arguments: {', '.join(frames)})"
                if frames
                else " (the call has no DataFrame argument)"
            )
            + "; fix the column name or pass on='argument'"
        )
    return having


def _schema_for(check: _checks.MatchesSchema) -> tuple[Schema | None, str]:
    if check.schema is not None:
        return check.schema, ""
    from opskit.names import ModelRef
    from opskit.runtime import get_tracker

    try:
        version = get_tracker().get_model_version(ModelRef.parse(check.ref))
    except ModelNotFound:
        return None, f"no version {check.ref} yet: nothing to compare with"
    if version.signature is None:
        return (
            None,
            f"{version.ref} was registered without an input signature: nothing to compare with",
        )
    return version.signature, ""


def _schema_target(schema: Schema, frames: Mapping[str, Any]) -> list[str]:
    names = set(schema.names)
    for name, frame in frames.items():
        if names <= {str(c) for c in frame.columns}:
            return [name]
    return list(frames)[:1]


def _run_checks(session: Session, arguments: Mapping[str, Any], data: Mapping[str, Any]) -> None:
    frames = {n: v for n, v in arguments.items() if _is_frame(v)}
    for check in session.options.checks:
        schema: Schema | None = None
        note = ""
        if isinstance(check, _checks.MatchesSchema):
            schema, note = _schema_for(check)
            targets = (
                _targets(check, frames, data, arguments)
                if check.on is not None
                else (_schema_target(schema, frames) if schema is not None else list(frames)[:1])
            )
        else:
            targets = _targets(check, frames, data, arguments)
        for arg in targets:
            value = arguments[arg] if arg in arguments else data[arg]
            started = time.perf_counter()
            try:
                if isinstance(check, _checks.MatchesSchema):
                    out = (
                        check.check_with(value, schema)
                        if schema is not None
                        else _checks.CheckResult(True, None, None, note)
                    )
                elif isinstance(check, _checks._Custom):
                    out = check.call(arg, value)
                else:
                    out = check.run(value)
                status: ResultStatus = "passed" if out.passed else "failed"
            except ValidationError:
                raise
            except Exception as exc:
                out = _checks.CheckResult(
                    False, None, None, f"the check raised {type(exc).__name__}: {exc}"
                )
                status = "error"
            target = (
                arg
                if not check.columns or len(check.columns) > 3
                else f"{arg}.{','.join(check.columns)}"
            )
            session.results.append(
                ValidationResult(
                    kind="check",
                    name=check.name,
                    status=status,
                    target=target,
                    observed=out.observed,
                    threshold=out.threshold,
                    message=out.message,
                    duration=time.perf_counter() - started,
                )
            )


def before_call(
    options: Any,
    model_name: str | None,
    run: ActiveRun,
    arguments: Mapping[str, Any],
    data: Mapping[str, Any],
) -> Session | None:
    """Resolve the declarations (scorers, fairness metrics) and run the data checks before the body.

    A failed check stores the report (outcome ``stopped``), fires ``after_validation`` and
    raises ``ValidationFailed``; a declaration that cannot work raises ``ValidationError``.
    """
    gates = getattr(options, "gates", ())
    metrics = getattr(options, "metrics", ())
    if not options.checks and not gates and not metrics:
        return None
    session = Session(model_name, options)
    evaluate = getattr(options, "evaluate", None)
    if evaluate is not None:
        missing = [n for n in evaluate if n not in arguments]
        if missing:
            raise ValidationError(
                f"evaluate= names {missing[0]!r}, which this call did not pass; pass the held-out data"
            )
    if metrics:
        session.resolved = _evaluate.resolve(metrics)
    for gate in gates:
        if isinstance(gate, _gates.Fairness) and evaluate is not None:
            gate.function()
            gate.sensitive(arguments[evaluate[0]], arguments)
    if options.checks:
        _run_checks(session, arguments, data)
    if any(not r.passed for r in session.results):
        report = session.report(run, "stopped")
        _store(run, report)
        failed = ", ".join(f"{r.name} on {r.target}" for r in report.failures)
        raise ValidationFailed(
            f"data check(s) failed before training, the function did not run: {failed}\n{report.summary()}",
            report,
        )
    return session


def _incumbents(
    session: Session, model: Any, X: Any, y: Any, run: ActiveRun
) -> tuple[dict[str, dict[str, float]], dict[str, str], dict[str, str]]:
    from opskit.loading import load_version
    from opskit.names import ModelRef
    from opskit.runtime import get_tracker

    scores: dict[str, dict[str, float]] = {}
    versions: dict[str, str] = {}
    errors: dict[str, str] = {}
    refs: list[str] = []
    for gate in session.options.gates:
        if isinstance(gate, _gates.Beats):
            ref = gate.resolve(session.model_name)
            if ref not in refs:
                refs.append(ref)
    for ref in refs:
        try:
            version: ModelVersion = get_tracker().get_model_version(ModelRef.parse(ref))
        except ModelNotFound:
            continue
        versions[ref] = version.ref
        try:
            incumbent = load_version(version)
            scores[ref] = _evaluate.score(session.resolved, incumbent, X, y)
        except Exception as exc:
            errors[ref] = (
                f"the incumbent {ref} ({version.ref}) cannot score the evaluation data "
                f"({type(exc).__name__}: {exc}); it was trained on other columns or types, so the two "
                "cannot be compared on the same data: fix the data, or compare against another alias"
            )
    if refs:
        first = refs[0]
        if first in versions:
            session.incumbent = versions[first]
        if first in scores:
            session.incumbent_metrics = scores[first]
            run.log_metrics({f"incumbent.{k}": v for k, v in scores[first].items()})
    return scores, versions, errors


def after_call(
    session: Session | None, run: ActiveRun, result: Any, arguments: Mapping[str, Any]
) -> Verdict | None:
    """Score the returned model and the incumbent on the same data, log the scores, decide the gates."""
    if session is None:
        return None
    options = session.options
    gates = getattr(options, "gates", ())
    evaluate = getattr(options, "evaluate", None)
    X = y = None
    scores: dict[str, dict[str, float]] = {}
    versions: dict[str, str] = {}
    errors: dict[str, str] = {}
    if evaluate is not None and (session.resolved or gates):
        X, y = arguments[evaluate[0]], arguments[evaluate[1]]
        if session.resolved:
            try:
                session.metrics = _evaluate.score(session.resolved, result, X, y)
            except ValidationError:
                raise
            except Exception as exc:
                raise ValidationError(
                    f"scoring the returned {type(result).__name__} on {evaluate[0]}/{evaluate[1]} failed: "
                    f"{type(exc).__name__}: {exc}; return a fitted model that the metrics can score"
                ) from exc
            run.log_metrics(session.metrics)
            scores, versions, errors = _incumbents(session, result, X, y, run)
    ctx = _gates.GateContext(
        metrics=session.metrics if session.resolved else dict(run.latest),
        incumbents=scores,
        incumbent_versions=versions,
        incumbent_errors=errors,
        greater_is_better={m.name: m.greater_is_better for m in session.resolved},
        model=result,
        X=X,
        y=y,
        arguments=arguments,
        model_name=session.model_name,
    )
    for gate in gates:
        started = time.perf_counter()
        try:
            out = gate.decide(ctx)
            status: ResultStatus = "passed" if out.passed else "failed"
            if isinstance(gate, _gates.Beats) and gate.resolve(session.model_name) in errors:
                status = "error"
        except Exception as exc:
            out = _gates.GateResult(
                False, None, None, f"the gate raised {type(exc).__name__}: {exc}"
            )
            status = "error"
        incumbent = None
        if isinstance(gate, _gates.Beats) and gate.metric is not None:
            incumbent = scores.get(gate.resolve(session.model_name), {}).get(gate.metric)
        session.results.append(
            ValidationResult(
                kind="gate",
                name=gate.name,
                status=status,
                target=gate.metric if gate.metric is not None else getattr(gate, "column", None),
                observed=out.observed,
                threshold=out.threshold,
                incumbent=incumbent,
                message=out.message,
                duration=time.perf_counter() - started,
            )
        )
    if all(r.passed for r in session.results):
        session.verdict = Verdict(validated=True)
    elif getattr(options, "on_fail", "warn") == "register":
        failing = ", ".join(r.name for r in session.results if not r.passed)
        session.verdict = Verdict(
            register=True,
            move_alias=False,
            metadata=REJECTED,
            reason=f"validation gates failed: {failing}",
        )
    else:
        session.verdict = Verdict(register=False)
        if getattr(options, "on_fail", "warn") == "raise":
            report = session.report(run, "not_registered")
            _store(run, report)
            raise ValidationFailed(_gate_message(report, "raise"), report)
    return session.verdict


def _gate_message(report: ValidationReport, on_fail: str) -> str:
    failed = ", ".join(r.name for r in report.failures)
    what = {
        "warn": "nothing was registered and no alias moved",
        "register": "the version was registered as rejected (opskit.status=rejected); no alias moved",
        "raise": "nothing was registered and no alias moved",
    }[on_fail]
    return f"quality gate(s) failed: {failed}: {what}\n{report.summary()}"


def finish(session: Session | None, run: ActiveRun, version: ModelVersion | None) -> None:
    """Store the report with its outcome, fire ``after_validation``, warn when a gate failed."""
    if session is None:
        return
    verdict = session.verdict or Verdict()
    passed = all(r.passed for r in session.results)
    if passed:
        outcome = "registered" if version is not None else "not_registered"
    elif verdict.register and version is not None:
        outcome = "rejected"
    else:
        outcome = "not_registered"
    report = session.report(run, outcome)
    _store(run, report)
    if not passed:
        on_fail = getattr(session.options, "on_fail", "warn")
        warnings.warn(
            _gate_message(report, on_fail), ValidationWarning, stacklevel=user_stacklevel()
        )


def _store(run: ActiveRun, report: ValidationReport) -> None:
    from opskit.runtime import get_storage
    from opskit.validation.store import save_report

    save_report(run, report, get_storage())
    hooks.after_validation(run.record(), report)
