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
