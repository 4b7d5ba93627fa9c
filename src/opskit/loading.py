"""``opskit.load_model``: resolve a reference, read the verified blob, rebuild the model."""

from __future__ import annotations

from typing import Any

from opskit._hooks import hooks
from opskit.errors import ModelLoadError
from opskit.names import ModelRef
from opskit.records import ModelVersion
from opskit.runtime import get_storage, get_tracker

__all__ = ["load_model", "load_version", "model_from_bytes"]


def load_model(ref: str | ModelRef) -> Any:
    """Load a registered model: ``"wine"`` (latest), ``"wine:3"`` or ``"wine@production"``.

    The blob's digest is checked before anything is unpickled (``BlobCorrupted``
    if it was tampered with).
    """
    return load_version(get_tracker().get_model_version(ModelRef.parse(ref)))


def load_version(version: ModelVersion) -> Any:
    """Load one resolved version from the active storage (digest verified first)."""
    return model_from_bytes(version, get_storage().get_bytes(version.digest))


def model_from_bytes(version: ModelVersion, data: bytes) -> Any:
    """Rebuild *version*'s model from its already verified bytes through the ``deserialize_model`` hook."""
    model = hooks.deserialize_model(version, data)
    if model is None:
        raise ModelLoadError(
            f"model {version.ref} has flavor {version.flavor!r} and no installed plugin loads it; "
            "install the plugin that registered it (see `opskit plugins`)"
        )
    return model
