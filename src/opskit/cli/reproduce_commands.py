"""``opskit reproduce RUN_ID``: re-execute a run's function with its params and data, and compare.

Exit status: 0 when every metric matched within the tolerance and the model's bytes are
identical; 1 when something differs; 2 when the run cannot be reproduced (no such run, the
function or a data snapshot is missing, a snapshot was tampered with, ...).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from opskit.cli.tables import print_json

__all__ = ["add_parsers"]


def _reproduce(args: argparse.Namespace) -> int:
    from opskit.cli.lookup import find_run
    from opskit.data.reproduce import environment_of, prepare, run

    args.run_id = find_run(args.run_id)
    if not args.json:  # before anything is loaded or run: what differs in the environment
        _, environment = environment_of(args.run_id)
        print(f"reproducing run {args.run_id}")
        print(environment.summary())
        sys.stdout.flush()
    plan = prepare(args.run_id)
    if not args.json:
        print(f"function: {plan.function_source}; running it in a new run ...")
        sys.stdout.flush()
    result = run(plan, tolerance=args.tolerance, alias=args.alias)
    if args.json:
        print_json(result.to_dict())
    else:
        print(result.summary())
    return 0 if result.matched else 1


def add_parsers(sub: Any) -> None:
    """Add ``reproduce`` to the ``opskit`` command's subparsers."""
    p = sub.add_parser(
        "reproduce",
        help="re-run a run's captured function with its params and data; exit 1 if anything differs",
        description=(
            "Re-execute the function captured by RUN_ID with its params and data snapshot in a new "
            "run tagged opskit.reproduces=RUN_ID; print the environment differences first, then "
            "every metric and whether the model's bytes are identical. Exit 0 when everything "
            "matched, 1 when something differs, 2 when the run cannot be reproduced."
        ),
    )
    p.add_argument("run_id", help="the run to reproduce: its id or a unique prefix")
    p.add_argument(
        "--tolerance",
        type=float,
        default=1e-9,
        help="a metric matches when |new - original| <= tolerance (absolute or relative); default 1e-9",
    )
    p.add_argument(
        "--alias",
        help="move this alias to the reproduced model version (default: no alias moves)",
    )
    p.set_defaults(func=_reproduce)
