"""Deprecated import path: the decorators live in ``opskit.tracking.decorators``, registration in ``opskit.registry.register``."""

from opskit.registry.register import explicit_signature as explicit_signature
from opskit.registry.register import model_signature as model_signature
from opskit.registry.register import register_model as register_model
from opskit.registry.register import register_version as register_version
from opskit.tracking.decorators import track as track
from opskit.tracking.decorators import train as train

__all__ = [
    "explicit_signature",
    "model_signature",
    "register_model",
    "register_version",
    "track",
    "train",
]
