"""Datasets as versioned records: ``log_data``, ``load_data``, ``list_datasets``, aliases.

A dataset version is a numbered, immutable copy of some data (``customers:1``,
``customers:2``...), stored in opskit storage (see :mod:`opskit.data.formats`) and described
by a ``DatasetVersion`` record kept in the tracker's state documents, so it works the same on
every tracker:

* ``opskit.dataset`` / ``name:N`` → the version record;
* ``opskit.dataset.digest`` / ``name/<digest>`` → the version holding that content (dedup);
* ``opskit.dataset.alias`` / ``name@alias`` → the version an alias points at.

Version numbers are allocated with the tracker's ``claim_state`` (atomic across processes).
References use the models' grammar: ``name`` (latest), ``name:N``, ``name@alias``.
"""

from __future__ import annotations

import builtins
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import attrs

from opskit.errors import (
    BlobCorrupted,
    DatasetNotFound,
    InvalidDatasetRef,
    InvalidModelRef,
    UnsupportedData,
)
from opskit.names import ModelRef, validate_alias, validate_model_name
from opskit.records import DataInput
from opskit.records.datasets import Dataset, DatasetVersion

__all__ = [
    "ALIAS_KIND",
    "DIGEST_KIND",
    "VERSION_KIND",
    "Dataset",
    "DatasetRef",
    "commit",
    "delete_alias",
    "get_dataset",
    "get_dataset_version",
    "list_datasets",
    "load_data",
    "load_version",
    "log_data",
    "prepare",
    "set_alias",
    "store",
]

VERSION_KIND: Final = "opskit.dataset"
DIGEST_KIND: Final = "opskit.dataset.digest"
ALIAS_KIND: Final = "opskit.dataset.alias"


class DatasetRef(ModelRef):
    """A parsed dataset reference: ``name`` (latest), ``name:3`` or ``name@alias`` (the models' grammar)."""

    @classmethod
    def parse(cls, ref: object) -> DatasetRef:
        if isinstance(ref, DatasetVersion):
            return cls(ref.name, version=ref.version)
        if isinstance(ref, DatasetRef):
            return ref
        try:
            parsed = ModelRef.parse(ref)
        except InvalidModelRef as exc:
            text = str(exc).replace("model reference", "dataset reference")
            raise InvalidDatasetRef(text) from None
        return cls(parsed.name, version=parsed.version, alias=parsed.alias)


# -- reading ---------------------------------------------------------------------------------


def _tracker() -> Any:
    from opskit.runtime import get_tracker

    return get_tracker()


def _record(doc: dict[str, Any], aliases: builtins.list[str] | None = None) -> DatasetVersion:
    from opskit.serialize import from_plain

    version: DatasetVersion = from_plain(DatasetVersion, doc)
    return attrs.evolve(version, aliases=tuple(sorted(aliases or ())))


def _aliases_of(tracker: Any, name: str | None = None) -> dict[str, dict[str, int]]:
    """{dataset: {alias: version}} from the alias documents."""
    found: dict[str, dict[str, int]] = {}
    for key, doc in tracker.list_state(ALIAS_KIND).items():
        dataset, _, alias = key.rpartition("@")
        if (name is None or dataset == name) and doc.get("version") is not None:
            found.setdefault(dataset, {})[alias] = int(doc["version"])
    return found


def _versions(tracker: Any, name: str | None = None) -> dict[str, builtins.list[dict[str, Any]]]:
    by_name: dict[str, builtins.list[dict[str, Any]]] = {}
    for key, doc in tracker.list_state(VERSION_KIND).items():
        dataset = key.rpartition(":")[0]
        if name is None or dataset == name:
            by_name.setdefault(dataset, []).append(doc)
    for docs in by_name.values():
        docs.sort(key=lambda d: int(d["version"]))
    return by_name


def _not_found(name: str) -> DatasetNotFound:
    return DatasetNotFound(
        f"no dataset named {name!r}: log one with opskit.log_data({name!r}, data); "
        "`opskit data list` shows the datasets"
    )


def list_datasets() -> builtins.list[Dataset]:
    """Every dataset, sorted by name, with its versions and aliases."""
    tracker = _tracker()
    aliases = _aliases_of(tracker)
    out = []
    for name, docs in sorted(_versions(tracker).items()):
        pointing = aliases.get(name, {})
        versions = [_record(d, [a for a, v in pointing.items() if v == d["version"]]) for d in docs]
        out.append(Dataset(name, versions, pointing))
    return out


def get_dataset(name: str) -> Dataset:
    """One dataset with its versions and aliases (raises ``DatasetNotFound``)."""
    validate_model_name(name)
    tracker = _tracker()
    docs = _versions(tracker, name).get(name)
    if not docs:
        raise _not_found(name)
    pointing = _aliases_of(tracker, name).get(name, {})
    versions = [_record(d, [a for a, v in pointing.items() if v == d["version"]]) for d in docs]
    return Dataset(name, versions, pointing)


def get_dataset_version(ref: str | DatasetRef | DatasetVersion) -> DatasetVersion:
    """The version a reference points at: ``name`` (latest), ``name:3`` or ``name@alias``."""
    parsed = DatasetRef.parse(ref)
    tracker = _tracker()
    version = parsed.version
    if parsed.alias is not None:
        doc = tracker.get_state(ALIAS_KIND, f"{parsed.name}@{parsed.alias}")
        if doc is None or doc.get("version") is None:
            known = sorted(_aliases_of(tracker, parsed.name).get(parsed.name, {}))
            raise DatasetNotFound(
                f"dataset {parsed.name!r} has no alias {parsed.alias!r} (aliases: "
                f"{', '.join(known) or 'none'}); set one with opskit.data.set_alias"
            )
        version = int(doc["version"])
    if version is None:
        docs = _versions(tracker, parsed.name).get(parsed.name)
        if not docs:
            raise _not_found(parsed.name)
        found = docs[-1]
    else:
        found = tracker.get_state(VERSION_KIND, f"{parsed.name}:{version}")
        if found is None:
            if not _versions(tracker, parsed.name).get(parsed.name):
                raise _not_found(parsed.name)
            raise DatasetNotFound(
                f"dataset {parsed.name!r} has no version {version}; "
                f"`opskit data show {parsed.name}` lists its versions"
            )
    pointing = _aliases_of(tracker, parsed.name).get(parsed.name, {})
    return _record(found, [a for a, v in pointing.items() if v == found["version"]])


# -- writing ---------------------------------------------------------------------------------


def _existing(tracker: Any, name: str, digest: str) -> DatasetVersion | None:
    index = tracker.get_state(DIGEST_KIND, f"{name}/{digest}")
    if index is None or index.get("version") is None:  # unknown, or being recorded
        return None
    doc = tracker.get_state(VERSION_KIND, f"{name}:{int(index['version'])}")
    return None if doc is None else _record(doc)


def _allocate(tracker: Any, version: DatasetVersion) -> DatasetVersion:
    """Store *version* under the next free number of its dataset (``claim_state``: atomic)."""
    from opskit.serialize import to_plain

    docs = _versions(tracker, version.name).get(version.name, [])
    number = int(docs[-1]["version"]) + 1 if docs else 1
    while True:
        candidate = attrs.evolve(version, version=number, aliases=())
        if tracker.claim_state(VERSION_KIND, candidate.ref, to_plain(candidate)):
            tracker.put_state(DIGEST_KIND, f"{version.name}/{version.digest}", {"version": number})
            return candidate
        number += 1


def _active_run_id() -> str | None:
    from opskit.tracking.context import active_run

    run = active_run()
    return None if run is None else run.id


def prepare(
    name: str,
    value: object,
    data: DataInput,
    *,
    run_id: str | None,
    label: str | None = None,
) -> DatasetVersion:
    """Write *value* (already fingerprinted as *data*) to storage; the version to :func:`commit`.

    Returns the existing version when *name* already holds this content (nothing written), else
    a pending record (``version == 0``) whose blobs are stored. Raises ``UnsupportedData`` when
    *value* cannot be stored exactly (no record is made).
    """
    from opskit.data.formats import encode
    from opskit.runtime import get_storage
    from opskit.sdk import identity

    existing = _existing(_tracker(), name, data.digest)
    if existing is not None:
        return existing
    encoded = encode(get_storage(), label or f"dataset {name!r}", data, value)
    return DatasetVersion(
        name=name,
        version=0,
        digest=data.digest,
        format=encoded.format,
        kind=data.kind,
        blob=encoded.blob,
        blobs=encoded.blobs,
        size_bytes=encoded.size_bytes,
        shape=data.shape,
        schema=data.schema,
        created_at=time.time(),
        run_id=run_id,
        user=identity.user(),
        source=data.path,
    )


#: How long a process waits for another one that is recording the same content (then records it itself).
CLAIM_WAIT_SECONDS: Final = 30.0


def _wait_for(tracker: Any, name: str, digest: str) -> DatasetVersion | None:
    """The version another process is recording for this content, once it is there (None after the wait)."""
    deadline = time.monotonic() + CLAIM_WAIT_SECONDS
    pause = 0.02
    while True:
        found = _existing(tracker, name, digest)
        if found is not None or time.monotonic() > deadline:
            return found
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


def commit(pending: DatasetVersion) -> DatasetVersion:
    """Record a version made by :func:`prepare` under the next number (an existing one is returned as is).

    The content is claimed first (``claim_state`` on its digest), so processes logging the same
    new content at once get one version: the others wait for it (at most ``CLAIM_WAIT_SECONDS``;
    if its process died meanwhile, they record the version themselves).
    """
    if pending.version > 0:
        return pending
    tracker = _tracker()
    key = f"{pending.name}/{pending.digest}"
    if not tracker.claim_state(DIGEST_KIND, key, {"version": None}):
        existing = _wait_for(tracker, pending.name, pending.digest)
        if existing is not None:
            return existing
    return _allocate(tracker, pending)


def store(
    name: str,
    value: object,
    data: DataInput,
    *,
    run_id: str | None,
    label: str | None = None,
) -> DatasetVersion:
    """Store *value* (already fingerprinted as *data*) as a version of *name* (dedup by content)."""
    return commit(prepare(name, value, data, run_id=run_id, label=label))


def fingerprint(name: str, value: object, *, label: str) -> DataInput:
    """The run's fingerprint of *value*, or ``UnsupportedData`` when no plugin treats it as data."""
    from opskit.data.formats import fingerprint_of

    data = fingerprint_of(name, value)
    if data is None:
        shown = repr(value) if isinstance(value, str | os.PathLike) else type(value).__name__
        raise UnsupportedData(
            f"{label}: {shown} is not data opskit can store: pass a pandas DataFrame or Series, a "
            "NumPy array, or the path of an existing file or directory. Nothing was stored"
        )
    return data


def protected(obj: object, pii: Sequence[str] | str, pii_mode: str, *, label: str) -> object:
    """A copy of the DataFrame *obj* with the *pii* columns hashed or dropped (``InvalidValue`` for other data)."""
    from opskit.errors import InvalidValue
    from opskit.pii import check_pii, protect_frame

    columns, mode = check_pii(pii, pii_mode)
    pd = sys.modules.get("pandas")
    if pd is None or not isinstance(obj, pd.DataFrame):
        raise InvalidValue(
            f"{label}: pii={list(columns)} needs a pandas DataFrame (got {type(obj).__name__}); drop the "
            "columns yourself before logging other data. Nothing was stored"
        )
    missing = [c for c in columns if c not in obj.columns]
    if missing:
        raise InvalidValue(
            f"{label}: pii column(s) {missing} are not columns of the data ({', '.join(map(str, obj.columns))}); "
            "fix the names so nothing sensitive is stored by mistake. Nothing was stored"
        )
    return protect_frame(obj, columns, mode)


def log_data(
    name: str,
    obj: object,
    *,
    alias: str | None = None,
    pii: Sequence[str] | str | None = None,
    pii_mode: str = "hash",
) -> DatasetVersion:
    """Store *obj* as the next version of dataset *name*; return it (``name:N``).

    *obj*: a pandas DataFrame or Series (stored as Parquet), a NumPy array (``.npy``), or the
    path of a file or directory (stored as content-addressed blobs). Logging content that
    an existing version of *name* already holds returns that version: no new version, no
    second copy. *alias* then points at the returned version. Inside a run, the version
    records the run's id. Raises ``UnsupportedData`` (nothing stored) when *obj* cannot be
    stored exactly. *pii* names columns of a DataFrame that are personal data: they are
    replaced by their keyed hash (``pii_mode="hash"``, see ``opskit.pii``) or dropped
    (``"drop"``) before anything is written; *obj* itself is not changed.
    """
    validate_model_name(name)
    if alias is not None:
        validate_alias(alias)
    if pii is not None:
        obj = protected(obj, pii, pii_mode, label=f"dataset {name!r}")
    data = fingerprint(name, obj, label=f"dataset {name!r}")
    version = store(name, obj, data, run_id=_active_run_id())
    if alias is not None:
        set_alias(name, alias, version)
        version = get_dataset_version(version.ref)
    return version


def _version_number(name: str, version: object) -> int:
    if isinstance(version, DatasetVersion):
        if version.name != name:
            raise InvalidDatasetRef(
                f"{version.ref} is a version of dataset {version.name!r}, not of {name!r}"
            )
        return version.version
    if isinstance(version, str) and version.strip().isdigit():
        version = int(version)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidDatasetRef(
            f"version {version!r} of dataset {name!r} is not a version number: pass an int >= 1 "
            f"or a DatasetVersion (see `opskit data show {name}`)"
        )
    return version


def set_alias(name: str, alias: str, version: int | DatasetVersion) -> DatasetVersion:
    """Point *alias* of dataset *name* at *version*; return that version (with its aliases)."""
    from opskit.sdk import identity

    validate_model_name(name)
    validate_alias(alias)
    number = _version_number(name, version)
    get_dataset_version(f"{name}:{number}")  # raises DatasetNotFound
    _tracker().put_state(
        ALIAS_KIND,
        f"{name}@{alias}",
        {"version": number, "user": identity.user(), "changed_at": time.time()},
    )
    return get_dataset_version(f"{name}:{number}")


def delete_alias(name: str, alias: str) -> None:
    """Remove *alias* from dataset *name* (``DatasetNotFound`` when it is not set)."""
    validate_model_name(name)
    validate_alias(alias)
    tracker = _tracker()
    if tracker.get_state(ALIAS_KIND, f"{name}@{alias}") is None:
        raise DatasetNotFound(f"dataset {name!r} has no alias {alias!r}")
    tracker.delete_state(ALIAS_KIND, f"{name}@{alias}")


# -- loading ---------------------------------------------------------------------------------


def _cache_folder(version: DatasetVersion) -> Path:
    from opskit.runtime import get_config

    return get_config().home / "cache" / "data" / version.name / str(version.version)


def _check(version: DatasetVersion, value: object) -> None:
    from opskit.data.formats import fingerprint_of

    again = fingerprint_of(version.name, value)
    if again is None or again.digest != version.digest:
        raise BlobCorrupted(
            f"dataset version {version.ref} does not match its digest {version.digest} (got "
            f"{again.digest if again else 'nothing'}): its stored copy or its cache was modified. "
            "Nothing was loaded. Run `opskit doctor`, or log the data again"
        )


def load_version(version: DatasetVersion) -> Any:
    """The data of *version*, verified against its digest (``BlobCorrupted`` if it was tampered with)."""
    from opskit.data import formats
    from opskit.runtime import get_storage

    storage = get_storage()
    if version.format in ("parquet", "npy"):
        value = formats.load_blob(storage, version.format, version.blob, version.size_bytes)
        _check(version, value)
        return value
    folder = _cache_folder(version)
    if version.format == "file":
        base = Path(version.source).name if version.source else "data"
        dest = folder / base
        if dest.is_file():
            try:
                _check(version, dest)
                return dest
            except BlobCorrupted:
                pass  # the cached copy was changed: fetch it again
        formats.materialize_file(storage, version.blob, dest)
    else:
        base = Path(version.source).name if version.source else "data"
        dest = folder / base
        if dest.is_dir():
            try:
                _check(version, dest)
                return dest
            except BlobCorrupted:
                pass
        formats.materialize_directory(storage, version.blob, dest)
    _check(version, dest)
    return dest


def load_data(ref: str | DatasetRef | DatasetVersion) -> Any:
    """The data of a dataset version: ``name`` (latest), ``name:3`` or ``name@alias``.

    Frames and series come back as pandas objects, arrays as NumPy arrays, both exactly as
    logged. Files and directories come back as a ``pathlib.Path`` in the cache folder
    ``<home>/cache/data/<name>/<version>/`` (re-fetched if changed there: copy it before
    editing). The content is checked against the version's digest: a tampered blob raises
    ``BlobCorrupted`` and nothing is returned.
    """
    return load_version(get_dataset_version(ref))
