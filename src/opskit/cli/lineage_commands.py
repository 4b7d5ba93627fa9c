"""``opskit lineage REF``, ``opskit runs diff A B`` and ``opskit models requirements REF``."""

from __future__ import annotations

import argparse
from typing import Any

from opskit._files import write_text_atomic
from opskit.cli.tables import print_json

__all__ = ["add_parsers"]


def _lineage(args: argparse.Namespace) -> int:
    from opskit.data.lineage import lineage

    if args.data:
        found = lineage(data=args.ref, limit=args.limit)
    else:
        found = lineage(args.ref, limit=args.limit)
    if args.json:
        print_json(found.to_dict())
    else:
        print(found.summary())
    return 0


def _runs_diff(args: argparse.Namespace) -> int:
    from opskit.cli.lookup import find_run
    from opskit.data.diff import diff

    result = diff(find_run(args.run_a), find_run(args.run_b))
    if args.json:
        print_json(result.to_dict())
    else:
        print(result.summary())
    return 0


def _models_requirements(args: argparse.Namespace) -> int:
    from opskit.models import requirements

    found = requirements(args.ref)
    if args.json:
        print_json(
            {
                "ref": args.ref,
                "source": found.source,
                "python": found.python,
                "requirements": list(found.lines),
                "missing": list(found.missing),
            }
        )
    elif args.output:
        write_text_atomic(
            args.output, found.text(), what="the requirements", example="requirements.txt"
        )
        print(f"wrote {len(found.lines)} pinned requirements to {args.output} ({found.source})")
    else:
        print(found.text(), end="")
    return 0


def add_parsers(sub: Any, *, runs: Any, models: Any) -> None:
    """Add ``lineage`` to the top-level commands, ``diff`` under ``runs``, ``requirements`` under ``models``."""
    p = sub.add_parser(
        "lineage",
        help="what produced a model version (wine:3, wine@production), or what used data (--data)",
    )
    p.add_argument(
        "ref", metavar="REF", help="model reference; with --data a dataset version or digest"
    )
    p.add_argument(
        "--data",
        action="store_true",
        help="REF is data: a dataset version (customers:2, customers@prod) or a content digest",
    )
    p.add_argument(
        "--limit", type=int, default=100, help="with --data: at most this many runs (newest first)"
    )
    p.set_defaults(func=_lineage)

    p = runs.add_parser(
        "diff", help="what differs between two runs: params, metrics, code, data, environment"
    )
    p.add_argument("run_a", metavar="RUN_A", help="the first run (id or unique prefix)")
    p.add_argument("run_b", metavar="RUN_B", help="the second run (id or unique prefix)")
    p.set_defaults(func=_runs_diff)

    p = models.add_parser(
        "requirements",
        help="a pinned requirements file for the environment that trained a version",
    )
    p.add_argument("ref", metavar="REF", help="model reference, e.g. wine:3 or wine@production")
    p.add_argument("--output", "-o", metavar="FILE", help="write the file here (default: stdout)")
    p.set_defaults(func=_models_requirements)
