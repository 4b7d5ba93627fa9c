"""Reference profiles stored with model versions: written at registration, read by ``drift(reference="wine@production")``.

At registration (``opskit.registry.register``) the training data the signature was
taken from is profiled (``opskit.monitor.profile``, the signature's columns only), the
profile's JSON is gzipped into one storage blob, and the version's metadata gets
``reference_profile = {"digest", "size_bytes", "rows", "columns", "schema_version"}``.
The digest is in the version's metadata on every tracker, so ``referenced_digests``
keeps the blob alive and ``opskit doctor --repair`` never removes it.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from opskit.errors import (
    BlobNotFound,
    InvalidDataset,
    InvalidModelRef,
    ModelNotFound,
    OpskitWarning,
    ProfileNotFound,
)
from opskit.monitor.records import PROFILE_SCHEMA_VERSION, ColumnProfile, ReferenceProfile

__all__ = ["PROFILE_KEY", "build_profile", "reference_profile", "store_profile"]

#: The version-metadata key that holds the stored profile's digest.
PROFILE_KEY = "reference_profile"

_HOW = (
    "register the model with its training data as a pandas DataFrame or pyarrow Table "
    "(an @opskit.train function's data argument, or opskit.models.register(model, name, "
    "reference=X_train)), or pass the training data or opskit.monitor.profile(X_train) as reference="
)


def build_profile(data: object, columns: Sequence[str] | None) -> ReferenceProfile | None:
    """The profile of *data* (only *columns* when given), or None when it cannot be profiled.

    Registration must not fail because of monitoring: data that is not a table
    (a NumPy array, a list), no rows, or the ``monitor`` extra not installed give
    None; a column without a single non-missing value (or that cannot be profiled) is
    left out of the profile, with an ``OpskitWarning`` naming it.
    """
    if data is None:
        return None
    module = type(data).__module__.split(".")[0]
    if module not in {"pandas", "pyarrow"} or not hasattr(
        data, "columns" if module == "pandas" else "column_names"
    ):
        return None
    try:
        from opskit.monitor.data import as_table
        from opskit.monitor.profiles import (
            DEFAULT_MAX_CATEGORIES,
            DEFAULT_SKETCH_SIZE,
            profile_column,
        )
    except ImportError as exc:  # numpy/scipy missing: the monitor extra is not installed
        import warnings

        from opskit._stack import user_stacklevel
        from opskit.distribution import EXTRA_MODULES, require_extra
        from opskit.errors import MissingExtra

        try:
            require_extra("monitor", "a reference profile", EXTRA_MODULES["monitor"][:4])
            why = f"{type(exc).__name__}: {exc}"
        except MissingExtra as missing:
            why = str(missing)
        warnings.warn(
            f"no reference profile is stored with this version ({why}); drift() against it "
            "will need the training data",
            OpskitWarning,
            stacklevel=user_stacklevel(),
        )
        return None
    try:
        table = as_table(data, role="reference")
    except InvalidDataset:
        return None
    names = [n for n in (columns if columns is not None else table.names) if n in table.names]
    if table.rows == 0 or not names:
        return None

    def one(name: str) -> ColumnProfile | str:
        try:
            column = table.column(name)  # sorts a numeric column: numpy releases the GIL
            if not column.data.n:
                return "no non-missing value"
            return profile_column(column, DEFAULT_SKETCH_SIZE, DEFAULT_MAX_CATEGORIES)
        except (InvalidDataset, TypeError, ValueError) as exc:  # registration must not fail here
            return f"{type(exc).__name__}: {exc}"

    with ThreadPoolExecutor(max_workers=min(len(names), os.cpu_count() or 1)) as pool:
        found = dict(zip(names, pool.map(one, names), strict=True))
    profiled = {name: col for name, col in found.items() if not isinstance(col, str)}
    left_out = {name: why for name, why in found.items() if isinstance(why, str)}
    if left_out:
        import warnings

        from opskit._stack import user_stacklevel

        warnings.warn(
            "the reference profile stored with this version leaves out "
            + "; ".join(f"column {name!r} ({why})" for name, why in left_out.items())
            + ": drift() cannot compare those columns against this version",
            OpskitWarning,
            stacklevel=user_stacklevel(),
        )
    if not profiled:
        return None
    return ReferenceProfile(profiled, table.rows, DEFAULT_SKETCH_SIZE, DEFAULT_MAX_CATEGORIES)


def store_profile(data: object, columns: Sequence[str] | None) -> dict[str, Any] | None:
    """Profile *data*, store the gzipped JSON as a blob, return the version-metadata entry (None: no profile)."""
    prof = build_profile(data, columns)
    if prof is None:
        return None
    from opskit.runtime import get_storage

    blob = get_storage().put_bytes(gzip.compress(prof.to_json().encode("utf-8"), compresslevel=1))
    return {
        "digest": blob.digest,
        "size_bytes": blob.size_bytes,
        "rows": prof.rows,
        "columns": len(prof.columns),
        "schema_version": PROFILE_SCHEMA_VERSION,
    }


def reference_profile(ref: str) -> ReferenceProfile:
    """The reference profile stored with a model version: ``"name@alias"``, ``"name:3"`` or ``"name"`` (latest).

    Raises ``InvalidModelRef`` for a malformed reference, ``ModelNotFound`` for an
    unknown model/version/alias, ``ProfileNotFound`` when the version was registered
    without table training data (the message says how to get a profile), and
    ``BlobNotFound`` when its blob is gone from storage.
    """
    from opskit.names import ModelRef
    from opskit.runtime import get_storage, get_tracker

    try:
        parsed = ModelRef.parse(ref)
    except InvalidModelRef as exc:
        raise InvalidModelRef(
            f"reference {ref!r} is neither an existing Parquet file/directory nor a model reference: {exc}"
        ) from exc
    try:
        version = get_tracker().get_model_version(parsed)
    except ModelNotFound as exc:
        raise ModelNotFound(
            f"reference {ref!r} is not an existing Parquet file/directory, and as a model reference: {exc}"
        ) from exc
    entry = version.metadata.get(PROFILE_KEY)
    if not isinstance(entry, Mapping) or not isinstance(entry.get("digest"), str):
        raise ProfileNotFound(
            f"model version {version.ref} (resolved from {ref!r}) has no reference profile stored with it: "
            f"it was registered without table training data, or before opskit stored profiles. To get one, {_HOW}"
        )
    digest = entry["digest"]
    try:
        raw = get_storage().get_bytes(digest)
    except BlobNotFound as exc:
        raise BlobNotFound(
            f"the reference profile of {version.ref} ({digest}) is missing from storage: {exc}. "
            f"Restore it from a backup, or {_HOW}"
        ) from exc
    try:
        text = gzip.decompress(raw).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InvalidDataset(
            f"the reference profile blob {digest} of {version.ref} is not gzipped JSON: {exc}"
        ) from exc
    return ReferenceProfile.from_json(text)
