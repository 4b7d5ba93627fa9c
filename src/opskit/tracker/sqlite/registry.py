"""Model registry queries of the embedded tracker (called inside its transactions)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from opskit.errors import InvalidValue, ModelNotFound, VersionInUse
from opskit.names import ModelRef
from opskit.records import AliasChange, Model, ModelVersion, Schema
from opskit.records.registry import VERSION_STATUSES
from opskit.registry import events as registry_events
from opskit.registry.events import EVENT_KINDS, EventKind, RegistryEvent
from opskit.serialize import from_plain, to_plain
from opskit.tracker.sqlite import audit

__all__ = [
    "add_version",
    "alias_history",
    "append_event",
    "delete_alias",
    "delete_version",
    "events",
    "get_model",
    "list_models",
    "resolve",
    "set_alias",
    "set_status",
    "versions_of_runs",
]

_EVENT_COLUMNS = "id, kind, subject, model, before, after, user, time, run_id, reason"


def append_event(conn: sqlite3.Connection, event: RegistryEvent) -> int:
    """Append *event* inside the caller's transaction, hash-chained (``tracker.sqlite.audit``); return its ``id``."""
    return audit.append(conn, event).seq


def _event(row: Sequence[Any]) -> RegistryEvent:
    number, kind, subject, model, before, after, user, when, run_id, reason = row
    return RegistryEvent(
        kind=kind,
        subject=subject,
        model=model,
        before=None if before is None else json.loads(before),
        after=None if after is None else json.loads(after),
        user=user,
        time=when,
        run_id=run_id,
        reason=reason,
        id=number,
    )


def events(
    conn: sqlite3.Connection,
    *,
    model: str | None = None,
    since: int | None = None,
    kinds: Sequence[EventKind] | None = None,
    limit: int | None = None,
) -> list[RegistryEvent]:
    sql = f"SELECT {_EVENT_COLUMNS} FROM registry_events WHERE id > ?"
    args: list[Any] = [since or 0]
    if model is not None:
        sql += " AND model = ?"
        args.append(model)
    if kinds is not None:
        unknown = [k for k in kinds if k not in EVENT_KINDS]
        if unknown:
            raise InvalidValue(
                f"unknown registry event kind(s) {unknown!r}; use some of {', '.join(EVENT_KINDS)}"
            )
        if not kinds:
            return []
        sql += f" AND kind IN ({','.join('?' * len(kinds))})"
        args.extend(kinds)
    sql += " ORDER BY id"
    if limit is not None:
        if limit < 0:
            raise InvalidValue(f"limit must be 0 or more, got {limit}")
        sql += " LIMIT ?"
        args.append(limit)
    return [_event(row) for row in conn.execute(sql, args)]


_VERSION_COLUMNS = (
    "name, version, digest, size_bytes, flavor, run_id, created_at, signature, metadata, status"
)


def _aliases(conn: sqlite3.Connection, name: str | None = None) -> dict[tuple[str, int], list[str]]:
    sql = (
        "SELECT name, alias, version FROM aliases"
        + (" WHERE name = ?" if name else "")
        + " ORDER BY alias"
    )
    out: dict[tuple[str, int], list[str]] = {}
    for model, alias, version in conn.execute(sql, (name,) if name else ()):
        out.setdefault((model, version), []).append(alias)
    return out


def _version(row: Sequence[Any], aliases: Mapping[tuple[str, int], list[str]]) -> ModelVersion:
    name, version, digest, size, flavor, run_id, created_at, signature, metadata, status = row
    return ModelVersion(
        name=name,
        version=version,
        digest=digest,
        size_bytes=size,
        flavor=flavor,
        run_id=run_id,
        created_at=created_at,
        signature=from_plain(Schema, json.loads(signature)) if signature else None,
        metadata=json.loads(metadata),
        aliases=tuple(aliases.get((name, version), ())),
        status=status,
    )


def add_version(
    conn: sqlite3.Connection,
    name: str,
    *,
    digest: str,
    size_bytes: int,
    flavor: str,
    run_id: str | None,
    signature: Schema | None,
    metadata: Mapping[str, Any],
    user: str | None,
) -> ModelVersion:
    now = time.time()
    conn.execute("INSERT OR IGNORE INTO models (name, created_at) VALUES (?, ?)", (name, now))
    # after the highest number ever registered (a deleted version's number is never reused)
    number = conn.execute(
        "SELECT MAX(COALESCE((SELECT MAX(version) FROM model_versions WHERE name = ?), 0), "
        "COALESCE((SELECT MAX(CAST(substr(subject, length(model) + 2) AS INTEGER)) FROM registry_events "
        "WHERE model = ? AND kind = 'version_deleted'), 0)) + 1",
        (name, name),
    ).fetchone()[0]
    sig = json.dumps(to_plain(signature)) if signature is not None else None
    meta = json.dumps(dict(metadata), sort_keys=True, default=str)
    conn.execute(
        f"INSERT INTO model_versions ({_VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (name, number, digest, size_bytes, flavor, run_id, now, sig, meta, "candidate"),
    )
    version = _version(
        (name, number, digest, size_bytes, flavor, run_id, now, sig, meta, "candidate"), {}
    )
    append_event(conn, registry_events.version_registered(version, user=user))
    return version


def _model_names(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute("SELECT name FROM models ORDER BY name LIMIT 20")]


def _require_model(conn: sqlite3.Connection, name: str) -> float:
    row = conn.execute("SELECT created_at FROM models WHERE name = ?", (name,)).fetchone()
    if row is None:
        known = ", ".join(_model_names(conn)) or "none yet"
        raise ModelNotFound(
            f"no model named {name!r} (registered models: {known}); train one with "
            f"@opskit.train(model={name!r}) or list them with `opskit models list`"
        )
    return float(row[0])


def get_model(conn: sqlite3.Connection, name: str) -> Model:
    created = _require_model(conn, name)
    aliases = _aliases(conn, name)
    rows = conn.execute(
        f"SELECT {_VERSION_COLUMNS} FROM model_versions WHERE name = ? ORDER BY version", (name,)
    )
    versions = [_version(row, aliases) for row in rows]
    alias_map = {alias: version for (_, version), names in aliases.items() for alias in names}
    return Model(name=name, created_at=created, versions=versions, aliases=alias_map)


def list_models(conn: sqlite3.Connection) -> list[Model]:
    aliases = _aliases(conn)
    versions: dict[str, list[ModelVersion]] = {}
    for row in conn.execute(
        f"SELECT {_VERSION_COLUMNS} FROM model_versions ORDER BY name, version"
    ):
        versions.setdefault(row[0], []).append(_version(row, aliases))
    models = []
    for name, created in conn.execute("SELECT name, created_at FROM models ORDER BY name"):
        alias_map = {a: v for (m, v), names in aliases.items() if m == name for a in names}
        models.append(
            Model(name=name, created_at=created, versions=versions.get(name, []), aliases=alias_map)
        )
    return models


def _version_numbers(conn: sqlite3.Connection, name: str) -> str:
    row = conn.execute(
        "SELECT MIN(version), MAX(version), COUNT(*) FROM model_versions WHERE name = ?", (name,)
    ).fetchone()
    if not row[2]:
        return "no versions yet"
    return f"versions {row[0]}–{row[1]}" if row[0] != row[1] else f"version {row[0]}"


def _fetch(conn: sqlite3.Connection, name: str, version: int) -> ModelVersion | None:
    row = conn.execute(
        f"SELECT {_VERSION_COLUMNS} FROM model_versions WHERE name = ? AND version = ?",
        (name, version),
    ).fetchone()
    return None if row is None else _version(row, _aliases(conn, name))


def resolve(conn: sqlite3.Connection, ref: ModelRef) -> ModelVersion:
    _require_model(conn, ref.name)
    if ref.alias is not None:
        row = conn.execute(
            "SELECT version FROM aliases WHERE name = ? AND alias = ?", (ref.name, ref.alias)
        ).fetchone()
        if row is None:
            known = (
                ", ".join(sorted({a for names in _aliases(conn, ref.name).values() for a in names}))
                or "none"
            )
            raise ModelNotFound(
                f"model {ref.name!r} has no alias {ref.alias!r} (aliases: {known}); set one with "
                f"opskit.models.set_alias({ref.name!r}, {ref.alias!r}, VERSION)"
            )
        number = int(row[0])
    elif ref.version is not None:
        number = ref.version
    else:
        row = conn.execute(
            "SELECT MAX(version) FROM model_versions WHERE name = ?", (ref.name,)
        ).fetchone()
        if row[0] is None:
            raise ModelNotFound(f"model {ref.name!r} has no versions yet")
        number = int(row[0])
    found = _fetch(conn, ref.name, number)
    if found is None:
        raise ModelNotFound(
            f"model {ref.name!r} has no version {number} ({_version_numbers(conn, ref.name)}); "
            f"see `opskit models show {ref.name}`"
        )
    return found


def set_alias(
    conn: sqlite3.Connection,
    name: str,
    alias: str,
    version: int,
    *,
    user: str | None,
    reason: str | None = None,
) -> AliasChange:
    resolve(conn, ModelRef(name, version=version))  # raises if the model or version is missing
    row = conn.execute(
        "SELECT version FROM aliases WHERE name = ? AND alias = ?", (name, alias)
    ).fetchone()
    previous = None if row is None else int(row[0])
    now = time.time()
    if previous == version:  # already there: nothing moved, nothing to record
        return AliasChange(name, alias, version, previous, now, user)
    conn.execute(
        "INSERT OR REPLACE INTO aliases (name, alias, version) VALUES (?, ?, ?)",
        (name, alias, version),
    )
    change = AliasChange(name, alias, version, previous, now, user)
    event = registry_events.alias_changed(change)
    assert event is not None
    append_event(conn, attrs.evolve(event, reason=reason))
    return change


def set_status(
    conn: sqlite3.Connection,
    name: str,
    version: int,
    status: str,
    *,
    user: str | None,
    reason: str | None = None,
) -> ModelVersion:
    if status not in VERSION_STATUSES:
        raise InvalidValue(
            f"unknown version status {status!r}; use one of {', '.join(VERSION_STATUSES)}"
        )
    found = resolve(conn, ModelRef(name, version=version))
    if found.status == status:
        return found
    conn.execute(
        "UPDATE model_versions SET status = ? WHERE name = ? AND version = ?",
        (status, name, version),
    )
    append_event(conn, registry_events.status_changed(found, status, user=user, reason=reason))
    return attrs.evolve(found, status=status)


def delete_version(
    conn: sqlite3.Connection, name: str, version: int, *, user: str | None, reason: str | None
) -> ModelVersion:
    found = resolve(conn, ModelRef(name, version=version))
    if found.aliases:
        raise VersionInUse(
            f"cannot delete {found.ref}: the alias(es) {', '.join(found.aliases)} point at it; "
            f"move them first (opskit.models.promote / set_alias) and retry"
        )
    conn.execute("DELETE FROM model_versions WHERE name = ? AND version = ?", (name, version))
    append_event(conn, registry_events.version_deleted(found, user=user, reason=reason))
    return found


def delete_alias(
    conn: sqlite3.Connection, name: str, alias: str, *, user: str | None
) -> AliasChange:
    previous = resolve(conn, ModelRef(name, alias=alias)).version
    now = time.time()
    conn.execute("DELETE FROM aliases WHERE name = ? AND alias = ?", (name, alias))
    change = AliasChange(name, alias, None, previous, now, user)
    event = registry_events.alias_changed(change)
    assert event is not None
    append_event(conn, event)
    return change


def alias_history(conn: sqlite3.Connection, name: str, alias: str | None) -> list[AliasChange]:
    _require_model(conn, name)
    sql = f"SELECT {_EVENT_COLUMNS} FROM registry_events WHERE model = ? AND kind IN ('alias_set', 'alias_moved', 'alias_removed')"
    args: tuple[str, ...] = (name,)
    if alias is not None:
        sql += " AND subject = ?"
        args = (name, f"{name}@{alias}")
    return [
        registry_events.alias_change_of(_event(row))
        for row in conn.execute(sql + " ORDER BY id", args)
    ]


def versions_of_runs(conn: sqlite3.Connection, run_ids: Sequence[str]) -> list[ModelVersion]:
    """The (latest) model version registered by each of these runs."""
    marks = ",".join("?" * len(run_ids))
    rows = conn.execute(
        f"SELECT {_VERSION_COLUMNS} FROM model_versions WHERE run_id IN ({marks}) ORDER BY version",
        list(run_ids),
    ).fetchall()
    if not rows:
        return []
    aliases = _aliases(conn)
    return [_version(row, aliases) for row in rows]
