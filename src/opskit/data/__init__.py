"""Versioning and reproducibility: dataset versions and snapshots, lineage, run diff, reproduce.

Modules: ``datasets`` (log_data / load_data, dataset versions), ``snapshots`` (the decorator's
``data="snapshot"``), ``lineage``, ``diff``, ``reproduce``. Heavy libraries (pandas, pyarrow)
are imported inside the functions that need them.
"""

from opskit.data.datasets import (
    Dataset,
    DatasetRef,
    delete_alias,
    get_dataset,
    get_dataset_version,
    list_datasets,
    load_data,
    log_data,
    set_alias,
)
from opskit.data.snapshots import run_inputs

__all__ = [
    "Dataset",
    "DatasetRef",
    "delete_alias",
    "get_dataset",
    "get_dataset_version",
    "list_datasets",
    "load_data",
    "log_data",
    "run_inputs",
    "set_alias",
]


from typing import TYPE_CHECKING

if not TYPE_CHECKING:  # hidden from mypy, which would accept any attribute

    def __getattr__(name: str) -> object:
        """A submodule, imported on first use: ``opskit.<package>.<module>`` after ``import opskit``."""
        from opskit._lazy import package_getattr

        return package_getattr(__name__, name)
