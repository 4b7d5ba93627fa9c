"""``opskit approvals list|approve|reject``: four-eyes approval of protected alias moves."""

from __future__ import annotations

import argparse
from typing import Any

from opskit.cli.tables import print_json

__all__ = ["add_parsers", "print_request"]


def print_request(args: argparse.Namespace, request: Any) -> int:
    """Print one ``ApprovalRequest`` (``--json``: its document)."""
    if args.json:
        print_json(request.to_dict())
    else:
        print(request.summary())
    return 0


def _list(args: argparse.Namespace) -> int:
    from opskit import approvals

    found = approvals.list(status=args.status, model=args.model)
    if args.json:
        print_json([r.to_dict() for r in found])
    elif not found:
        print(f"no {'' if args.status == 'all' else args.status + ' '}approval requests")
    else:
        for request in found:
            print(request.summary())
    return 0


def _approve(args: argparse.Namespace) -> int:
    from opskit import approvals

    request = approvals.approve(args.id, comment=args.comment)
    print_request(args, request)
    if not args.json and request.status == "approved":
        print(f"{request.ref} -> v{request.version}")
    return 0


def _reject(args: argparse.Namespace) -> int:
    from opskit import approvals

    return print_request(args, approvals.reject(args.id, comment=args.comment))


def add_parsers(sub: Any) -> None:
    """Add ``approvals`` (``list``, ``approve``, ``reject``) to the top-level subcommands."""
    group = sub.add_parser(
        "approvals", help="approval requests for protected aliases (four eyes)"
    ).add_subparsers(dest="action_name", required=True)
    p = group.add_parser("list", help="approval requests, oldest first (open ones by default)")
    p.add_argument(
        "--status",
        choices=("open", "approved", "rejected", "all"),
        default="open",
        help="only requests with this status (default: open)",
    )
    p.add_argument("--model", help="only the requests of this model")
    p.set_defaults(func=_list)
    p = group.add_parser(
        "approve", help="approve a request (not your own); the alias moves when enough users did"
    )
    p.add_argument("id", type=int, help="the request id (opskit approvals list)")
    p.add_argument("--comment", help="why (kept in the audit log)")
    p.set_defaults(func=_approve)
    p = group.add_parser("reject", help="reject (or, as its requester, withdraw) a request")
    p.add_argument("id", type=int, help="the request id (opskit approvals list)")
    p.add_argument("--comment", help="why (kept in the audit log)")
    p.set_defaults(func=_reject)
