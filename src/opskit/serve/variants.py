"""Served models: where a variant's model comes from, and the atomic swap when its alias moves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

from opskit.records import ModelVersion

__all__ = ["FileSource", "ModelSource", "ServedModel", "StoreSource", "Variant", "source_from_spec"]


class ModelSource(Protocol):
    """Resolves a reference to a version and loads its model."""

    ref: str
    #: True when the reference can move (an alias or "latest"), so the server polls it.
    follows: bool

    def resolve(self) -> ModelVersion: ...

    def load(self, version: ModelVersion) -> Any: ...


class StoreSource:
    """A model reference resolved through the configured tracker and storage."""

    def __init__(self, ref: str) -> None:
        from opskit.names import ModelRef

        self.ref = ref
        self._parsed = ModelRef.parse(ref)
        self.follows = self._parsed.version is None

    def resolve(self) -> ModelVersion:
        from opskit.runtime import get_tracker

        return get_tracker().get_model_version(self._parsed)

    def load(self, version: ModelVersion) -> Any:
        from opskit.loading import load_version

        return load_version(version)


class FileSource:
    """A model shipped as files (docker build context): a version document and the blob."""

    follows = False

    def __init__(self, ref: str, version_file: str, blob_file: str) -> None:
        self.ref = ref
        self.version_file = Path(version_file)
        self.blob_file = Path(blob_file)

    def resolve(self) -> ModelVersion:
        from opskit.serialize import from_plain

        return from_plain(ModelVersion, json.loads(self.version_file.read_text(encoding="utf-8")))

    def load(self, version: ModelVersion) -> Any:
        from opskit.loading import model_from_bytes
        from opskit.storage.base import corrupted_blob, digest_bytes

        data = self.blob_file.read_bytes()
        if digest_bytes(data) != version.digest:
            raise corrupted_blob(version.digest, f"{self.blob_file} (rebuild the docker context)")
        return model_from_bytes(version, data)


def source_from_spec(entry: dict[str, Any]) -> ModelSource:
    if entry.get("blob_file"):
        return FileSource(entry["ref"], entry["version_file"], entry["blob_file"])
    return StoreSource(entry["ref"])


class ServedModel:
    """One loaded version (immutable once built, so swapping the reference is atomic)."""

    __slots__ = ("model", "version")

    def __init__(self, version: ModelVersion, model: Any) -> None:
        self.version = version
        self.model = model


class Variant:
    """A traffic variant: its source, weight, role and the model currently served."""

    def __init__(self, source: ModelSource, *, weight: float, role: str) -> None:
        self.source = source
        self.weight = weight
        self.role = role
        self.current: ServedModel | None = None

    def load_now(self) -> ServedModel:
        version = self.source.resolve()
        served = ServedModel(version, self.source.load(version))
        self.current = served
        return served

    def predict(self, data: Any) -> list[tuple[str, Any]]:
        """Run the current model on *data* (cast to its training dtypes); each prediction comes with its version."""
        served = self.current  # one read: a swap during the call does not affect this batch
        assert served is not None, "variant used before its model was loaded"
        out = served.model.predict(data)
        values = out.tolist() if hasattr(out, "tolist") else list(out)
        label = served.version.ref
        return [(label, v) for v in values]
