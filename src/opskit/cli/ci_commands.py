"""``opskit ci check``: a run's validation report as a CI verdict.

Exit codes are the contract with the CI system: 0 the report passed, 1 a check or gate failed,
2 nothing could be decided (the report says ``error``, the run has no report, is still running
or crashed before its gates, the run is not found, the tracker cannot be reached). Any
unexpected exception also exits 2, never Python's 1: a crash must not read as "the gate failed".
When ``$GITHUB_STEP_SUMMARY`` names a file, the Markdown report (or the reason there is none)
is appended to it, whatever ``--format`` prints.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING

from opskit.errors import OpskitError, RunNotFound

if TYPE_CHECKING:
    from opskit.records import Run
    from opskit.records.validation import ValidationReport

__all__ = ["EXIT_FAILED", "EXIT_PASSED", "EXIT_UNDECIDED", "SUMMARY_ENV", "add_parsers"]

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_UNDECIDED = 2
#: GitHub Actions names the job summary file in this variable; other CI systems may set it too.
SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
#: How many of the newest runs ``--last --model NAME`` looks through for a run of that model.
MODEL_SEARCH_DEPTH = 200

_EXIT = {"passed": EXIT_PASSED, "failed": EXIT_FAILED, "error": EXIT_UNDECIDED}


class _NoVerdict(OpskitError):
    """No verdict: the run has no report, is still running, or crashed before its gates."""


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``ci check`` to the ``opskit`` command line."""
    ci = sub.add_parser("ci", help="validation verdicts for CI pipelines").add_subparsers(
        dest="action", required=True
    )
    p = ci.add_parser(
        "check",
        help="print a run's validation report; exit 0 passed, 1 failed, 2 could not evaluate",
        description=(
            "Print the validation report of a run and exit 0 when it passed, 1 when a check or "
            "gate failed, 2 when no verdict could be reached. Appends the Markdown report to "
            "$GITHUB_STEP_SUMMARY when that variable is set."
        ),
    )
    p.add_argument("run_id", nargs="?", metavar="RUN_ID", help="run id or unique prefix")
    p.add_argument(
        "--last", action="store_true", help="the newest run (of --model NAME, when given)"
    )
    p.add_argument(
        "--model", metavar="NAME", help="the run must have trained this model (implies --last)"
    )
    p.add_argument(
        "--format",
        choices=("text", "markdown", "json"),
        default=None,
        help="text (default), markdown (for PR comments) or json",
    )
    p.set_defaults(func=_check, needs_store=False)


def _check(args: argparse.Namespace) -> int:
    fmt = args.format or ("json" if args.json else "text")
    try:
        run, report = _report_of(_pick_run(args), args.model)
    except Exception as exc:  # every failure to decide is exit 2, with the reason
        message = str(exc) if isinstance(exc, OpskitError) else f"{type(exc).__name__}: {exc}"
        print(f"opskit: error: {message}", file=sys.stderr)
        if fmt == "json":
            _write(json.dumps({"status": "error", "message": message}, indent=2) + "\n")
        _append_summary(f"### ⚠️ opskit ci check could not evaluate\n\n{message}\n")
        return EXIT_UNDECIDED
    _append_summary(report.to_markdown())
    text = {"markdown": report.to_markdown(), "json": report.to_json() + "\n"}
    _write(text.get(fmt, report.summary() + "\n"))
    code = _EXIT[report.status]
    if code == EXIT_UNDECIDED:
        print(
            f"opskit: error: run {run.id}: a check or gate could not be evaluated (see its message)",
            file=sys.stderr,
        )
    return code


def _pick_run(args: argparse.Namespace) -> Run:
    """The run named by RUN_ID, else the newest run (of ``--model``)."""
    from opskit.cli.lookup import find_run as _find_run
    from opskit.cli.lookup import require_store as _require_store
    from opskit.tracking.runs import get_run, search_runs

    if args.run_id and args.last:
        raise _NoVerdict("give a RUN_ID or --last, not both")
    if not args.run_id and not args.last and not args.model:
        raise _NoVerdict("name the run to check: opskit ci check RUN_ID, or --last (--model NAME)")
    _require_store()
    if args.run_id:
        return get_run(_find_run(args.run_id))
    if not args.model:
        newest = search_runs(limit=1)
        if not newest:
            raise RunNotFound("there are no runs in this store: train first, then check")
        return newest[0]
    for run in search_runs(limit=MODEL_SEARCH_DEPTH):
        if _model_of(run) == args.model:
            return run
    raise RunNotFound(
        f"none of the {MODEL_SEARCH_DEPTH} newest runs trained model {args.model!r}: check the "
        "name (`opskit models list`), or pass the RUN_ID printed by the training run"
    )


def _model_of(run: Run) -> str | None:
    """The model a run trained: its registered version's, else its validation report's."""
    if run.model_version is not None:
        return run.model_version.name
    if run.verdict is None:
        return None
    report = run.validation
    return report.model if report is not None else None


def _report_of(run: Run, model: str | None) -> tuple[Run, ValidationReport]:
    if run.status == "RUNNING":
        raise _NoVerdict(f"run {run.id} is still running: check it once it has ended")
    report = run.validation
    if report is None:
        raise _NoVerdict(
            f"run {run.id} ({run.name}, {run.status}) has no validation report: {_why_none(run)}"
        )
    if model is not None and report.model not in (None, model):
        raise _NoVerdict(f"run {run.id} trained model {report.model!r}, not {model!r}")
    if report.passed and run.status != "FINISHED":
        raise _NoVerdict(
            f"run {run.id} ended {run.status} after its checks passed{_error_line(run)}: its gates "
            f"were never evaluated (see `opskit runs show {run.id[:12]}`)"
        )
    return run, report


def _why_none(run: Run) -> str:
    if run.status != "FINISHED":
        return (
            f"it ended {run.status} before a report was stored{_error_line(run)} "
            f"(see `opskit runs show {run.id[:12]}`)"
        )
    if run.verdict is not None:
        return "its tags carry a verdict but the report is missing from the store"
    return "it declared no checks or gates: add checks=/gates= to its @opskit.train"


def _error_line(run: Run) -> str:
    lines = (run.error or "").strip().splitlines()
    return f" ({lines[-1]})" if lines else ""


def _write(text: str) -> None:
    """Print *text*; a reader that went away (``| head``) must not turn the verdict into exit 0."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would flush again at exit and fail there: point stdout at /dev/null first.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _append_summary(markdown: str) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")  # GitHub Actions sets it (not an opskit variable)
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as out:
            out.write(markdown if markdown.endswith("\n") else markdown + "\n")
    except OSError as exc:
        print(
            f"opskit: warning: could not append to ${SUMMARY_ENV} ({path}): {exc}", file=sys.stderr
        )
