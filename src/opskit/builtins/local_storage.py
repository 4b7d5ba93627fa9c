"""Built-in plugin: blobs in a local folder, ``storage = "local"``, a path or ``file://``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from opskit.hookspecs import hookimpl

if TYPE_CHECKING:
    from opskit.config import Config
    from opskit.registration import RegisterStorage
    from opskit.storage.base import Storage


def _local_storage(config: Config, location: str) -> Storage:
    from opskit.storage.local import LocalStorage

    if location in ("", "local"):
        return LocalStorage(config.home / "blobs")
    if location.startswith("file://"):
        location = location[len("file://") :]
    path = Path(location).expanduser()
    return LocalStorage(path if path.is_absolute() else config.home.parent / path)


@hookimpl(trylast=True)
def register_storages(register: RegisterStorage) -> None:
    register("local", _local_storage, schemes=("file",))
