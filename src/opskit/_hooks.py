"""A typed facade over ``pm.hook``: one method per hook, so call sites are checked by mypy.

The registration hooks (``register_*``) are the exception: the backend registry
calls each implementation on its own (``opskit.plugins.build_registry``) so it
can name the plugin behind every registration. tests/test_hookspecs.py checks
that this facade and ``opskit.hookspecs`` agree.

``on_run_error``, ``after_run`` and the alert hooks (``on_drift_detected``,
``on_performance_degraded``) report something that already happened: an
implementation that raises is logged (logger ``opskit.plugins``, with the plugin's
name) and the others still run, so a broken plugin never replaces the user's
exception nor loses the rest of the run's end (Prefect's ``call_hooks`` does the same).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opskit._tracing import tracing as _tracing

if TYPE_CHECKING:
    from opskit.monitor.records import DriftReport
    from opskit.records import AliasChange, DataInput, ModelVersion, Run, Schema, SerializedModel
    from opskit.records.deployments import Deployment
    from opskit.records.validation import ValidationReport

__all__ = ["hooks"]


class _Hooks:
    @property
    def _hook(self):  # type: ignore[no-untyped-def]
        from opskit.runtime import get_plugin_manager

        return get_plugin_manager().hook

    def serialize_model(self, model: object) -> SerializedModel | None:
        result: SerializedModel | None = self._hook.serialize_model(model=model)
        return result

    def deserialize_model(self, version: ModelVersion, data: bytes) -> object | None:
        return self._hook.deserialize_model(version=version, data=data)  # type: ignore[no-any-return]

    def fingerprint_data(self, name: str, value: object) -> DataInput | None:
        result: DataInput | None = self._hook.fingerprint_data(name=name, value=value)
        return result

    def infer_schema(self, value: object) -> Schema | None:
        result: Schema | None = self._hook.infer_schema(value=value)
        return result

    def before_run(self, run: Run) -> None:
        self._hook.before_run(run=run)

    def after_run(self, run: Run) -> None:
        self._notify("after_run", run=run)

    def on_run_error(self, run: Run, error: BaseException) -> None:
        self._notify("on_run_error", run=run, error=error)

    def after_model_registered(self, version: ModelVersion) -> None:
        self._hook.after_model_registered(version=version)

    def after_alias_changed(self, change: AliasChange) -> None:
        self._hook.after_alias_changed(change=change)

    def after_validation(self, run: Run, report: ValidationReport) -> None:
        self._hook.after_validation(run=run, report=report)

    def after_deploy(self, deployment: Deployment) -> None:
        self._hook.after_deploy(deployment=deployment)

    def after_deployment_stopped(self, deployment: Deployment) -> None:
        self._hook.after_deployment_stopped(deployment=deployment)

    def on_drift_detected(self, report: DriftReport, deployment: str | None) -> None:
        self._notify("on_drift_detected", report=report, deployment=deployment)

    def on_performance_degraded(self, report: object, deployment: str | None) -> None:
        self._notify("on_performance_degraded", report=report, deployment=deployment)

    def _notify(self, name: str, **kwargs: Any) -> None:
        """Call every implementation of hook *name*; one that raises is logged and the next still runs."""
        from opskit.runtime import get_plugin_manager

        pm = get_plugin_manager()
        caller = getattr(pm.hook, name)
        impls = caller.get_hookimpls()
        if any(
            impl.hookwrapper or impl.wrapper for impl in impls
        ):  # a wrapper needs pluggy's own call
            try:
                caller(**kwargs)
            except Exception as exc:
                _log_failure(name, "a plugin", exc)
            return
        trace = pm.trace.root.get("hook") if _tracing(pm) else None
        if (
            trace is not None
        ):  # write what OPSKIT_TRACE_HOOKS shows for a hook called through pluggy
            trace.root.indent += 1
            trace(name, kwargs)
        for impl in reversed(
            impls
        ):  # pluggy's order: last registered first, tryfirst/trylast respected
            try:
                impl.function(*[kwargs[arg] for arg in impl.argnames])
            except Exception as exc:
                _log_failure(name, impl.plugin_name, exc)
        if trace is not None:
            trace("finish", name, "-->", [])
            trace.root.indent -= 1


def _log_failure(hook: str, plugin: str, exc: Exception) -> None:
    import logging  # only when a plugin failed: `logging` is not otherwise imported by a run

    logging.getLogger("opskit.plugins").error(
        "the %s hook of plugin %r raised %s: %s (ignored: the run's end is stored and the user's "
        "exception, if any, is re-raised unchanged; fix or disable the plugin with OPSKIT_DISABLE_PLUGINS)",
        hook,
        plugin,
        type(exc).__name__,
        exc,
        exc_info=exc,
    )


hooks = _Hooks()
