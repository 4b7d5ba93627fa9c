"""Data snapshots of runs: ``@opskit.train(data="snapshot")`` and loading a run's data back.

With ``data="snapshot"``, every data argument of the call is stored as a dataset version
(named ``<model>.<argument>`` for ``@opskit.train``, ``<function>.<argument>`` for
``@opskit.track``, unless ``datasets={"argument": "name"}`` names it) before the user's function
runs, and the run's ``DataInput`` for the argument records the version in ``dataset``
(``"name:N"``), on every tracker. :func:`run_inputs` loads them back (``opskit reproduce``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import attrs

from opskit.errors import SnapshotMissing, UnsupportedData
from opskit.records import DataInput

__all__ = ["DATA_MODES", "DataMode", "dataset_name", "run_inputs", "snapshot_inputs"]

#: What a decorated function records of its data arguments.
DataMode = Literal["fingerprint", "snapshot", "off"]
DATA_MODES: tuple[DataMode, ...] = ("fingerprint", "snapshot", "off")


def dataset_name(owner: str, argument: str, names: Mapping[str, str] | None = None) -> str:
    """The dataset a data argument is snapshotted to: ``names[argument]``, else ``<owner>.<argument>``."""
    from opskit.names import validate_model_name

    if names and argument in names:
        return validate_model_name(names[argument])
    return validate_model_name(f"{owner}.{argument}")


def snapshot_inputs(
    owner: str,
    data: Sequence[tuple[DataInput, object]],
    *,
    run_id: str,
    names: Mapping[str, str] | None = None,
    pii: Sequence[str] = (),
    pii_mode: str = "hash",
) -> list[tuple[DataInput, object]]:
    """Store every data argument as a dataset version; the inputs with ``dataset`` set.

    *pii* columns of DataFrame arguments are hashed or dropped in what is stored (and the
    argument's fingerprint is then that of the stored frame, so the snapshot verifies); the
    values handed back are the arguments as passed. A *pii* column in no argument is an error.

    Every argument is checked (and encoded) before any version is recorded, so an argument
    that cannot be stored raises ``UnsupportedData`` naming it, and the call does not run.
    """
    from opskit.data.datasets import commit, prepare

    originals = [value for _, value in data]
    if pii:
        data = _protect(data, pii, pii_mode)
    pending = []
    for d, value in data:
        name = dataset_name(owner, d.name, names)
        try:
            pending.append(
                prepare(name, value, d, run_id=run_id, label=f"data argument {d.name!r}")
            )
        except UnsupportedData as exc:
            raise UnsupportedData(
                f"{exc} (data='snapshot' stores every data argument; use data='fingerprint' to "
                "record only its digest)"
            ) from None
    return [
        (attrs.evolve(d, dataset=commit(version).ref), value)
        for version, (d, _), value in zip(pending, data, originals, strict=True)
    ]


def _protect(
    data: Sequence[tuple[DataInput, object]], pii: Sequence[str], pii_mode: str
) -> list[tuple[DataInput, object]]:
    """*data* with each DataFrame's *pii* columns hashed or dropped, re-fingerprinted."""
    import sys

    from opskit.data.formats import fingerprint_of
    from opskit.errors import InvalidValue
    from opskit.pii import check_pii, protect_frame

    columns, mode = check_pii(list(pii), pii_mode)
    pd = sys.modules.get("pandas")
    out: list[tuple[DataInput, object]] = []
    seen: set[str] = set()
    for d, value in data:
        if pd is not None and isinstance(value, pd.DataFrame):
            hit = [c for c in columns if c in value.columns]
            if hit:
                seen.update(hit)
                value = protect_frame(value, columns, mode)
                again = fingerprint_of(d.name, value)
                if again is not None:
                    d = attrs.evolve(again, name=d.name)
        out.append((d, value))
    missing = [c for c in columns if c not in seen]
    if missing:
        raise InvalidValue(
            f"pii column(s) {missing} are in none of the DataFrame arguments "
            f"({', '.join(d.name for d, _ in data)}); fix the names so nothing sensitive is stored by mistake"
        )
    return out


def run_inputs(run_id: str) -> dict[str, Any]:
    """The data arguments of run *run_id*, loaded back from their snapshots and verified.

    Raises ``SnapshotMissing`` naming the arguments that were only fingerprinted, and
    ``BlobCorrupted`` when a stored snapshot no longer matches the digest the run recorded.
    """
    from opskit.data.datasets import get_dataset_version, load_version
    from opskit.errors import BlobCorrupted
    from opskit.runtime import get_tracker

    run = get_tracker().get_run(run_id)
    missing = [d.name for d in run.inputs if d.dataset is None]
    if missing:
        raise SnapshotMissing(
            f"run {run_id}: data argument(s) {', '.join(map(repr, missing))} were only fingerprinted, "
            "not stored, so they cannot be loaded back; capture with data='snapshot' "
            "(@opskit.train(..., data='snapshot')) next time, or pass the data yourself"
        )
    loaded: dict[str, Any] = {}
    for d in run.inputs:
        assert d.dataset is not None
        version = get_dataset_version(d.dataset)
        if version.digest != d.digest:
            raise BlobCorrupted(
                f"run {run_id}: data argument {d.name!r} recorded digest {d.digest}, but dataset "
                f"version {version.ref} holds {version.digest}; the records were changed. Nothing was loaded"
            )
        loaded[d.name] = load_version(version)
    return loaded
