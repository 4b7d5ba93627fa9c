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

The audit chain (``opskit.governance.audit``): every event has a position ``seq`` and a
hash linking it to the event before it (tags ``opskit.chain.seq``, ``opskit.chain.prev_hash``,
``opskit.chain.hash``). Tags can be changed through the MLflow API, params cannot (MLflow
refuses to log a param again with another value), so the chain is anchored in params: one
*ledger* run of ``opskit.state`` holds the param ``opskit.chain.seq.<seq>`` = hash for every
event. Logging that param is also how a writer claims its ``seq``: two processes that want
the same ``seq`` both try to log it; MLflow stores the first and refuses the other (the
primary key of its params table), which re-reads the ledger and tries the next one. So the
chain never forks. See docs/governance.md for what this protects and what it does not.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import attrs
from mlflow.entities import RunTag
from mlflow.exceptions import MlflowException

from opskit.errors import InvalidValue, StoreError
from opskit.governance.audit import GENESIS, registry_event_of, seal
from opskit.records.audit import AuditEvent, AuditHead, AuditTrail
from opskit.registry.events import EVENT_KINDS, EventKind, RegistryEvent, policy_denied
from opskit.sdk import identity
from opskit.serialize import from_plain, to_plain
from opskit.tracker.capabilities import SupportsAudit
from opskit_mlflow.connection import MLflowConnection, error_code, is_refused
from opskit_mlflow.encode import json_tags, read_json
from opskit_mlflow.keys import DOC, STATE_EXPERIMENT, escape
from opskit_mlflow.outbox import is_unreachable

__all__ = [
    "AUDIT_HASH",
    "AUDIT_LEDGER",
    "AUDIT_PREV",
    "AUDIT_SEQ",
    "EVENT_ID",
    "EVENT_KIND",
    "EVENT_MODEL",
    "RegistryEvents",
    "ledger_key",
]

EVENT_KIND, EVENT_ID, EVENT_MODEL = "opskit.event.kind", "opskit.event.id", "opskit.event.model"
AUDIT_SEQ, AUDIT_PREV, AUDIT_HASH = (
    "opskit.chain.seq",
    "opskit.chain.prev_hash",
    "opskit.chain.hash",
)
AUDIT_LEDGER = "opskit.chain.ledger"
_LEDGER_PARAM = "opskit.chain.seq."
#: How many times an append re-reads the ledger after losing a ``seq`` to another writer.
CLAIM_ATTEMPTS = 1000


def ledger_key(seq: int) -> str:
    """The ledger param that anchors the event at *seq*."""
    return f"{_LEDGER_PARAM}{seq:012d}"


_last_id = 0


def _next_id() -> int:
    """A sequence number that grows with every event: the clock in ns, never repeated in this process."""
    global _last_id
    _last_id = max(time.time_ns(), _last_id + 1)
    return _last_id


class RegistryEvents(MLflowConnection, SupportsAudit):
    """Appending registry events (hash-chained) and reading them back."""

    _ledger_id: str | None = None
    _tip: AuditHead | None = None

    # -- the ledger --------------------------------------------------------------------------------

    def _find_ledger(self, *, create: bool) -> str | None:
        """The MLflow run id of the ledger (the oldest ledger run when a race made two)."""
        if self._ledger_id is not None:
            return self._ledger_id
        experiment_id = self._experiment_id(STATE_EXPERIMENT, create=create)
        if experiment_id is None:
            return None

        def search() -> list[Any]:
            found = self.client.search_runs(
                [experiment_id], filter_string=f"tags.`{AUDIT_LEDGER}` = '1'", max_results=100
            )
            return sorted(found, key=lambda r: (r.info.start_time, r.info.run_id))

        found = search()
        if not found:
            if not create:
                return None
            self.client.create_run(experiment_id, run_name="audit/ledger", tags={AUDIT_LEDGER: "1"})
            found = search()
        self._ledger_id = str(found[0].info.run_id)
        return self._ledger_id

    def _ledger(self, ledger_id: str) -> dict[int, str]:
        """Every anchored hash of the ledger, by ``seq``."""
        params = self.client.get_run(ledger_id).data.params
        return {
            int(key[len(_LEDGER_PARAM) :]): value
            for key, value in params.items()
            if key.startswith(_LEDGER_PARAM)
        }

    def _read_tip(self, ledger_id: str) -> AuditHead:
        anchors = self._ledger(ledger_id)
        if not anchors:
            return AuditHead(0, GENESIS)
        last = max(anchors)
        return AuditHead(last, anchors[last])

    def _claim(self, ledger_id: str, seq: int, digest: str) -> bool:
        """Log the ledger param of *seq*; False when another writer holds that ``seq`` already."""
        try:
            self.client.log_param(ledger_id, ledger_key(seq), digest)
        except MlflowException as exc:
            if error_code(exc) == "INVALID_PARAMETER_VALUE" and "Changing param" in str(exc):
                return False
            raise
        return True

    def _seal_next(self, event: RegistryEvent) -> AuditEvent:
        """Claim the next ``seq`` for *event* in the ledger; return it sealed (retrying on a lost race)."""
        ledger_id = self._find_ledger(create=True)
        assert ledger_id is not None
        if self._tip is None:
            self._backfill(ledger_id)
            self._tip = self._read_tip(ledger_id)
        for _ in range(CLAIM_ATTEMPTS):
            sealed = seal(event, seq=self._tip.seq + 1, prev_hash=self._tip.hash)
            if self._claim(ledger_id, sealed.seq, sealed.hash):
                self._tip = AuditHead(sealed.seq, sealed.hash)
                return sealed
            self._tip = self._read_tip(ledger_id)  # another writer took it: continue after it
        raise StoreError(
            f"could not append an audit event after {CLAIM_ATTEMPTS} attempts: other writers kept "
            "taking the next position; try again"
        )

    def _backfill(self, ledger_id: str) -> None:
        """Chain the events an earlier opskit wrote without a chain (once, when the ledger is empty)."""
        if self._ledger(ledger_id):
            return
        unchained = [r for r in self._event_runs() if AUDIT_SEQ not in r.data.tags]
        if not unchained:
            return
        unchained.sort(key=lambda r: int(r.data.tags.get(EVENT_ID, "0")))
        prev = GENESIS
        for seq, run in enumerate(unchained, start=1):
            sealed = seal(self._stored_event(run), seq=seq, prev_hash=prev)
            if not self._claim(ledger_id, seq, sealed.hash):
                return  # another process chained them differently meanwhile: its chain stands
            self.client.log_batch(
                run.info.run_id,
                tags=[
                    RunTag(AUDIT_SEQ, f"{seq:012d}"),
                    RunTag(AUDIT_PREV, sealed.prev_hash),
                    RunTag(AUDIT_HASH, sealed.hash),
                ],
            )
            prev = sealed.hash

    # -- appending and reading -------------------------------------------------------------------

    def _append_event(self, event: RegistryEvent) -> RegistryEvent:
        """Claim the event's place in the chain, then write it as one run (created with all its tags)."""
        with self._lock:
            sealed = self._seal_next(attrs.evolve(event, id=_next_id()))
            stored = registry_event_of(sealed)
            tags = {
                EVENT_KIND: stored.kind,
                EVENT_ID: f"{stored.id:020d}",
                AUDIT_SEQ: f"{sealed.seq:012d}",
                AUDIT_PREV: sealed.prev_hash,
                AUDIT_HASH: sealed.hash,
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

    def record_event(self, event: RegistryEvent) -> RegistryEvent:
        """Append an event that records no change (an access-policy denial), chained like the others."""
        try:
            return self._append_event(event)
        except MlflowException as exc:
            if is_refused(exc):
                raise self._refusal(exc, "append-event", event.kind) from exc
            raise
        except Exception as exc:
            if is_unreachable(exc):
                raise self._unavailable(exc) from exc
            raise

    def _check_log_writable(self) -> None:
        """Fail (403) before a change when this user may not write the event log, so no change is left without its event.

        One experiment-tag write on ``opskit.state`` per user and process (needs EDIT there, as
        appending an event does); on a server without permissions it always passes.
        """
        user = os.environ.get("MLFLOW_TRACKING_USERNAME")
        writers: set[str | None] = self.__dict__.setdefault("_log_writers", set())
        if user in writers:
            return
        experiment_id = self._experiment_id(STATE_EXPERIMENT)
        assert experiment_id is not None
        self.client.set_experiment_tag(experiment_id, "opskit.writable", "true")
        writers.add(user)

    @contextmanager
    def _refusals(self, action: str, subject: str, model: str | None) -> Iterator[None]:
        """Turn the server's 401/403 into ``PermissionDenied`` (a refusal, not an outage: nothing is queued).

        A 403 is also appended as a ``policy_denied`` event when the user may write the event
        log (if not, the server's refusal is the only record).
        """
        try:
            yield
        except MlflowException as exc:
            if not is_refused(exc):
                raise
            denied = self._refusal(exc, action, subject)
            if error_code(exc) == "PERMISSION_DENIED":
                event = policy_denied(
                    action,
                    subject,
                    model=model,
                    user=identity.user(),
                    roles=(),
                    allowed_by=(),
                    reason=str(denied),
                )
                with suppress(Exception):
                    self._append_event(event)
            raise denied from exc

    def _event_runs(self, model: str | None = None) -> list[Any]:
        experiment_id = self._experiment_id(STATE_EXPERIMENT, create=False)
        if experiment_id is None:
            return []
        text = f"tags.`{EVENT_KIND}` != ''"
        if model is not None:
            text += f" and tags.`{EVENT_MODEL}` = '{escape(model)}'"
        return list(
            self._all(
                lambda token: self.client.search_runs(
                    [experiment_id], filter_string=text, max_results=1000, page_token=token
                )
            )
        )

    @staticmethod
    def _stored_event(run: Any) -> RegistryEvent:
        event: RegistryEvent = from_plain(RegistryEvent, read_json(run.data.tags, DOC + "event"))
        return event

    def audit_trail(self) -> AuditTrail:
        with self._lock:
            ledger_id = self._find_ledger(create=False)
            if ledger_id is not None:
                self._backfill(ledger_id)
            anchors = {} if ledger_id is None else self._ledger(ledger_id)
            runs = self._event_runs()
        events = []
        for run in runs:
            tags = run.data.tags
            if AUDIT_SEQ not in tags:
                continue  # not in the chain (its seq tag was removed): the gap shows in verify
            stored = self._stored_event(run)
            sealed = seal(stored, seq=int(tags[AUDIT_SEQ]), prev_hash=tags.get(AUDIT_PREV, ""))
            events.append(attrs.evolve(sealed, hash=tags.get(AUDIT_HASH, "")))
        head = AuditHead(max(anchors), anchors[max(anchors)]) if anchors else None
        if head is None and ledger_id is None and events:
            return AuditTrail(
                events=events, head=None, head_error="the audit ledger run of opskit.state is gone"
            )
        return AuditTrail(events=sorted(events, key=lambda e: e.seq), head=head, anchors=anchors)

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
            found = self._event_runs(model)
        events = sorted((self._stored_event(r) for r in found), key=lambda e: e.id)
        if kinds is not None:
            events = [e for e in events if e.kind in kinds]
        if since is not None:  # MLflow compares tags only with = / != / LIKE
            events = [e for e in events if e.id > since]
        return events if limit is None else events[:limit]
