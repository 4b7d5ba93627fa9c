"""Audit chain cost on the embedded store: append per event (chained vs a plain event row) and verify over 100,000 events.

``python bench/audit.py [--events 100000] [--moves 2000]`` prints one JSON object and a
Markdown table. Everything runs on a fresh SQLite store in a temporary folder:

* **append, per alias move**: ``SQLiteTracker.set_alias`` (one write transaction: the alias
  row and its event), *moves* times, alternating between two versions; once as shipped
  (event sealed with SHA-256, head file replaced before COMMIT) and once with the event
  appended as a plain row (the schema-3 insert: no hash, no head file). The difference is
  what the chain costs per event.
* **append, inside one transaction**: *moves* events appended in one transaction (no
  COMMIT per event), chained vs plain: the hashing and bookkeeping alone.
* **verify**: a log of 10k, 20k, 50k and *events* events (built with the chained append in
  one transaction), then ``opskit.audit.verify()`` (read every row and recompute the chain),
  reported in total and per 10,000 events: linear if the per-10k figure stays flat.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _plain_append(conn: sqlite3.Connection, event: Any) -> int:
    """The schema-3 append: one row, no chain."""
    cursor = conn.execute(
        "INSERT INTO registry_events (kind, subject, model, before, after, user, time, run_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            event.kind,
            event.subject,
            event.model,
            None if event.before is None else json.dumps(event.before, sort_keys=True),
            None if event.after is None else json.dumps(event.after, sort_keys=True),
            event.user,
            event.time,
            event.run_id,
        ),
    )
    return int(cursor.lastrowid or 0)


def _store(folder: Path) -> Any:
    from opskit.tracker.sqlite import SQLiteTracker

    tracker = SQLiteTracker(folder / "opskit.db")
    for _ in range(2):
        tracker.register_model_version(
            "m",
            digest="sha256:" + "0" * 64,
            size_bytes=1,
            flavor="cloudpickle",
            run_id=None,
            signature=None,
            metadata={},
        )
    return tracker


def _moves(tracker: Any, count: int) -> float:
    """Seconds per ``set_alias`` that moves the alias (median of 5 blocks)."""
    blocks = []
    per_block = max(1, count // 5)
    version = 1
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(per_block):
            version = 3 - version
            tracker.set_alias("m", "prod", version, user="bench")
        blocks.append((time.perf_counter() - t0) / per_block)
    return statistics.median(blocks)


def _in_one_transaction(tracker: Any, count: int, append: Any) -> float:
    from opskit.registry.events import RegistryEvent

    event = RegistryEvent(
        kind="alias_moved",
        subject="m@prod",
        model="m",
        before={"version": 1},
        after={"version": 2},
        user="bench",
        time=time.time(),
    )
    with tracker._write() as conn:
        t0 = time.perf_counter()
        for _ in range(count):
            append(conn, event)
        took = time.perf_counter() - t0
    return took / count


def _append_costs(moves: int) -> dict[str, float]:
    from opskit.tracker.sqlite import registry

    chained_append = registry.append_event
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="opskit-bench-audit-") as tmp:
        tracker = _store(Path(tmp) / "chained")
        out["set_alias_chained_us"] = _moves(tracker, moves) * 1e6
        out["append_in_txn_chained_us"] = _in_one_transaction(tracker, moves, chained_append) * 1e6
        tracker.close()
        registry.append_event = _plain_append  # type: ignore[assignment]
        try:
            tracker = _store(Path(tmp) / "plain")
            out["set_alias_plain_us"] = _moves(tracker, moves) * 1e6
            out["append_in_txn_plain_us"] = _in_one_transaction(tracker, moves, _plain_append) * 1e6
            tracker.close()
        finally:
            registry.append_event = chained_append
    out["chain_cost_per_event_us"] = out["set_alias_chained_us"] - out["set_alias_plain_us"]
    return {k: round(v, 1) for k, v in out.items()}


def _verify_costs(sizes: list[int]) -> list[dict[str, float]]:
    import opskit
    from opskit.governance.audit import verify_chain
    from opskit.registry.events import RegistryEvent
    from opskit.tracker.sqlite import audit

    rows = []
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="opskit-bench-verify-") as tmp:
            home = Path(tmp) / ".opskit"
            os.environ["OPSKIT_HOME"] = str(home)
            opskit.reset_defaults()
            tracker = _store(home)
            with tracker._write() as conn:
                for i in range(size - 2):
                    audit.append(
                        conn,
                        RegistryEvent(
                            kind="alias_moved",
                            subject="m@prod",
                            model="m",
                            before={"version": 1 + i % 2},
                            after={"version": 2 - i % 2},
                            user="bench",
                            time=1.7e9 + i,
                        ),
                    )
            tracker.close()
            opskit.reset_defaults()
            t0, c0 = time.perf_counter(), time.process_time()
            result = opskit.audit.verify()
            total, cpu = time.perf_counter() - t0, time.process_time() - c0
            assert result.ok and result.checked == size, result.summary()
            trail = opskit.runtime.get_tracker().audit_trail()  # type: ignore[attr-defined]
            t1 = time.perf_counter()
            verify_chain(trail.events, trail.head)
            check = time.perf_counter() - t1
            opskit.reset_defaults()
        rows.append(
            {
                "events": size,
                "verify_s": round(total, 3),
                "verify_per_10k_s": round(total / size * 10_000, 3),
                "verify_cpu_per_10k_s": round(cpu / size * 10_000, 3),
                "check_only_per_10k_s": round(check / size * 10_000, 3),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--moves", type=int, default=2000)
    args = parser.parse_args(argv)
    sizes = sorted({s for s in (10_000, 20_000, 50_000, args.events) if s <= args.events})
    report = {
        "python": sys.version.split()[0],
        "load_average": os.getloadavg(),
        "append": _append_costs(args.moves),
        "verify": _verify_costs(sizes),
    }
    print(json.dumps(report, indent=2))
    a = report["append"]
    print()
    print("| append (embedded store) | chained | plain event row | chain cost |")
    print("|---|---|---|---|")
    print(
        f"| `set_alias` (1 transaction, 1 event) | {a['set_alias_chained_us']:.0f} µs | "
        f"{a['set_alias_plain_us']:.0f} µs | {a['chain_cost_per_event_us']:+.0f} µs |"
    )
    print(
        f"| append inside one transaction | {a['append_in_txn_chained_us']:.1f} µs | "
        f"{a['append_in_txn_plain_us']:.1f} µs | "
        f"{a['append_in_txn_chained_us'] - a['append_in_txn_plain_us']:+.1f} µs |"
    )
    print()
    print(
        "| events | `opskit.audit.verify()` | per 10k events (wall) | per 10k events (CPU) "
        "| chain check only, per 10k |"
    )
    print("|---|---|---|---|---|")
    for row in report["verify"]:
        print(
            f"| {row['events']:,} | {row['verify_s']:.2f} s | {row['verify_per_10k_s']:.3f} s | "
            f"{row['verify_cpu_per_10k_s']:.3f} s | {row['check_only_per_10k_s']:.3f} s |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
