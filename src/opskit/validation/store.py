"""A run's validation report, stored with it: the JSON artifact ``opskit/validation.json`` and tags.

Both trackers keep artifacts (a blob in storage, referenced by digest) and string tags,
so the same code stores the report on the local and the MLflow tracker. The tags make
runs searchable: ``opskit.search_runs("tags.opskit.validation = 'failed'")``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Protocol

from opskit.records import Artifact
from opskit.records.runs import VALIDATION_ARTIFACT
from opskit.records.validation import ValidationReport

if TYPE_CHECKING:
    from opskit.records import Run
    from opskit.storage.base import Storage
    from opskit.tracker.base import Tracker


class RunHandle(Protocol):
    """What ``save_report`` uses of a run in progress (``opskit.ActiveRun`` has it)."""

    id: str
    tracker: Tracker
    tags: dict[str, str]
    artifacts: list[Artifact]


__all__ = ["OUTCOME_TAG", "STATUS_TAG", "VALIDATION_ARTIFACT", "load_report", "save_report"]

#: ``passed``, ``failed`` or ``error`` (the report's ``status``).
STATUS_TAG = "opskit.validation"
#: ``registered``, ``rejected``, ``not_registered`` or ``stopped`` (the report's ``outcome``).
OUTCOME_TAG = "opskit.validation.outcome"


def save_report(run: RunHandle, report: ValidationReport, storage: Storage) -> Artifact:
    """Store *report* with *run*: its JSON as the artifact ``opskit/validation.json``, and the two tags."""
    data = report.to_json().encode("utf-8")
    blob = storage.put_bytes(data)
    artifact = Artifact(VALIDATION_ARTIFACT, blob.digest, blob.size_bytes)
    run.artifacts[:] = [a for a in run.artifacts if a.name != VALIDATION_ARTIFACT]
    run.artifacts.append(artifact)
    run.tracker.log_artifacts(run.id, [artifact])
    tags: dict[str, str] = {STATUS_TAG: report.status}
    if report.outcome is not None:
        tags[OUTCOME_TAG] = report.outcome
    # opskit's own tags: written to the tracker directly (``run.set_tags`` refuses the ``opskit.`` prefix to users)
    run.tags.update(tags)
    run.tracker.set_tags(run.id, tags)
    return artifact


def load_report(run: Run, storage: Storage) -> ValidationReport | None:
    """The report stored with *run*, or None when it has none (the last one stored, if several)."""
    found = [a for a in run.artifacts if a.name == VALIDATION_ARTIFACT]
    if not found:
        return None
    data = storage.get_bytes(found[-1].digest)
    return ValidationReport.from_dict(json.loads(data.decode("utf-8")))
