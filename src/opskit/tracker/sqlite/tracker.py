"""``SQLiteTracker``: runs and the model registry in one SQLite file (WAL mode).

Concurrency: every write is one ``BEGIN IMMEDIATE`` transaction with a long
busy timeout, so processes queue instead of failing with "database is locked".
Speed: a run costs two transactions (create, end); params, metrics and tags
logged in between are buffered and written with ``executemany`` at the end, at
5,000 points, after a second (the SDK's background flusher calls ``flush``), or
before any read.

Fork safety: a forked child never touches (nor closes: closing could checkpoint or
remove the WAL file under the parent) the connection it inherited; it drops the
copied buffers (the parent writes them) and opens its own connection.
"""

from __future__ import annotations

import json
import math
import os
import socket
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from opskit.errors import InvalidValue, RunNotFound, StoreError
from opskit.names import ModelRef
from opskit.query import RunQuery
from opskit.records import (
    AliasChange,
    Artifact,
    CodeInfo,
    DataInput,
    EnvInfo,
    Metric,
    Model,
    ModelVersion,
    Run,
    RunStatus,
    Schema,
)
from opskit.records.audit import AuditTrail
from opskit.registry.events import EventKind, RegistryEvent
from opskit.sdk import identity
from opskit.serialize import from_plain, to_plain
from opskit.storage.base import digest_bytes
from opskit.tracker.base import Tracker, digests_in
from opskit.tracker.capabilities import (
    StateChange,
    SupportsAudit,
    SupportsEventRecording,
    SupportsLifecycle,
    SupportsLocation,
)
from opskit.tracker.sqlite import audit, registry
from opskit.tracker.sqlite.process import is_alive, own_start, process_start
from opskit.tracker.sqlite.schema import migrate
from opskit.tracker.sqlite.search import RUN_COLUMNS, build_search

__all__ = ["SQLiteTracker"]

FLUSH_POINTS = 5000
FLUSH_SECONDS = 1.0
_CHUNK = 500

_trackers: weakref.WeakSet[SQLiteTracker] = weakref.WeakSet()
#: Connections a forked child inherited: kept open (never used) so that closing them cannot
#: checkpoint or remove the WAL file under the parent, which still uses it.
_inherited: list[sqlite3.Connection] = []


def _after_fork_in_child() -> None:
    for tracker in list(_trackers):
        tracker._forked()


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


def _while_busy(conn: sqlite3.Connection, sql: str, *, timeout: float = 60.0) -> None:
    """Run *sql*, retrying while the database is locked (up to *timeout* seconds).

    Switching a new database to WAL takes an exclusive lock, and SQLite answers "database is
    locked" at once, without its busy handler, when other processes open the same new store
    at that moment; so the busy timeout alone does not cover it.
    """
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        try:
            conn.execute(sql)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


class SQLiteTracker(
    Tracker, SupportsLocation, SupportsAudit, SupportsLifecycle, SupportsEventRecording
):
    """The embedded tracker (registered as ``local``)."""

    name = "local"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid: int | None = None
        self._metrics: list[tuple[str, str, float | None, int, float]] = []
        self._params: dict[tuple[str, str], str] = {}
        self._tags: dict[tuple[str, str], str] = {}
        self._last_flush = time.monotonic()
        self._docs_written: set[str] = set()
        self._digest_of: dict[int, tuple[Any, str]] = {}
        self._docs: dict[str, Any] = {}
        self._connection()  # open (and migrate) now, so a bad store fails at selection time
        _trackers.add(self)

    def location(self) -> str:
        """The database file, as an absolute path."""
        return str(self.path.resolve())

    def _forked(self) -> None:
        """In a forked child: the parent writes what it buffered; the child opens its own connection."""
        self._lock = threading.RLock()  # another thread of the parent may have held it at the fork
        self._metrics, self._params, self._tags = [], {}, {}
        if self._conn is not None:
            _inherited.append(self._conn)
        self._conn, self._pid = None, None

    # -- connection and transactions -------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            if (
                self._conn is not None
            ):  # forked without the at-fork hook: never close the parent's connection
                _inherited.append(self._conn)
            conn = sqlite3.connect(
                self.path, timeout=60.0, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA busy_timeout = 60000")
            _while_busy(conn, "PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA case_sensitive_like = ON")
            migrate(conn, str(self.path))
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                audit.write_pending(conn)  # the head of the audit chain, just before COMMIT
            except BaseException:
                audit.drop_pending(conn)
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _read(self) -> sqlite3.Connection:
        self.flush()
        return self._connection()

    # -- buffered writes ---------------------------------------------------------------------------

    def _write_buffers(self, conn: sqlite3.Connection) -> None:
        """Write the buffers inside the caller's transaction; ``_clear_buffers`` after it commits."""
        if self._params:
            conn.executemany(
                "INSERT OR REPLACE INTO params (run_id, key, value) VALUES (?, ?, ?)",
                [(r, k, v) for (r, k), v in self._params.items()],
            )
        if self._tags:
            conn.executemany(
                "INSERT OR REPLACE INTO tags (run_id, key, value) VALUES (?, ?, ?)",
                [(r, k, v) for (r, k), v in self._tags.items()],
            )
        if self._metrics:
            points = self._metrics
            conn.executemany(
                "INSERT INTO metrics (run_id, key, value, step, timestamp) VALUES (?, ?, ?, ?, ?)",
                points,
            )
            latest: dict[tuple[str, str], tuple[str, str, float | None, int, float]] = {}
            for point in points:
                key = (point[0], point[1])
                seen = latest.get(key)
                if seen is None or (point[3], point[4]) >= (seen[3], seen[4]):
                    latest[key] = point
            conn.executemany(
                "INSERT INTO latest_metrics (run_id, key, value, step, timestamp) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, step = excluded.step, "
                "timestamp = excluded.timestamp WHERE excluded.step > latest_metrics.step OR "
                "(excluded.step = latest_metrics.step AND excluded.timestamp >= latest_metrics.timestamp)",
                list(latest.values()),
            )

    def _clear_buffers(self) -> None:
        self._metrics, self._params, self._tags = [], {}, {}
        self._last_flush = time.monotonic()

    def _maybe_flush(self) -> None:
        if (
            len(self._metrics) >= FLUSH_POINTS
            or time.monotonic() - self._last_flush >= FLUSH_SECONDS
        ):
            self.flush()

    def flush(self) -> None:
        with self._lock:
            if self._metrics or self._params or self._tags:
                with self._write() as conn:
                    self._write_buffers(conn)
                self._clear_buffers()

    # -- runs --------------------------------------------------------------------------------------

    def _document(self, conn: sqlite3.Connection, kind: str, record: Any) -> str | None:
        if record is None:
            return None
        # Capture hands the same frozen record to every run of a process: digest it once.
        cached = self._digest_of.get(id(record))
        if cached is not None and cached[0] is record:
            return cached[1]
        body = _dumps(to_plain(record))
        digest = digest_bytes(body.encode())
        if digest not in self._docs_written:
            conn.execute(
                "INSERT OR IGNORE INTO documents (digest, kind, body) VALUES (?, ?, ?)",
                (digest, kind, body),
            )
            self._docs_written.add(digest)
        self._digest_of[id(record)] = (record, digest)
        return digest

    def create_run(self, run: Run, *, pid: int | None = None) -> None:
        started = own_start() if pid == os.getpid() else (process_start(pid) if pid else None)
        with self._write() as conn:
            code = self._document(conn, "code", run.code)
            env = self._document(conn, "env", run.env)
            conn.execute(
                "INSERT INTO runs (id, name, experiment, status, started_at, ended_at, user, host, pid, "
                "pid_start, error, code_digest, env_digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run.id,
                    run.name,
                    run.experiment,
                    run.status,
                    run.started_at,
                    run.ended_at,
                    run.user,
                    run.host,
                    pid,
                    started,
                    run.error,
                    code,
                    env,
                ),
            )
            if run.params:
                conn.executemany(
                    "INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)",
                    [(run.id, k, _dumps(v)) for k, v in run.params.items()],
                )
            if run.tags:
                conn.executemany(
                    "INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?)",
                    [(run.id, k, v) for k, v in run.tags.items()],
                )
            if run.inputs:
                conn.executemany(
                    "INSERT INTO inputs (run_id, position, body) VALUES (?, ?, ?)",
                    [(run.id, i, _dumps(to_plain(d))) for i, d in enumerate(run.inputs)],
                )

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        with self._lock:
            for key, value in params.items():
                self._params[(run_id, key)] = _dumps(value)
            self._maybe_flush()

    def log_metrics(self, run_id: str, metrics: Sequence[Metric]) -> None:
        with self._lock:
            self._metrics.extend(
                (run_id, m.key, None if math.isnan(m.value) else m.value, m.step, m.timestamp)
                for m in metrics
            )
            if (
                len(self._metrics) >= FLUSH_POINTS
                or time.monotonic() - self._last_flush >= FLUSH_SECONDS
            ):
                self.flush()

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        with self._lock:
            for key, value in tags.items():
                self._tags[(run_id, key)] = value
            self._maybe_flush()

    def log_inputs(self, run_id: str, inputs: Sequence[DataInput]) -> None:
        with self._write() as conn:
            start = conn.execute(
                "SELECT COALESCE(MAX(position) + 1, 0) FROM inputs WHERE run_id = ?", (run_id,)
            ).fetchone()[0]
            conn.executemany(
                "INSERT INTO inputs (run_id, position, body) VALUES (?, ?, ?)",
                [(run_id, start + i, _dumps(to_plain(d))) for i, d in enumerate(inputs)],
            )

    def log_artifacts(self, run_id: str, artifacts: Sequence[Artifact]) -> None:
        with self._write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO artifacts (run_id, name, digest, size_bytes) VALUES (?, ?, ?, ?)",
                [(run_id, a.name, a.digest, a.size_bytes) for a in artifacts],
            )

    def end_run(
        self, run_id: str, *, status: RunStatus, ended_at: float, error: str | None = None
    ) -> None:
        with self._lock:
            with self._write() as conn:
                self._write_buffers(conn)
                done = conn.execute(
                    "UPDATE runs SET status = ?, ended_at = ?, error = ? WHERE id = ?",
                    (status, ended_at, error, run_id),
                )
                if done.rowcount != 1:  # rolls back; the buffers stay for the next flush
                    raise RunNotFound(f"cannot end run {run_id!r}: no such run in {self.path}")
            self._clear_buffers()

    # -- reading runs --------------------------------------------------------------------------------

    def _load_document(self, conn: sqlite3.Connection, digest: str | None, cls: type[Any]) -> Any:
        if digest is None:
            return None
        if digest not in self._docs:
            row = conn.execute("SELECT body FROM documents WHERE digest = ?", (digest,)).fetchone()
            self._docs[digest] = from_plain(cls, json.loads(row[0])) if row else None
        return self._docs[digest]

    def _runs_from_rows(
        self, conn: sqlite3.Connection, rows: list[sqlite3.Row | tuple[Any, ...]]
    ) -> list[Run]:
        ids = [row[0] for row in rows]
        params: dict[str, dict[str, Any]] = {i: {} for i in ids}
        metrics: dict[str, dict[str, float]] = {i: {} for i in ids}
        tags: dict[str, dict[str, str]] = {i: {} for i in ids}
        inputs: dict[str, list[DataInput]] = {i: [] for i in ids}
        artifacts: dict[str, list[Artifact]] = {i: [] for i in ids}
        versions: dict[str, ModelVersion] = {}
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            for run_id, key, value in conn.execute(
                f"SELECT run_id, key, value FROM params WHERE run_id IN ({marks})", chunk
            ):
                params[run_id][key] = json.loads(value)
            for run_id, key, value in conn.execute(
                f"SELECT run_id, key, value FROM latest_metrics WHERE run_id IN ({marks})", chunk
            ):
                metrics[run_id][key] = math.nan if value is None else value
            for run_id, key, value in conn.execute(
                f"SELECT run_id, key, value FROM tags WHERE run_id IN ({marks})", chunk
            ):
                tags[run_id][key] = value
            for run_id, body in conn.execute(
                f"SELECT run_id, body FROM inputs WHERE run_id IN ({marks}) ORDER BY run_id, position",
                chunk,
            ):
                inputs[run_id].append(from_plain(DataInput, json.loads(body)))
            for run_id, name, digest, size in conn.execute(
                f"SELECT run_id, name, digest, size_bytes FROM artifacts WHERE run_id IN ({marks}) ORDER BY rowid",
                chunk,
            ):
                artifacts[run_id].append(Artifact(name, digest, size))
            for version in registry.versions_of_runs(conn, chunk):
                versions[version.run_id or ""] = version
        runs = []
        for row in rows:
            (
                run_id,
                name,
                experiment,
                status,
                started_at,
                ended_at,
                user,
                host,
                _pid,
                _start,
                error,
                code,
                env,
            ) = row
            runs.append(
                Run(
                    id=run_id,
                    name=name,
                    status=status,
                    experiment=experiment,
                    started_at=started_at,
                    ended_at=ended_at,
                    user=user,
                    host=host,
                    params=params[run_id],
                    metrics=metrics[run_id],
                    tags=tags[run_id],
                    code=self._load_document(conn, code, CodeInfo),
                    env=self._load_document(conn, env, EnvInfo),
                    inputs=inputs[run_id],
                    artifacts=artifacts[run_id],
                    model_version=versions.get(run_id),
                    error=error,
                )
            )
        return runs

    def get_run(self, run_id: str) -> Run:
        conn = self._read()
        with self._lock:
            row = conn.execute(
                f"SELECT {RUN_COLUMNS} FROM runs r WHERE id = ?", (run_id,)
            ).fetchone()
            if row is None:
                raise RunNotFound(
                    f"no run with id {run_id!r} in {self.path}; list runs with `opskit runs list`"
                )
            return self._runs_from_rows(conn, [row])[0]

    def search_runs(self, query: RunQuery) -> list[Run]:
        if query.limit < 1:
            raise InvalidValue(f"limit must be at least 1, got {query.limit}")
        sql, args = build_search(query)
        conn = self._read()
        with self._lock:
            rows = conn.execute(sql, args).fetchall()
            return self._runs_from_rows(conn, rows)

    def metric_history(self, run_id: str, key: str) -> list[Metric]:
        conn = self._read()
        with self._lock:
            rows = conn.execute(
                "SELECT key, value, step, timestamp FROM metrics WHERE run_id = ? AND key = ? ORDER BY step, timestamp, rowid",
                (run_id, key),
            ).fetchall()
        return [Metric(k, math.nan if v is None else v, s, t) for k, v, s, t in rows]

    def mark_stale_runs(self) -> list[str]:
        conn = self._read()
        with self._lock:
            rows = conn.execute(
                "SELECT id, pid, pid_start FROM runs WHERE status = 'RUNNING' AND host = ? AND pid IS NOT NULL",
                (socket.gethostname(),),
            ).fetchall()
        dead = [(run_id, pid) for run_id, pid, start in rows if not is_alive(pid, start)]
        if not dead:
            return []
        now = time.time()
        host = socket.gethostname()
        with self._write() as conn:
            conn.executemany(
                "UPDATE runs SET status = 'KILLED', ended_at = ?, error = ? WHERE id = ? AND status = 'RUNNING'",
                [
                    (now, f"process {pid} on {host} ended without finishing the run", run_id)
                    for run_id, pid in dead
                ],
            )
        return [run_id for run_id, _ in dead]

    # -- registry ----------------------------------------------------------------------------------

    def register_model_version(
        self,
        name: str,
        *,
        digest: str,
        size_bytes: int,
        flavor: str,
        run_id: str | None,
        signature: Schema | None,
        metadata: Mapping[str, Any],
        model: object | None = None,
    ) -> ModelVersion:
        del model  # the blob in storage is the local store's only copy
        with self._write() as conn:
            return registry.add_version(
                conn,
                name,
                digest=digest,
                size_bytes=size_bytes,
                flavor=flavor,
                run_id=run_id,
                signature=signature,
                metadata=metadata,
                user=identity.user(),
            )

    def list_models(self) -> list[Model]:
        conn = self._read()
        with self._lock:
            return registry.list_models(conn)

    def get_model(self, name: str) -> Model:
        conn = self._read()
        with self._lock:
            return registry.get_model(conn, name)

    def get_model_version(self, ref: ModelRef) -> ModelVersion:
        conn = self._read()
        with self._lock:
            return registry.resolve(conn, ref)

    def set_alias(self, name: str, alias: str, version: int, *, user: str | None) -> AliasChange:
        with self._write() as conn:
            return registry.set_alias(conn, name, alias, version, user=user)

    def delete_alias(self, name: str, alias: str, *, user: str | None) -> AliasChange:
        with self._write() as conn:
            return registry.delete_alias(conn, name, alias, user=user)

    def move_alias(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        user: str | None,
        reason: str | None = None,
        state: StateChange | None = None,
    ) -> AliasChange:
        with self._write() as conn:
            if state is not None:
                kind, key, value, event = state
                conn.execute(
                    "INSERT OR REPLACE INTO state (kind, key, value, updated_at) VALUES (?, ?, ?, ?)",
                    (kind, key, _dumps(dict(value)), time.time()),
                )
                registry.append_event(conn, event)
            return registry.set_alias(conn, name, alias, version, user=user, reason=reason)

    def set_version_status(
        self, name: str, version: int, status: str, *, user: str | None, reason: str | None = None
    ) -> ModelVersion:
        with self._write() as conn:
            return registry.set_status(conn, name, version, status, user=user, reason=reason)

    def delete_model_version(
        self, name: str, version: int, *, user: str | None, reason: str | None = None
    ) -> ModelVersion:
        with self._write() as conn:
            return registry.delete_version(conn, name, version, user=user, reason=reason)

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasChange]:
        conn = self._read()
        with self._lock:
            return registry.alias_history(conn, name, alias)

    def events(
        self,
        *,
        model: str | None = None,
        since: int | None = None,
        kinds: Sequence[EventKind] | None = None,
        limit: int | None = None,
    ) -> list[RegistryEvent]:
        conn = self._read()
        with self._lock:
            return registry.events(conn, model=model, since=since, kinds=kinds, limit=limit)

    def audit_trail(self) -> AuditTrail:
        conn = self._read()
        with self._lock:
            events = audit.chain(conn)
            path = audit.head_path(audit.database(conn))
            try:
                head, error = audit.read_head(path), None
                checkpoints = audit.read_checkpoints(path)
            except StoreError as exc:
                head, error, checkpoints = None, str(exc), []
        anchors = {point.seq: point.hash for point in checkpoints}
        return AuditTrail(events=events, head=head, anchors=anchors, head_error=error)

    def record_event(self, event: RegistryEvent) -> RegistryEvent:
        with self._write() as conn:
            number = registry.append_event(conn, event)
        return attrs.evolve(event, id=number)

    # -- state -------------------------------------------------------------------------------------

    def put_state(
        self, kind: str, key: str, value: Mapping[str, Any], *, event: RegistryEvent | None = None
    ) -> None:
        body = _dumps(dict(value))
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO state (kind, key, value, updated_at) VALUES (?, ?, ?, ?)",
                (kind, key, body, time.time()),
            )
            if event is not None:
                registry.append_event(conn, event)

    def get_state(self, kind: str, key: str) -> dict[str, Any] | None:
        conn = self._read()
        with self._lock:
            row = conn.execute(
                "SELECT value FROM state WHERE kind = ? AND key = ?", (kind, key)
            ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def list_state(self, kind: str) -> dict[str, dict[str, Any]]:
        conn = self._read()
        with self._lock:
            rows = conn.execute(
                "SELECT key, value FROM state WHERE kind = ? ORDER BY key", (kind,)
            ).fetchall()
        return {key: dict(json.loads(value)) for key, value in rows}

    def claim_state(self, kind: str, key: str, value: Mapping[str, Any]) -> bool:
        body = _dumps(dict(value))
        with self._write() as conn:
            stored = conn.execute(
                "INSERT OR IGNORE INTO state (kind, key, value, updated_at) VALUES (?, ?, ?, ?)",
                (kind, key, body, time.time()),
            ).rowcount
        return stored == 1

    def delete_state(self, kind: str, key: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM state WHERE kind = ? AND key = ?", (kind, key))

    def referenced_digests(self) -> set[str]:
        conn = self._read()
        with self._lock:
            rows = conn.execute(
                "SELECT digest FROM model_versions UNION SELECT digest FROM artifacts"
            ).fetchall()
            # A version's metadata may name blobs of its own (its reference profile).
            metadata = conn.execute("SELECT metadata FROM model_versions").fetchall()
            documents = conn.execute("SELECT value FROM state").fetchall()
        digests = {row[0] for row in rows}
        for (value,) in [*metadata, *documents]:
            digests |= digests_in(json.loads(value))
        return digests

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self.flush()
                self._conn.close()
            self._conn = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
