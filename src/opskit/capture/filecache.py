"""File and directory digests with a persistent stat cache, so unchanged files are read once.

A file's digest is xxh3-128 over its bytes, read in 8 MiB chunks. The digest is remembered in
``<home>/cache/stat.db`` (a small SQLite table in WAL mode, safe for many processes at once)
under the file's absolute path together with its **size, mtime_ns, ctime_ns, inode and device**.
A later process that finds the same five values takes the digest from the table without
reading the file; any ordinary edit changes the mtime (and the ctime, which no user tool can
set back), a replaced file changes the inode, a copy elsewhere changes the path or device.

**The racy rule** (git's "racily clean" problem): a file written in the same timestamp tick
in which it was hashed could be written again, with the same size, without its mtime or ctime
moving. So a digest is cached only when the file's mtime and ctime are older than the moment
hashing started by more than :data:`RACY_WINDOW_NS` (2 s: the coarsest common filesystem
granularity, FAT's, also covering the kernel's coarse clock and small clock skew), and only
when the file's stat did not change while it was being read. A lookup applies the same test
to the entry's recorded hashing time. A file edited within the last two seconds is simply
re-read next time.

A directory's digest is xxh3-128 of its sorted manifest: one line per file (relative POSIX
path, file digest, size), so renaming, adding, removing or editing any file changes it.

When the cache cannot be used (read-only home, a broken database), digests are still right:
only the per-process memory cache is used. Delete ``<home>/cache/stat.db`` to clear the cache.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from opskit.capture.hashing import ALGORITHM, finish, new_hasher
from opskit.config import create_home

__all__ = ["RACY_WINDOW_NS", "StatCache", "default_cache", "digest_dir", "digest_file"]

_log = logging.getLogger(__name__)

#: A file whose mtime or ctime is this close to the hashing time is never cached.
RACY_WINDOW_NS: Final = 2_000_000_000
#: Read size for hashing files.
READ_CHUNK: Final = 8 << 20

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stat_cache (
    path BLOB NOT NULL,
    algo TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    device INTEGER NOT NULL,
    digest TEXT NOT NULL,
    hashed_at_ns INTEGER NOT NULL,
    PRIMARY KEY (path, algo)
) WITHOUT ROWID
"""

StatKey = tuple[int, int, int, int, int]


def _i64(n: int) -> int:
    """An unsigned 64-bit stat field (inode, device) as SQLite's signed INTEGER."""
    return n - (1 << 64) if n >= (1 << 63) else n


def stat_key(st: os.stat_result) -> StatKey:
    """(size, mtime_ns, ctime_ns, inode, device) of a stat result."""
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, _i64(st.st_ino), _i64(st.st_dev))


def is_racy(key: StatKey, hashed_at_ns: int) -> bool:
    """True when the file may have changed within the timestamp granularity of its hashing."""
    return max(key[1], key[2]) >= hashed_at_ns - RACY_WINDOW_NS


class StatCache:
    """Digests by (absolute path, algorithm), trusted only while the file's stat key is unchanged.

    *db_path* None keeps the cache in this process's memory only. Every database error
    turns the persistent part off for this object (logged at debug level), never fails a caller.
    """

    def __init__(self, db_path: Path | None) -> None:
        self.db_path = db_path
        self._memory: dict[tuple[bytes, str], tuple[StatKey, str, int]] = {}
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        self._broken = db_path is None

    def _connection(self) -> sqlite3.Connection | None:
        if self._broken:
            return None
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        assert self.db_path is not None
        try:
            # The store folder is created the one way opskit creates it (with its .gitignore).
            create_home(self.db_path.parent.parent)
            self.db_path.parent.mkdir(exist_ok=True)
            conn = sqlite3.connect(
                self.db_path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA busy_timeout = 10000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            self._disable(exc)
            return None
        self._conn, self._pid = conn, os.getpid()
        return conn

    def _disable(self, exc: BaseException) -> None:
        _log.debug("stat cache %s disabled: %s", self.db_path, exc)
        self._broken = True
        self._conn = None

    def get(self, path: bytes, key: StatKey, algo: str = ALGORITHM) -> str | None:
        """The cached digest of *path* if its stat key is still *key* and the entry is not racy."""
        with self._lock:
            hit = self._memory.get((path, algo))
            if hit is not None and hit[0] == key and not is_racy(key, hit[2]):
                return hit[1]
            conn = self._connection()
            if conn is None:
                return None
            try:
                row = conn.execute(
                    "SELECT size, mtime_ns, ctime_ns, inode, device, digest, hashed_at_ns "
                    "FROM stat_cache WHERE path = ? AND algo = ?",
                    (path, algo),
                ).fetchone()
            except sqlite3.Error as exc:
                self._disable(exc)
                return None
            if row is None or tuple(row[:5]) != key or is_racy(key, row[6]):
                return None
            self._memory[(path, algo)] = (key, row[5], row[6])
            return str(row[5])

    def put(
        self, path: bytes, key: StatKey, digest: str, hashed_at_ns: int, algo: str = ALGORITHM
    ) -> bool:
        """Remember *digest* for *path* at *key*; False (nothing stored) when the entry would be racy."""
        if is_racy(key, hashed_at_ns):
            return False
        with self._lock:
            self._memory[(path, algo)] = (key, digest, hashed_at_ns)
            conn = self._connection()
            if conn is None:
                return True
            try:
                conn.execute(
                    "INSERT OR REPLACE INTO stat_cache VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (path, algo, *key, digest, hashed_at_ns),
                )
            except sqlite3.Error as exc:
                self._disable(exc)
            return True

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


_caches: dict[Path, StatCache] = {}
_caches_lock = threading.Lock()


def default_cache() -> StatCache:
    """The stat cache of the configured home: ``<home>/cache/stat.db`` (one object per path)."""
    from opskit.runtime import get_config

    db = get_config().home / "cache" / "stat.db"
    with _caches_lock:
        cache = _caches.get(db)
        if cache is None:
            cache = _caches[db] = StatCache(db)
        return cache


def _hash_stream(path: Path) -> str:
    h = new_hasher()
    buf = bytearray(READ_CHUNK)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            h.update(view[:n])
    return finish(h)


def digest_file(
    path: Path, cache: StatCache | None = None, *, clock: Callable[[], int] = time.time_ns
) -> tuple[str, int]:
    """(digest, size) of a file, from *cache* (default: the home's) when its stat is unchanged.

    *clock* gives "now" in nanoseconds for the racy rule (tests move it).
    """
    cache = cache if cache is not None else default_cache()
    key_path = os.fsencode(os.path.abspath(path))
    before = stat_key(os.stat(path))
    cached = cache.get(key_path, before)
    if cached is not None:
        return cached, before[0]
    started = clock()
    digest = _hash_stream(path)
    after = stat_key(os.stat(path))
    if after == before:  # not modified while being read
        cache.put(key_path, after, digest, started)
    return digest, after[0]


def digest_dir(
    path: Path, cache: StatCache | None = None, *, clock: Callable[[], int] = time.time_ns
) -> tuple[str, int]:
    """(digest, total size) of a directory: xxh3-128 of its sorted manifest of files."""
    cache = cache if cache is not None else default_cache()
    entries: list[tuple[str, Path]] = []
    for folder, dirs, files in os.walk(path):
        dirs.sort()
        for name in files:
            full = Path(folder, name)
            if full.is_file():
                entries.append((full.relative_to(path).as_posix(), full))
    entries.sort()
    h = new_hasher()
    h.update(b"opskit-dir-v1")
    total = 0
    for rel, full in entries:
        digest, size = digest_file(full, cache, clock=clock)
        raw = rel.encode("utf-8", "surrogateescape")
        h.update(
            struct.pack("<Q", len(raw)) + raw + digest.encode() + b"\0" + struct.pack("<Q", size)
        )
        total += size
    h.update(struct.pack("<Q", len(entries)))
    return finish(h), total
