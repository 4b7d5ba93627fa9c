"""Built-in plugin: blobs on any fsspec filesystem, selected by URL (``s3://bucket/prefix``, ...).

``file://`` URLs and plain paths stay with the local storage: it renames files
atomically, marks blobs read-only and lets ``opskit doctor`` clean temp files,
which fsspec's local filesystem would only imitate. ``fsspec+file:///path``
forces this backend on a local folder (useful to test a plugin setup).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opskit.hookspecs import hookimpl

if TYPE_CHECKING:
    from opskit.config import Config
    from opskit.registration import RegisterStorage
    from opskit.storage.base import Storage

#: URL schemes routed to this backend; each needs its fsspec implementation installed.
SCHEMES = ("s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory", "sftp", "hdfs", "fsspec+file")


def _fsspec_storage(config: Config, location: str) -> Storage:
    from opskit.errors import ConfigError, UnknownBackend

    if "://" not in location:
        raise ConfigError(
            f"storage {location!r} needs a URL for the fsspec backend, such as s3://bucket/prefix, "
            "gs://bucket/prefix or memory://name; set OPSKIT_STORAGE or opskit.configure(storage=...)"
        )
    if location.startswith("fsspec+"):
        location = location[len("fsspec+") :]
    try:
        import fsspec  # noqa: F401  (only to give a clear message when it is missing)
    except ImportError:
        from opskit.storage.fsspec import install_hint

        raise UnknownBackend(
            f"storage {location!r} needs fsspec, which is not installed; {install_hint(location.split('://')[0])}"
        ) from None
    from opskit.storage.fsspec import FsspecStorage

    return FsspecStorage(location, storage_options=config.storage_options)


@hookimpl(trylast=True)
def register_storages(register: RegisterStorage) -> None:
    register("fsspec", _fsspec_storage, schemes=SCHEMES)
