"""Name validation for models, aliases, params, metrics and tags; the model reference parser."""

from __future__ import annotations

import re

from attrs import frozen

from opskit.errors import InvalidModelRef, InvalidName

__all__ = ["ModelRef", "validate_alias", "validate_key", "validate_model_name"]

_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")
# Param, metric and tag keys: what MLflow accepts, so both trackers agree.
_KEY = re.compile(r"^[A-Za-z0-9_.\-/ ]{1,250}$")


def validate_model_name(name: object) -> str:
    """Return *name* if it is a valid model name, else raise ``InvalidName``."""
    if not isinstance(name, str) or not _MODEL_NAME.match(name):
        raise InvalidName(
            f"invalid model name {name!r}: use 1-128 characters, letters, digits, '_', '.' or '-', "
            "starting with a letter or digit (for example 'wine-quality')"
        )
    return name


def validate_alias(alias: object) -> str:
    """Return *alias* if it is a valid alias, else raise ``InvalidName``."""
    if not isinstance(alias, str) or not _ALIAS.match(alias) or alias.lower() == "latest":
        raise InvalidName(
            f"invalid alias {alias!r}: use 1-64 characters, letters, digits, '_' or '-', starting "
            "with a letter (for example 'production'); 'latest' is reserved"
        )
    return alias


def validate_key(key: object, kind: str = "key") -> str:
    """Return *key* if it is a valid param/metric/tag key, else raise ``InvalidName``."""
    if not isinstance(key, str) or not _KEY.match(key) or ".." in key or key.startswith("/"):
        raise InvalidName(
            f"invalid {kind} name {key!r}: use 1-250 characters, letters, digits, '_', '-', '.', "
            "' ' or '/' (for example 'val/r2')"
        )
    return key


@frozen
class ModelRef:
    """A parsed model reference: ``name`` (latest), ``name:3`` (version) or ``name@alias``."""

    name: str
    version: int | None = None
    alias: str | None = None

    @classmethod
    def parse(cls, ref: object) -> ModelRef:
        """Parse a reference string; raise ``InvalidModelRef`` saying what the forms are."""
        if isinstance(ref, ModelRef):
            return ref
        hint = "use 'name' (latest version), 'name:3' (version 3) or 'name@production' (alias)"
        if not isinstance(ref, str) or not ref.strip():
            raise InvalidModelRef(f"invalid model reference {ref!r}: {hint}")
        text = ref.strip()
        try:
            if "@" in text:
                name, _, alias = text.partition("@")
                return cls(validate_model_name(name), alias=validate_alias(alias))
            if ":" in text:
                name, _, version = text.partition(":")
                if not version.isdigit() or int(version) < 1:
                    raise InvalidModelRef(
                        f"invalid model reference {ref!r}: the version after ':' must be a "
                        f"positive integer; {hint}"
                    )
                return cls(validate_model_name(name), version=int(version))
            return cls(validate_model_name(text))
        except InvalidName as exc:
            raise InvalidModelRef(f"invalid model reference {ref!r}: {exc}; {hint}") from None

    def __str__(self) -> str:
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        if self.version is not None:
            return f"{self.name}:{self.version}"
        return self.name
