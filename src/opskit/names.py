"""Name validation for models, aliases, params, metrics and tags; the model reference parser.

One set of rules for every tracker: each rule below is the stricter of what the
local tracker and MLflow accept, so code that runs on one tracker runs on the
other, and a bad name fails before any training starts (never half-way, on the
server). MLflow's own rules (``mlflow.utils.validation``) are noted beside each.
"""

from __future__ import annotations

import posixpath
import re

from attrs import frozen

from opskit.errors import InvalidModelRef, InvalidName, InvalidValue

__all__ = [
    "MAX_EXPERIMENT_CHARS",
    "MAX_RUN_NAME_CHARS",
    "MAX_TAG_CHARS",
    "RESERVED_TAG_PREFIXES",
    "ModelRef",
    "validate_alias",
    "validate_experiment",
    "validate_key",
    "validate_model_name",
    "validate_run_name",
    "validate_tag_key",
    "validate_tag_value",
]

# Model names: MLflow refuses '/' and ':' and names that are not their own normalized path.
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
# Aliases: MLflow accepts [\w-]{1,255} but reserves 'latest' and 'v<digits>' (any case): 'v2'
# would be read as version 2 in a models:/ URI.
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")
_VERSION_ALIAS = re.compile(r"^[vV][0-9]+$")
# Param, metric and tag keys: MLflow accepts [/\w.\- :]{1,250} whose normalized path is itself.
_KEY = re.compile(r"^[A-Za-z0-9_.\-/ ]{1,250}$")
#: MLflow cuts longer run tag values (MAX_TAG_VAL_LENGTH); opskit refuses them on every tracker.
MAX_TAG_CHARS = 8000
#: MLflow keeps experiment names in a 256-character column (PostgreSQL enforces it); the rest
#: is room for the MLflow tracker's namespace prefix.
MAX_EXPERIMENT_CHARS = 200
#: MLflow keeps run names in a 250-character column.
MAX_RUN_NAME_CHARS = 250


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
    if _VERSION_ALIAS.match(alias):
        raise InvalidName(
            f"invalid alias {alias!r}: 'v' followed by digits is reserved for version numbers "
            "(MLflow refuses it); pick a word such as 'production' or 'candidate-2'"
        )
    return alias


def validate_key(key: object, kind: str = "key") -> str:
    """Return *key* if it is a valid param/metric/tag key, else raise ``InvalidName``."""
    if not isinstance(key, str) or not _KEY.match(key) or ".." in key or key.startswith("/"):
        raise InvalidName(
            f"invalid {kind} name {key!r}: use 1-250 characters, letters, digits, '_', '-', '.', "
            "' ' or '/' (for example 'val/r2')"
        )
    if (
        posixpath.normpath(key) != key or key == "."
    ):  # 'a//b', 'a/', './a', 'a/./b', '.': MLflow refuses them
        raise InvalidName(
            f"invalid {kind} name {key!r}: '/' separates non-empty parts and no part may be '.' "
            "(for example 'val/r2')"
        )
    return key


#: Tag key prefixes the trackers keep for themselves: on MLflow such tags change the run
#: (``mlflow.runName``) or are hidden from ``run.tags``; ``opskit.*`` holds opskit's records.
RESERVED_TAG_PREFIXES = ("mlflow.", "opskit.")


def validate_tag_key(key: object) -> str:
    """Return *key* if it is a valid tag key (a valid key, not a reserved prefix), else raise ``InvalidName``."""
    name = validate_key(key, "tag")
    if name.lower().startswith(RESERVED_TAG_PREFIXES):
        raise InvalidName(
            f"invalid tag name {name!r}: tags starting with 'mlflow.' or 'opskit.' are the trackers' own "
            "bookkeeping; use another prefix (for example 'team' or 'data.version')"
        )
    return name


def validate_tag_value(key: str, value: object) -> str:
    """Return the tag value as text (``str(value)``), else raise ``InvalidValue`` when it is too long."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_TAG_CHARS:
        raise InvalidValue(
            f"tag {key!r} is {len(text)} characters long (limit {MAX_TAG_CHARS}, as in MLflow); "
            "log long text as an artifact with opskit.log_artifact, or as a param"
        )
    return text


def validate_experiment(name: object) -> str:
    """Return *name* if it is a valid experiment name, else raise ``InvalidName``."""
    if (
        not isinstance(name, str)
        or not name.strip()
        or len(name) > MAX_EXPERIMENT_CHARS
        or not name.isprintable()
    ):
        raise InvalidName(
            f"invalid experiment name {name!r}: use 1-{MAX_EXPERIMENT_CHARS} printable characters "
            "that are not all spaces (for example 'wine-quality')"
        )
    return name


def validate_run_name(name: object) -> str:
    """Return *name* if it is a valid run name, else raise ``InvalidName``."""
    if not isinstance(name, str) or not name or len(name) > MAX_RUN_NAME_CHARS:
        raise InvalidName(
            f"invalid run name {name!r}: use 1-{MAX_RUN_NAME_CHARS} characters (for example 'baseline')"
        )
    return name


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
