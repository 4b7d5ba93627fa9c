"""Schema of the embedded tracker and its migrations.

``MIGRATIONS[i]`` upgrades a database from version ``i`` to ``i + 1``; they run
in order, in one transaction, when a database is opened. A database written by
a newer opskit (a version past the end of the list) is refused.
"""

from __future__ import annotations

import sqlite3

from opskit.distribution import pip_install
from opskit.errors import StoreError
from opskit.tracker.sqlite import audit

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate"]

_V1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    experiment TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL,
    user TEXT,
    host TEXT,
    pid INTEGER,
    pid_start INTEGER,
    error TEXT,
    code_digest TEXT,
    env_digest TEXT
);
CREATE INDEX runs_started ON runs (started_at DESC);
CREATE INDEX runs_status ON runs (status);
CREATE INDEX runs_experiment ON runs (experiment, started_at DESC);
CREATE TABLE params (run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (run_id, key)) WITHOUT ROWID;
CREATE TABLE tags (run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (run_id, key)) WITHOUT ROWID;
CREATE TABLE metrics (run_id TEXT NOT NULL, key TEXT NOT NULL, value REAL, step INTEGER NOT NULL, timestamp REAL NOT NULL);
CREATE INDEX metrics_run_key ON metrics (run_id, key, step);
CREATE TABLE latest_metrics (
    run_id TEXT NOT NULL, key TEXT NOT NULL, value REAL, step INTEGER NOT NULL, timestamp REAL NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE TABLE inputs (run_id TEXT NOT NULL, position INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (run_id, position)) WITHOUT ROWID;
CREATE TABLE artifacts (run_id TEXT NOT NULL, name TEXT NOT NULL, digest TEXT NOT NULL, size_bytes INTEGER NOT NULL, PRIMARY KEY (run_id, name));
CREATE TABLE documents (digest TEXT PRIMARY KEY, kind TEXT NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE models (name TEXT PRIMARY KEY, created_at REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE model_versions (
    name TEXT NOT NULL REFERENCES models (name),
    version INTEGER NOT NULL,
    digest TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    flavor TEXT NOT NULL,
    run_id TEXT,
    created_at REAL NOT NULL,
    signature TEXT,
    metadata TEXT NOT NULL,
    PRIMARY KEY (name, version)
) WITHOUT ROWID;
CREATE INDEX model_versions_run ON model_versions (run_id);
CREATE TABLE aliases (name TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (name, alias)) WITHOUT ROWID;
CREATE TABLE alias_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER, previous_version INTEGER,
    changed_at REAL NOT NULL, user TEXT
);
CREATE INDEX alias_history_name ON alias_history (name, alias, id);
"""

_V2 = """
CREATE TABLE state (
    kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, updated_at REAL NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
"""

# The registry events (opskit.registry.events): one append-only table for every change,
# generalising alias_history. Existing versions and alias moves become events, in time order.
_V3 = """
CREATE TABLE registry_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL, subject TEXT NOT NULL, model TEXT,
    before TEXT, after TEXT, user TEXT, time REAL NOT NULL, run_id TEXT
);
CREATE INDEX registry_events_model ON registry_events (model, id);
INSERT INTO registry_events (kind, subject, model, before, after, user, time, run_id)
SELECT kind, subject, model, before, after, user, time, run_id FROM (
    SELECT 'version_registered' AS kind, name || ':' || version AS subject, name AS model, NULL AS before,
        json_object(
            'name', name, 'version', version, 'digest', digest, 'size_bytes', size_bytes, 'flavor', flavor,
            'run_id', run_id, 'created_at', created_at, 'signature', json(signature), 'metadata', json(metadata),
            'aliases', json_array()
        ) AS after,
        NULL AS user, created_at AS time, run_id, 0 AS position
    FROM model_versions
    UNION ALL
    SELECT CASE WHEN version IS NULL THEN 'alias_removed' WHEN previous_version IS NULL THEN 'alias_set'
                ELSE 'alias_moved' END,
        name || '@' || alias, name,
        CASE WHEN previous_version IS NULL THEN NULL ELSE json_object('version', previous_version) END,
        CASE WHEN version IS NULL THEN NULL ELSE json_object('version', version) END,
        user, changed_at, NULL, id
    FROM alias_history
) ORDER BY time, kind != 'version_registered', position;
DROP TABLE alias_history;
"""

# The audit chain (opskit.governance.audit): each event links to the one before it by hash; `reason`
# keeps why a change was made; model_versions.status the lifecycle (candidate/approved/rejected/archived). The hashes of existing events are computed in Python after this
# script (``audit.backfill``), in the same transaction, and the head is written next to the file.
_V4 = """
ALTER TABLE registry_events ADD COLUMN reason TEXT;
ALTER TABLE registry_events ADD COLUMN prev_hash TEXT;
ALTER TABLE registry_events ADD COLUMN hash TEXT;
ALTER TABLE model_versions ADD COLUMN status TEXT NOT NULL DEFAULT 'candidate'
"""

#: Each entry upgrades from its index to index + 1.
MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4)
SCHEMA_VERSION = len(MIGRATIONS)


def _current_version(conn: sqlite3.Connection) -> int:
    has_meta = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'"
    ).fetchone()
    if not has_meta:
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: sqlite3.Connection, path: str) -> int:
    """Bring the database to ``SCHEMA_VERSION``; return the version it had."""
    version = _current_version(conn)
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"the store {path} has schema version {version}, newer than this opskit understands "
            f"({SCHEMA_VERSION}); upgrade opskit ({pip_install(upgrade=True)})"
        )
    if version == SCHEMA_VERSION:
        return version
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = _current_version(conn)  # another process may have migrated meanwhile
        for script in MIGRATIONS[version:]:
            for statement in script.split(";"):
                if statement.strip():
                    conn.execute(statement)
        if version < 4:
            audit.backfill(conn, path)
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )
        audit.write_pending(conn)
        conn.execute("COMMIT")
    except BaseException:
        audit.drop_pending(conn)
        conn.execute("ROLLBACK")
        raise
    return version
