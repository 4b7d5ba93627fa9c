"""``opskit monitor drift`` / ``opskit monitor check``: drift against a model version's stored profile, deployment checks.

Exit status: 0 no drift (``check``: no drift and no threshold breached), 1 drift detected
(``check``: or a performance threshold breached), 2 an error (bad reference, unreadable data).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from opskit._files import write_text_atomic
from opskit.cli.tables import print_json
from opskit.errors import InvalidDataset

__all__ = ["add_parsers"]

_DATA_SUFFIXES = {".parquet", ".pq", ".csv", ".json"}


def _is_path(value: str) -> bool:
    """An existing path, or a string that can only be one (a separator, a data suffix): model
    references have neither, so `--reference ref_dir/` that does not exist says so."""
    path = Path(value)
    has_separator = any(sep in value for sep in ("/", os.sep, os.altsep or "/"))
    return path.exists() or has_separator or path.suffix.lower() in _DATA_SUFFIXES


class _Reference(argparse.Action):
    """``--reference``: a model reference needs the store, a file does not."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        namespace.needs_store = not _is_path(str(values))


def _read(value: str, *, role: str) -> object:
    """A data file for drift: Parquet (file or directory: passed through, streamed), CSV, or a profile JSON."""
    path = Path(value)
    if not path.exists():
        raise InvalidDataset(
            f"--{role} {value!r} does not exist: pass a Parquet file or directory, a CSV file"
            + (
                ", a profile JSON file or a model reference (name@alias, name:N, name)"
                if role == "reference"
                else ""
            )
        )
    suffix = path.suffix.lower()
    if suffix == ".csv":
        import pandas as pd

        try:
            return pd.read_csv(path)
        except (OSError, ValueError) as exc:
            raise InvalidDataset(f"cannot read --{role} CSV {value!r}: {exc}") from exc
    if suffix == ".json":
        if role != "reference":
            raise InvalidDataset(
                f"--current {value!r} is JSON: current data must be Parquet or CSV (a profile is only a reference)"
            )
        from opskit.monitor.records import ReferenceProfile

        return ReferenceProfile.from_json(path.read_text(encoding="utf-8"))
    return os.fspath(path)


#: Python argument names in drift's messages, as ``opskit monitor drift`` spells them.
_FLAGS = (
    ("columns=[...]", "--columns A,B"),
    ("drift_share must", "--drift-share must"),
    ("alpha must", "--alpha must"),
)


def _as_flags(message: str) -> str:
    """*message* with drift()'s keyword-argument hints in command-line terms."""
    for python, flag in _FLAGS:
        message = message.replace(python, flag)
    return message


def _drift(args: argparse.Namespace) -> int:
    from opskit.errors import OpskitError

    try:
        return _drift_report(args)
    except OpskitError as exc:
        exc.args = (_as_flags(str(exc)), *exc.args[1:])
        raise


def _drift_report(args: argparse.Namespace) -> int:
    from opskit._files import check_writable
    from opskit.distribution import require_extra

    require_extra("monitor", "opskit monitor drift", ("numpy", "scipy", "pandas", "pyarrow"))
    if args.html:
        require_extra("monitor", "opskit monitor drift --html", ("plotly",))
    from opskit.monitor.detect import ALPHA, DRIFT_SHARE, drift

    # Output paths are checked before the (possibly long) comparison: a bad one is an error
    # (exit 2), never a traceback whose exit status 1 would read as "drift detected".
    if args.html:
        check_writable(args.html, what="the drift report", example="drift.html")
    if args.markdown:
        check_writable(args.markdown, what="the Markdown report", example="drift.md")
    reference: object = (
        _read(args.reference, role="reference") if _is_path(args.reference) else args.reference
    )
    current = _read(args.current, role="current")
    columns = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None
    report = drift(
        reference=reference,
        current=current,
        columns=columns,
        drift_share=DRIFT_SHARE if args.drift_share is None else args.drift_share,
        alpha=ALPHA if args.alpha is None else args.alpha,
    )
    if args.html:
        path = report.to_html(args.html)
        if not args.json:
            print(f"HTML report written to {path}")
    if args.markdown:
        write_text_atomic(
            args.markdown, report.to_markdown(), what="the Markdown report", example="drift.md"
        )
    if args.json:
        print_json(report.to_dict())
    else:
        print(report.summary())
    return 1 if report.drifted else 0


def _threshold(text: str) -> tuple[str, float]:
    """``METRIC=VALUE`` of ``--at-least`` / ``--at-most``."""
    from opskit.errors import InvalidValue

    name, sep, value = text.partition("=")
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not sep or not name.strip() or number != number:
        raise InvalidValue(f"threshold {text!r} is not METRIC=NUMBER, e.g. accuracy=0.8")
    return name.strip(), number


def _check(args: argparse.Namespace) -> int:
    from opskit.distribution import require_extra

    require_extra("monitor", "opskit monitor check")
    from opskit.monitor.perf import check
    from opskit.validation.gates import at_least, at_most

    thresholds = [at_least(*_threshold(t)) for t in args.at_least or []]
    thresholds += [at_most(*_threshold(t)) for t in args.at_most or []]
    result = check(
        args.deployment,
        thresholds=thresholds,
        lookback=args.lookback,
        drift_share=args.drift_share,
        alpha=args.alpha,
        advance=not args.no_advance,
    )
    if args.json:
        print_json(result.to_dict())
    else:
        print(result.summary())
    return 1 if result.alert else 0


def add_parsers(sub: Any) -> None:
    """Add ``monitor`` (``monitor drift``) to the top-level subcommands."""
    monitor = sub.add_parser(
        "monitor", help="data drift against a model's reference; deployment checks"
    ).add_subparsers(dest="action", required=True)
    p = monitor.add_parser(
        "drift",
        help="drift of current data vs a model version's stored profile or reference data; exit 1 on drift",
    )
    p.add_argument(
        "--reference",
        required=True,
        action=_Reference,
        metavar="REF_OR_PATH",
        help="a model reference (wine@production, wine:3, wine: its stored profile), "
        "or a Parquet file/directory, CSV file or profile JSON file",
    )
    p.add_argument(
        "--current",
        required=True,
        metavar="PATH",
        help="Parquet file/directory (streamed) or CSV file",
    )
    p.add_argument("--html", metavar="FILE", help="also write the self-contained HTML report here")
    p.add_argument(
        "--markdown", metavar="FILE", help="also write the Markdown report here (for CI)"
    )
    p.add_argument("--columns", metavar="A,B", help="compare only these columns (comma-separated)")
    p.add_argument(
        "--drift-share",
        type=float,
        help="share of drifted columns at which the data counts as drifted (default 0.5)",
    )
    p.add_argument("--alpha", type=float, help="family-wise significance level (default 0.01)")
    p.set_defaults(func=_drift)
    c = monitor.add_parser(
        "check",
        help="drift of a deployment's predictions since the last check vs the served version's profile, "
        "and performance thresholds on labelled predictions; exit 1 on drift or a breached threshold",
    )
    c.add_argument("deployment", metavar="DEPLOYMENT", help="the deployment's name")
    c.add_argument(
        "--at-least",
        action="append",
        metavar="METRIC=VALUE",
        help="threshold: each variant's METRIC must be at least VALUE (repeatable), e.g. accuracy=0.8",
    )
    c.add_argument(
        "--at-most",
        action="append",
        metavar="METRIC=VALUE",
        help="threshold: each variant's METRIC must be at most VALUE (repeatable), e.g. rmse=3",
    )
    c.add_argument(
        "--lookback",
        default="7d",
        help="performance is computed on the labelled predictions of this last span (default 7d)",
    )
    c.add_argument(
        "--settle",
        type=float,
        default=None,
        help="deprecated, ignored: every batch of the prediction log is checked once, however late",
    )
    c.add_argument(
        "--drift-share", type=float, help="share of drifted columns that is drift (default 0.5)"
    )
    c.add_argument("--alpha", type=float, help="family-wise significance level (default 0.01)")
    c.add_argument(
        "--no-advance",
        action="store_true",
        help="do not store the check: the next check looks at the same predictions again",
    )
    c.set_defaults(func=_check)
