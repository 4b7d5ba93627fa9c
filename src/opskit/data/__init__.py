"""Versioning and reproducibility: dataset versions and snapshots, lineage, run diff, reproduce.

Modules: ``datasets`` (log_data / load_data, dataset versions), ``snapshots`` (the decorator's
``data="snapshot"``), ``lineage``, ``diff``, ``reproduce``. Heavy libraries (pandas, pyarrow)
are imported inside the functions that need them.
"""
