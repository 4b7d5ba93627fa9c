"""The returned model as a real MLflow model: the sklearn flavor, or a pyfunc wrapper for anything else."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlflow.pyfunc.model import PythonModel

from opskit.records import Schema

__all__ = ["OpskitPythonModel", "pip_requirements", "save_native", "to_mlflow_signature"]

#: opskit column types (pandas dtype names) → MLflow column types.
_TYPES = {
    "float64": "double",
    "float32": "float",
    "int64": "long",
    "int32": "integer",
    "int16": "integer",
    "int8": "integer",
    "uint8": "integer",
    "uint16": "integer",
    "bool": "boolean",
    "object": "string",
    "string": "string",
    "str": "string",
    "category": "string",
}
_ALWAYS = ("mlflow", "cloudpickle", "numpy", "pandas", "scikit-learn", "scipy")


class OpskitPythonModel(PythonModel):
    """Serves any picklable opskit model through MLflow's pyfunc: ``predict`` if it has one, else a call."""

    def __init__(self, model: object) -> None:
        self.model = model

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        predict = getattr(self.model, "predict", None)
        if callable(predict):
            return predict(model_input)
        if callable(self.model):
            return self.model(model_input)
        raise TypeError(
            f"the opskit model {type(self.model).__qualname__} has no predict() and is not callable; "
            "load it with opskit.load_model() instead of mlflow.pyfunc"
        )


def _is_sklearn(model: object) -> bool:
    if type(model).__module__.split(".", 1)[0] == "sklearn":
        return True
    base = sys.modules.get("sklearn.base")
    return base is not None and isinstance(model, base.BaseEstimator)


def to_mlflow_signature(schema: Schema | None) -> Any:
    """An MLflow ``ModelSignature`` for a table schema whose types MLflow knows, else None."""
    if schema is None or schema.kind != "table" or not schema.columns:
        return None
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, TensorSpec
    from mlflow.types import Schema as MLflowSchema

    specs: list[ColSpec | TensorSpec] = []
    for column in schema.columns:
        kind = _TYPES.get(column.type)
        if kind is None:
            return None
        specs.append(ColSpec(kind, column.name))
    return ModelSignature(inputs=MLflowSchema(specs))


def pip_requirements(packages: Mapping[str, str], model: object) -> list[str]:
    """Pinned requirements from the captured environment (MLflow's own inference costs seconds)."""
    wanted = {*_ALWAYS, type(model).__module__.split(".", 1)[0], "opskit-ml", "opskit-mlflow"}
    lowered = {
        name.lower().replace("_", "-"): (name, version) for name, version in packages.items()
    }
    found = []
    for name in sorted(wanted):
        entry = lowered.get(name.lower().replace("_", "-"))
        if entry is not None:
            found.append(f"{entry[0]}=={entry[1]}")
    return found or ["mlflow"]


def save_native(
    model: object, path: Path, *, signature: Schema | None, requirements: list[str]
) -> str:
    """Write *model* as an MLflow model folder at *path*; return the MLflow flavor used."""
    import mlflow.pyfunc
    import mlflow.sklearn

    mlflow_signature = to_mlflow_signature(signature)
    if _is_sklearn(model):
        mlflow.sklearn.save_model(
            model,
            str(path),
            serialization_format="cloudpickle",
            signature=mlflow_signature,
            pip_requirements=requirements,
        )
        return "sklearn"
    with (
        warnings.catch_warnings()
    ):  # MLflow asks for list[...] type hints; the wrapper takes any input
        warnings.simplefilter("ignore", UserWarning)
        mlflow.pyfunc.save_model(
            str(path),
            python_model=OpskitPythonModel(model),
            signature=mlflow_signature,
            pip_requirements=requirements,
        )
    return "python_function"
