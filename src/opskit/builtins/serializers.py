"""Built-in plugin: model serializers ``sklearn`` and ``cloudpickle`` (tried last).

Every pickle is stored with the Python and cloudpickle versions that wrote it;
loading under another Python minor version is refused with a clear error,
because pickled code does not survive it.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from typing import Any

from opskit.errors import ModelLoadError, SerializationError
from opskit.hookspecs import hookimpl
from opskit.records import ModelVersion, SerializedModel

FLAVORS = ("sklearn", "cloudpickle")


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _is_sklearn(model: object) -> bool:
    if type(model).__module__.split(".", 1)[0] == "sklearn":
        return True
    sklearn_base = sys.modules.get("sklearn.base")
    return sklearn_base is not None and isinstance(model, sklearn_base.BaseEstimator)


def _dumps(model: object) -> bytes:
    import cloudpickle

    try:
        return cloudpickle.dumps(model)  # type: ignore[no-any-return]
    except Exception as exc:
        hint = (
            " In a notebook, objects that hold open files, locks, database connections, "
            "generators or running threads cannot be stored; build them inside the function "
            "or return only the fitted model."
        )
        raise SerializationError(
            f"the returned {type(model).__module__}.{type(model).__qualname__} object cannot be "
            f"serialized ({type(exc).__name__}: {exc}). Return a picklable model, or install/write a "
            f"plugin with a `serialize_model` hook for this type.{hint}"
        ) from exc


@hookimpl(trylast=True)
def serialize_model(model: object) -> SerializedModel | None:
    if model is None:
        return None
    flavor = "sklearn" if _is_sklearn(model) else "cloudpickle"
    meta: dict[str, Any] = {
        "python_version": platform.python_version(),
        "cloudpickle_version": _version("cloudpickle"),
        "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
    }
    if flavor == "sklearn":
        meta["sklearn_version"] = _version("scikit-learn")
        meta["numpy_version"] = _version("numpy")
    return SerializedModel(flavor=flavor, data=_dumps(model), metadata=meta)


@hookimpl(trylast=True)
def deserialize_model(version: ModelVersion, data: bytes) -> object | None:
    if version.flavor not in FLAVORS:
        return None
    import cloudpickle

    wrote = str(version.metadata.get("python_version", ""))
    here = platform.python_version()
    if wrote and wrote.split(".")[:2] != here.split(".")[:2]:
        raise ModelLoadError(
            f"model {version.ref} was pickled with Python {wrote}; this is Python {here}. "
            f"Load it with Python {'.'.join(wrote.split('.')[:2])}, or retrain it here"
        )
    try:
        model: object = cloudpickle.loads(data)
    except Exception as exc:
        wanted = {k: v for k, v in version.metadata.items() if k.endswith("_version")}
        raise ModelLoadError(
            f"model {version.ref} ({version.metadata.get('model_class', version.flavor)}) cannot be "
            f"unpickled here: {type(exc).__name__}: {exc}. It was written with {wanted}; install "
            "those versions (and the module that defines the model class) and try again"
        ) from exc
    return model
