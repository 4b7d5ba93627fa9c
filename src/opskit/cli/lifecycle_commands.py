"""``opskit models promote|rollback|archive|delete|card``: the registry lifecycle, each change audited; model cards."""

from __future__ import annotations

import argparse
from typing import Any

from opskit.cli.tables import print_json

__all__ = ["add_model_parsers"]


def _change(args: argparse.Namespace, change: Any) -> int:
    from opskit.serialize import to_plain

    if args.json:
        print_json(to_plain(change))
    else:
        before = "-" if change.previous_version is None else f"v{change.previous_version}"
        print(f"{change.model}@{change.alias}: {before} -> v{change.version}")
    return 0


def _promote(args: argparse.Namespace) -> int:
    from opskit import models
    from opskit.governance.approvals import ApprovalRequest

    result = models.promote(args.ref, args.alias, comment=args.comment)
    if isinstance(result, ApprovalRequest):
        from opskit.cli.approvals_commands import print_request

        print_request(args, result)
        if not args.json:
            print(
                f"{result.ref} is protected: approval request #{result.id} is open; another "
                f"user approves it with `opskit approvals approve {result.id}`"
            )
        return 0
    return _change(args, result)


def _rollback(args: argparse.Namespace) -> int:
    from opskit import models

    return _change(args, models.rollback(args.name, args.alias, comment=args.comment))


def _version(args: argparse.Namespace, version: Any, what: str) -> int:
    from opskit.serialize import to_plain

    if args.json:
        print_json(to_plain(version))
    else:
        print(f"{version.ref} {what}")
    return 0


def _archive(args: argparse.Namespace) -> int:
    from opskit import models

    return _version(args, models.archive(args.ref, comment=args.comment), "archived")


def _delete(args: argparse.Namespace) -> int:
    from opskit import models

    return _version(args, models.delete(args.ref, comment=args.comment), "deleted")


_SUFFIX = {"html": "html", "markdown": "md"}


def _card(args: argparse.Namespace) -> int:
    import sys

    from opskit import models
    from opskit._files import write_text_atomic

    card = models.card(args.ref)
    text = card.to_html() if args.format == "html" else card.to_markdown()
    if args.output is None or args.output == "-":
        sys.stdout.write(text)
        return 0
    target = write_text_atomic(
        args.output, text, what="the model card", example=f"card.{_SUFFIX[args.format]}"
    )
    print(f"wrote the {args.format} card of {card.version.ref} to {target}", file=sys.stderr)
    return 0


def add_model_parsers(models: Any) -> None:
    """Add ``promote``, ``rollback``, ``archive`` and ``delete`` to the ``opskit models`` subcommands."""
    p = models.add_parser(
        "promote",
        help="point an alias at a version (audited); on a protected alias, open an approval request",
    )
    p.add_argument("ref", metavar="REF", help="the version, e.g. wine:7")
    p.add_argument("alias", help="the alias, e.g. production")
    p.add_argument("--comment", help="why (kept in the audit log)")
    p.set_defaults(func=_promote)
    p = models.add_parser("rollback", help="point an alias back at its previous version (audited)")
    p.add_argument("name")
    p.add_argument("alias")
    p.add_argument("--comment", help="why (kept in the audit log)")
    p.set_defaults(func=_rollback)
    p = models.add_parser(
        "archive", help="retire a version (refused while an alias or a deployment uses it)"
    )
    p.add_argument("ref", metavar="REF", help="the version, e.g. wine:3")
    p.add_argument("--comment", help="why (kept in the audit log)")
    p.set_defaults(func=_archive)
    p = models.add_parser(
        "delete",
        help="remove a version and its unreferenced blob (refused while an alias or a deployment uses it)",
    )
    p.add_argument("ref", metavar="REF", help="the version, e.g. wine:3")
    p.add_argument("--comment", help="why (kept in the audit log)")
    p.set_defaults(func=_delete)
    p = models.add_parser(
        "card",
        help="the model card of a version (intended use, data, metrics, validation, history)",
    )
    p.add_argument("ref", metavar="REF", help="the version, e.g. wine@production or wine:7")
    p.add_argument("--format", choices=("markdown", "html"), default="markdown")
    p.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE (default: standard output)"
    )
    p.set_defaults(func=_card)
