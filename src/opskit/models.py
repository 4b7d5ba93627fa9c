"""The model registry: ``opskit.models.list()``, ``get``, ``set_alias``, ``delete_alias``, ``history``."""

from __future__ import annotations

import builtins

from opskit._backends import get_tracker
from opskit._hooks import hooks
from opskit.names import ModelRef, validate_alias, validate_model_name
from opskit.records import AliasChange, Model, ModelVersion
from opskit.sdk import identity

__all__ = ["delete_alias", "get", "get_version", "history", "list", "set_alias"]


def list() -> builtins.list[Model]:
    """Every registered model, sorted by name."""
    return get_tracker().list_models()


def get(name: str) -> Model:
    """One model with its versions and aliases (raises ``ModelNotFound``)."""
    return get_tracker().get_model(validate_model_name(name))


def get_version(ref: str | ModelRef) -> ModelVersion:
    """The version a reference points at: ``name``, ``name:3`` or ``name@alias``."""
    return get_tracker().get_model_version(ModelRef.parse(ref))


def set_alias(name: str, alias: str, version: int) -> AliasChange:
    """Point *alias* at *version* of model *name*; the move is kept in the alias history."""
    change = get_tracker().set_alias(
        validate_model_name(name), validate_alias(alias), int(version), user=identity.user()
    )
    hooks.after_alias_changed(change)
    return change


def delete_alias(name: str, alias: str) -> AliasChange:
    """Remove *alias* from model *name*."""
    change = get_tracker().delete_alias(validate_model_name(name), validate_alias(alias), user=identity.user())
    hooks.after_alias_changed(change)
    return change


def history(name: str, alias: str | None = None) -> builtins.list[AliasChange]:
    """Every move of the model's aliases (or of one alias), oldest first."""
    return get_tracker().alias_history(validate_model_name(name), alias)
