"""``opskit audit log|verify|head``: the hash-chained audit log of governed actions."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from opskit.cli.tables import print_json, table, when

__all__ = ["add_parsers"]


def _state(document: dict[str, Any] | None) -> str:
    if document is None:
        return "-"
    if "state" in document:
        return str(document["state"])
    if "status" in document and "digest" not in document:
        return str(document["status"])
    return f"v{document['version']}" if "version" in document else "…"


def _log(args: argparse.Namespace) -> int:
    from opskit import audit
    from opskit.serialize import to_plain

    found = audit.log(
        model=args.model, action=args.action, user=args.user, since=args.since, until=args.until
    )
    if args.json:
        print_json([to_plain(e) for e in found])
        return 0
    rows = [
        (
            e.seq,
            when(e.time),
            e.action,
            e.subject,
            _state(e.before),
            _state(e.after),
            e.user or "-",
            e.reason or "-",
            e.hash[:12],
        )
        for e in found
    ]
    headers = [
        "SEQ",
        "TIME (UTC)",
        "ACTION",
        "SUBJECT",
        "BEFORE",
        "AFTER",
        "USER",
        "REASON",
        "HASH",
    ]
    print(table(headers, rows))
    return 0


def _verify(args: argparse.Namespace) -> int:
    from opskit import audit
    from opskit.serialize import to_plain

    result = audit.verify(pin=args.pin)
    if args.json:
        print_json(to_plain(result))
    else:
        print(result.summary(), file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else 1


def _head(args: argparse.Namespace) -> int:
    from opskit import audit
    from opskit.serialize import to_plain

    found = audit.head()
    if args.json:
        print_json(None if found is None else to_plain(found))
    else:
        print("-" if found is None else found.summary())
    return 0


def add_parsers(sub: Any) -> None:
    """Add ``audit`` (``log``, ``verify``, ``head``) to the top-level subcommands."""
    from opskit.registry.events import EVENT_KINDS

    group = sub.add_parser(
        "audit", help="the tamper-evident audit log: list it, verify its hash chain"
    ).add_subparsers(dest="action_name", required=True)
    p = group.add_parser(
        "log", help="audit events, oldest first (filter by model/action/user/time)"
    )
    p.add_argument("--model", help="only the events of this model")
    p.add_argument(
        "--action",
        action="append",
        choices=EVENT_KINDS,
        help="only events of this action (repeatable)",
    )
    p.add_argument("--user", help="only the events of this user")
    p.add_argument(
        "--since", metavar="WHEN", help="only events at or after this time (2026-11-01, ISO 8601)"
    )
    p.add_argument("--until", metavar="WHEN", help="only events before this time (ISO 8601)")
    p.set_defaults(func=_log)
    p = group.add_parser(
        "verify",
        help="recompute the hash chain; exit 1 and print the first broken link if any event was "
        "edited, removed or reordered",
    )
    p.add_argument(
        "--pin",
        metavar="SEQ:HASH",
        help="a head recorded earlier (`opskit audit head`): the chain must still contain it",
    )
    p.set_defaults(func=_verify)
    p = group.add_parser(
        "head", help="the head of the chain as SEQ:HASH (record it elsewhere to pin the log)"
    )
    p.set_defaults(func=_head)
