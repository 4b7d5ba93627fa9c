"""Which prediction-log batches ``opskit.monitor.check`` has already checked: every batch exactly once.

The unit of a check is the **batch** (one index entry of ``opskit.serve.predlog``): its
rows become visible all at once (the blob is stored before its index entry), so a check
that takes every indexed batch not taken before never misses a row and never counts
one twice, however late the batch reached the index (a store outage, a slow tracker, a
server flushing at close).

State (tracker state documents):

- ``monitor-checks`` / ``<deployment>``: the latest check, with its *watermark* ``W``
  (the newest ``written_at`` of the batches taken, never ahead of the checking host's
  clock), the keys of the batches taken whose ``written_at >= W - margin``
  (``recent``), and the number of index entries seen per day (``counts``). A batch is
  new when ``written_at >= W - margin`` and its key is not in ``recent``.
- ``monitor-check-claims`` / ``<deployment>/<token>``: ``{"next": <token'>}``, claimed
  with ``tracker.claim_state`` by the one check that followed the state ``<token>``
  (compare-and-set: two concurrent checks never both take the same batches; the loser
  re-reads the state and checks what is left).
- ``monitor-check-states`` / ``<deployment>/<token>``: the state of token, written
  before its claim so that a check can follow the chain when the pointer lags; deleted
  once a later check moved past it.

*margin* (:data:`MARGIN`, 10 minutes) must cover the clock skew between the hosts that
write the log and the time between a writer stamping ``written_at`` and its index entry
(and day document) being visible. A batch indexed later than that is counted per day
(``counts``) and reported in the check's notes and as an ``OpskitWarning``: never silent.
"""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opskit.errors import OpskitWarning, StoreError

__all__ = [
    "CHECK_KIND",
    "CLAIMS_KIND",
    "MARGIN",
    "STATES_KIND",
    "Plan",
    "commit",
    "current",
    "plan",
]

#: The latest check of each deployment (key: the deployment).
CHECK_KIND = "monitor-checks"
#: ``claim_state`` documents: the check that followed a state (key ``<deployment>/<token>``).
CLAIMS_KIND = "monitor-check-claims"
#: The state of each token, for a check that follows the chain (key ``<deployment>/<token>``).
STATES_KIND = "monitor-check-states"
#: Seconds of clock skew and index latency a batch may have and still be checked (see the module doc).
MARGIN = 600.0
#: Seconds a check waits for the document of a claim another check holds before taking its
#: place (MLflow claims first, then writes the document: a check that died in between).
CLAIM_WAIT = 30.0
#: How many days before ``W - margin`` are always listed (older days only when marked late).
HORIZON_DAYS = 1
_DAY = 86400.0


@dataclass
class Plan:
    """The batches one check takes, and the state it leaves when it commits."""

    deployment: str
    previous: dict[str, Any] | None
    entries: list[tuple[str, str, dict[str, Any]]]  # (day, key, index entry), oldest first
    legacy_since: (
        float | None
    )  # the ts watermark of a check state written before batches were the unit
    legacy_log: bool  # also the old JSON-lines log (first check only)
    state: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    listed: int = 0  # index entries listed
    days: tuple[str, ...] = ()  # the days whose index was listed


def _utc_day(ts: float) -> str:
    from opskit.serve.predlog import utc_day

    return utc_day(ts)


def _written(entry: Mapping[str, Any]) -> float:
    value = entry.get("written_at", entry.get("last_ts", 0.0))
    return float(value) if isinstance(value, int | float) else 0.0


def current(tracker: Any, deployment: str) -> dict[str, Any] | None:
    """The state left by the latest committed check of *deployment* (following claims past a lagging pointer)."""
    for _ in range(20):
        pointer = tracker.get_state(CHECK_KIND, deployment)
        if pointer is None or not isinstance(pointer.get("token"), str):
            return None if pointer is None else dict(pointer)  # never checked, or a ts-range state
        token = str(pointer["token"])
        for _ in range(100_000):
            link = tracker.get_state(CLAIMS_KIND, f"{deployment}/{token}")
            if link is None or not isinstance(link.get("next"), str):
                break
            token = str(link["next"])
        if token == pointer["token"]:
            return dict(pointer)
        state = tracker.get_state(STATES_KIND, f"{deployment}/{token}")
        if state is not None:
            return dict(state)
        time.sleep(0.05)  # a later check deleted it meanwhile: walk again
    raise StoreError(
        f"could not read the check state of {deployment!r}: the chain of checks "
        f"(kinds {CHECK_KIND}, {CLAIMS_KIND}, {STATES_KIND}) kept moving; retry the check"
    )


def _days_to_list(
    tracker: Any, deployment: str, low: float | None, now: float
) -> tuple[list[str], dict[str, float]]:
    """The days to list: every day from the horizon (``low``) to tomorrow, and older days marked late since ``low``."""
    from opskit.serve.predlog import DAYS_KIND

    prefix = f"{deployment}/"
    marks: dict[str, float] = {}
    for key, doc in tracker.list_state(DAYS_KIND).items():
        if key.startswith(prefix):
            marks[key[len(prefix) :]] = _written(doc) if "written_at" in doc else 0.0
    if low is None:  # first check: the whole log
        days = set(marks)
        start = now - _DAY
    else:
        days = {d for d, at in marks.items() if at >= low}
        start = low - HORIZON_DAYS * _DAY
    t = start
    while t <= now + _DAY:  # tomorrow too: a writer whose clock is ahead
        days.add(_utc_day(t))
        t += _DAY
    days.add(_utc_day(now + _DAY))
    return sorted(days), marks


def plan(tracker: Any, deployment: str, *, margin: float = MARGIN) -> Plan:
    """The batches of *deployment* not checked yet, from the current state (nothing is written)."""
    from opskit.serve.predlog import day_kind

    previous = current(tracker, deployment)
    now = time.time()
    legacy_since: float | None = None
    watermark: float | None = None
    recent: dict[str, float] = {}
    counts: dict[str, int] = {}
    if previous is not None and isinstance(previous.get("token"), str):
        w = previous.get("watermark")
        watermark = float(w) if isinstance(w, int | float) else None
        recent = {str(k): float(v) for k, v in (previous.get("recent") or {}).items()}
        counts = {str(k): int(v) for k, v in (previous.get("counts") or {}).items()}
        old = previous.get("legacy_since")
        legacy_since = float(old) if isinstance(old, int | float) else None
    elif previous is not None:  # a state of the ts-range check: continue from its end
        old = previous.get("until")
        legacy_since = float(old) if isinstance(old, int | float) else None
    low: float | None
    if watermark is not None:
        low = watermark - margin
    elif legacy_since is not None:
        low = legacy_since - margin
    else:
        low = None
    days, _marks = _days_to_list(tracker, deployment, low, now)
    notes: list[str] = []
    entries: list[tuple[str, str, dict[str, Any]]] = []
    new_counts = dict(counts)
    accounted: dict[str, float] = {}
    listed = 0
    for day in days:
        index = tracker.list_state(day_kind(deployment, day))
        listed += len(index)
        taken_here = 0
        for key, entry in index.items():
            name = f"{day}/{key}"
            if watermark is not None:
                if _written(entry) < watermark - margin or name in recent:
                    continue
            elif legacy_since is not None:
                if name in recent:
                    continue
                if float(entry.get("last_ts", 0.0)) < legacy_since:
                    accounted[name] = _written(entry)  # checked by the ts-range check
                    continue
            elif name in recent:
                continue
            entries.append((day, key, dict(entry)))
            taken_here += 1
        if index or day in counts:
            before = counts.get(day)
            if before is not None and watermark is not None:
                missed = len(index) - before - taken_here
                if missed > 0:
                    notes.append(
                        f"{missed} batch(es) of {day} reached the prediction log index more than "
                        f"{margin:g} s after the last check's watermark and were not checked: "
                        f"read them with opskit.monitor.predictions({deployment!r}, since=..., until=...)"
                    )
            new_counts[day] = len(index)
    entries.sort(key=lambda e: (float(e[2].get("first_ts", 0.0)), e[0], e[1]))
    ahead = [e for e in entries if _written(e[2]) > now + margin]
    if ahead:
        notes.append(
            f"{len(ahead)} batch(es) carry a written_at more than {margin:g} s ahead of this host's "
            "clock: check the clocks of the hosts that serve the deployment"
        )
    newest = max((_written(e[2]) for e in entries), default=None)
    new_watermark = watermark
    if watermark is None and legacy_since is not None:
        # Continuing a ts-range check: every batch listed now is taken or accounted for.
        new_watermark = now
    elif newest is not None:
        clamped = min(
            newest, now
        )  # a writer whose clock is ahead never moves W past this host's clock
        new_watermark = clamped if watermark is None else max(watermark, clamped)
    if new_watermark is not None:
        floor = new_watermark - margin
        kept = {k: v for k, v in {**recent, **accounted}.items() if v >= floor}
        kept.update({f"{d}/{k}": _written(e) for d, k, e in entries if _written(e) >= floor})
    else:
        kept = {f"{d}/{k}": _written(e) for d, k, e in entries}
    state: dict[str, Any] = {
        "deployment": deployment,
        "token": uuid.uuid4().hex,
        "generation": int((previous or {}).get("generation", 0) or 0) + 1,
        "watermark": new_watermark,
        "margin": margin,
        "recent": kept,
        "counts": new_counts,
        "legacy_since": legacy_since if new_watermark is None else None,
    }
    for note in notes:
        warnings.warn(f"opskit.monitor.check({deployment!r}): {note}", OpskitWarning, stacklevel=3)
    return Plan(
        deployment=deployment,
        previous=previous,
        entries=entries,
        legacy_since=legacy_since if watermark is None else None,
        legacy_log=previous is None,
        state=state,
        notes=notes,
        listed=listed,
        days=tuple(days),
    )


def _appears(tracker: Any, kind: str, key: str) -> bool:
    """Whether the document of a claim someone else holds shows up within :data:`CLAIM_WAIT` seconds."""
    deadline = time.monotonic() + CLAIM_WAIT
    pause = 0.02
    while True:
        if tracker.get_state(kind, key) is not None:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 2, 1.0)


def commit(tracker: Any, chosen: Plan, extra: Mapping[str, Any]) -> bool:
    """Store *chosen*'s state (with *extra* fields) if no other check committed since it was planned.

    True when stored; False when another check won (plan again: it took some batches).
    """
    deployment = chosen.deployment
    state = {**chosen.state, **extra}
    token = str(state["token"])
    previous = chosen.previous
    prev_token = previous.get("token") if previous is not None else None
    if isinstance(prev_token, str):
        link_key = f"{deployment}/{prev_token}"
    elif previous is not None:  # the ts-range state: claim its successor by its end
        link_key = f"{deployment}/legacy-{previous.get('until')!r}-{previous.get('checked_at')!r}"
    else:
        link_key = None
    tracker.put_state(STATES_KIND, f"{deployment}/{token}", state)
    if link_key is not None:
        won = bool(tracker.claim_state(CLAIMS_KIND, link_key, {"next": token}))
        if not won and not _appears(tracker, CLAIMS_KIND, link_key):
            # Claimed, yet no document after CLAIM_WAIT: the claiming check died between the
            # claim and its document (possible on MLflow only): take its place.
            tracker.put_state(CLAIMS_KIND, link_key, {"next": token})
            won = True
    else:
        # First check: claim the pointer itself (free again after a reset with delete_state on
        # the local tracker; MLflow keeps claims, so a reset there falls back to a plain write).
        won = bool(tracker.claim_state(CHECK_KIND, deployment, state))
        if not won and not _appears(tracker, CHECK_KIND, deployment):
            won = True  # no document behind the claim: a reset, not a concurrent check
    if not won:
        tracker.delete_state(STATES_KIND, f"{deployment}/{token}")
        return False
    tracker.put_state(CHECK_KIND, deployment, state)
    if isinstance(prev_token, str):
        tracker.delete_state(STATES_KIND, f"{deployment}/{prev_token}")
    return True
