"""``opskit.models.card(ref)``: gather what opskit knows about a version into a ``ModelCard``."""

from __future__ import annotations

import json
import time
from typing import Any

from opskit.names import ModelRef
from opskit.records.card import ModelCard
from opskit.runtime import get_tracker

__all__ = ["build_card", "intended_use"]


def intended_use(tags: Any) -> dict[str, str]:
    """The ``{section: text}`` stored in a run's ``opskit.card`` tag (empty when absent or unreadable)."""
    from opskit.tracking.options import CARD_TAG

    raw = tags.get(CARD_TAG)
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {"description": str(raw)}
    if not isinstance(data, dict):
        return {"description": str(data)}
    return {str(k): str(v) for k, v in data.items()}


def build_card(ref: str | ModelRef) -> ModelCard:
    """The card of the version *ref* points at (``wine``, ``wine:7``, ``wine@production``).

    Raises ``ModelNotFound`` for an unknown model or version; a version registered without a
    run (``opskit.models.register``) has a card without run, data, params or metrics.
    """
    from opskit.errors import RunNotFound
    from opskit.tracker.capabilities import SupportsAudit

    parsed = ModelRef.parse(ref)
    tracker = get_tracker()
    version = tracker.get_model_version(parsed)
    run = None
    if version.run_id:
        try:
            run = tracker.get_run(version.run_id)
        except RunNotFound:
            run = None
    audit: list[Any] = []
    if isinstance(tracker, SupportsAudit):
        audit = sorted(
            (e for e in tracker.audit_trail().events if e.model == version.name),
            key=lambda e: e.seq,
        )
    return ModelCard(
        ref=str(ref),
        version=version,
        generated_at=time.time(),
        intended_use={} if run is None else intended_use(run.tags),
        run_id=version.run_id,
        run_name=None if run is None else run.name,
        experiment=None if run is None else run.experiment,
        trained_by=None if run is None else run.user,
        trained_at=None if run is None else run.started_at,
        inputs=() if run is None else run.inputs,
        params={} if run is None else run.params,
        metrics={} if run is None else run.metrics,
        validation=None if run is None else run.validation,
        env=None if run is None else run.env,
        code=None if run is None else run.code,
        history=tracker.alias_history(version.name),
        audit=audit,
    )
