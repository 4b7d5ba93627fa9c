"""Registry events (``opskit.registry.events``): one run of the experiment ``opskit.state`` per event.

An event run carries the tags ``opskit.event.kind``, ``opskit.event.id`` (its
sequence number), ``opskit.event.model`` (when it belongs to a model) and the
whole event as JSON (``opskit.json.event``); it is created with its tags in one
request, so an event is either there whole or not at all. MLflow has no
transactions: the tracker writes the event in the same tracker call as the
change, right after the change succeeded and before the call returns (and
before any hook fires). A process killed between those two requests leaves the
change without its event; it never leaves an event without its change. See
docs/backends/mlflow.md.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import attrs

from opskit.errors import InvalidValue
from opskit.registry.events import EVENT_KINDS, EventKind, RegistryEvent
from opskit.serialize import from_plain, to_plain
from opskit_mlflow.connection import MLflowConnection
from opskit_mlflow.encode import json_tags, read_json
from opskit_mlflow.keys import DOC, STATE_EXPERIMENT, escape

__all__ = ["EVENT_ID", "EVENT_KIND", "EVENT_MODEL", "RegistryEvents"]

EVENT_KIND, EVENT_ID, EVENT_MODEL = "opskit.event.kind", "opskit.event.id", "opskit.event.model"

_last_id = 0


def _next_id() -> int:
    """A sequence number that grows with every event: the clock in ns, never repeated in this process."""
    global _last_id
    _last_id = max(time.time_ns(), _last_id + 1)
    return _last_id


class RegistryEvents(MLflowConnection):
    """Appending registry events and reading them back."""

    def _append_event(self, event: RegistryEvent) -> RegistryEvent:
        """Write *event* as one run (created with all its tags in one request); return it with its ``id``."""
        with self._lock:
            stored = attrs.evolve(event, id=_next_id())
            tags = {
                EVENT_KIND: stored.kind,
                EVENT_ID: f"{stored.id:020d}",
                **json_tags(DOC + "event", to_plain(stored)),
            }
            if stored.model is not None:
                tags[EVENT_MODEL] = stored.model
            experiment_id = self._experiment_id(STATE_EXPERIMENT)
            assert experiment_id is not None
            self.client.create_run(
                experiment_id, run_name=f"event/{stored.kind}/{stored.subject}", tags=tags
            )
            return stored

    def events(
        self,
        *,
        model: str | None = None,
        since: int | None = None,
        kinds: Sequence[EventKind] | None = None,
        limit: int | None = None,
    ) -> list[RegistryEvent]:
        if kinds is not None:
            unknown = [k for k in kinds if k not in EVENT_KINDS]
            if unknown:
                raise InvalidValue(
                    f"unknown registry event kind(s) {unknown!r}; use some of {', '.join(EVENT_KINDS)}"
                )
        if limit is not None and limit < 0:
            raise InvalidValue(f"limit must be 0 or more, got {limit}")
        with self._lock:
            experiment_id = self._experiment_id(STATE_EXPERIMENT, create=False)
            if experiment_id is None:
                return []
            text = f"tags.`{EVENT_KIND}` != ''"
            if model is not None:
                text += f" and tags.`{EVENT_MODEL}` = '{escape(model)}'"
            found: list[Any] = list(
                self._all(
                    lambda token: self.client.search_runs(
                        [experiment_id], filter_string=text, max_results=1000, page_token=token
                    )
                )
            )
        events = sorted(
            (from_plain(RegistryEvent, read_json(r.data.tags, DOC + "event")) for r in found),
            key=lambda e: e.id,
        )
        if kinds is not None:
            events = [e for e in events if e.kind in kinds]
        if since is not None:  # MLflow compares tags only with = / != / LIKE
            events = [e for e in events if e.id > since]
        return events if limit is None else events[:limit]
