"""opskit-example: the hook implementations opskit finds through the ``opskit`` entry point.

Factories import their backend module only when a user selects it, so
installing the plugin costs nothing at ``import opskit``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import opskit

if TYPE_CHECKING:
    from opskit_example.storage import IndexedFolderStorage
    from opskit_example.target import PrintTarget

__version__ = "0.1.0"


def _storage(config: opskit.Config, location: str) -> IndexedFolderStorage:
    from opskit_example.storage import IndexedFolderStorage

    if location.startswith("example://"):
        folder = Path(location[len("example://") :])
    else:  # selected by name: OPSKIT_STORAGE=example
        folder = config.home / "example-blobs"
    return IndexedFolderStorage(folder, **config.storage_options)


def _target(config: opskit.Config) -> PrintTarget:
    from opskit_example.target import PrintTarget

    return PrintTarget()


@opskit.hookimpl
def register_storages(register: Any) -> None:
    register("example", _storage, schemes=("example",))


@opskit.hookimpl
def register_targets(register: Any) -> None:
    register("print", _target)
