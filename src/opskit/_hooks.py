"""A typed facade over ``pm.hook``: one method per hook, so call sites are checked by mypy.

The registration hooks (``register_*``) are the exception: the backend registry
calls each implementation on its own (``opskit.plugins.build_registry``) so it
can name the plugin behind every registration. tests/test_hookspecs.py checks
that this facade and ``opskit.hookspecs`` agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opskit.records import AliasChange, DataInput, ModelVersion, Run, Schema, SerializedModel
    from opskit.records.deployments import Deployment

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
        self._hook.after_run(run=run)

    def on_run_error(self, run: Run, error: BaseException) -> None:
        self._hook.on_run_error(run=run, error=error)

    def after_model_registered(self, version: ModelVersion) -> None:
        self._hook.after_model_registered(version=version)

    def after_alias_changed(self, change: AliasChange) -> None:
        self._hook.after_alias_changed(change=change)

    def after_deploy(self, deployment: Deployment) -> None:
        self._hook.after_deploy(deployment=deployment)

    def after_deployment_stopped(self, deployment: Deployment) -> None:
        self._hook.after_deployment_stopped(deployment=deployment)


hooks = _Hooks()
