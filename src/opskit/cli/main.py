"""``opskit runs|models|plugins|doctor|storage|sync``: human-readable tables, ``--json`` for machines."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from opskit.cli import ci_commands
from opskit.cli.lookup import find_run as _find_run
from opskit.cli.lookup import require_store as _require_store
from opskit.cli.tables import print_json, table, when
from opskit.errors import OpskitError
from opskit.registry.events import EVENT_KINDS

if TYPE_CHECKING:
    from opskit.records import ModelVersion, Run

__all__ = ["build_parser", "differing_params", "main"]


def _took(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.2f}s"


def _short(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def differing_params(runs: Sequence[Run]) -> list[str]:
    """Param names whose value is not the same in every listed run (missing counts as a value)."""
    import json

    missing = object()
    keys = sorted({key for run in runs for key in run.params})
    return [
        key
        for key in keys
        if len(
            {json.dumps(run.params.get(key, missing), sort_keys=True, default=repr) for run in runs}
        )
        > 1
    ]


def _runs_list(args: argparse.Namespace) -> int:
    from opskit.serialize import to_dict
    from opskit.tracking.runs import search_runs

    runs = search_runs(
        args.filter, order_by=args.order_by, limit=args.limit, experiment=args.experiment
    )
    if runs.truncated:
        print(
            f"opskit: showing the first {len(runs)} matching runs; more match: pass --limit N (e.g. --limit {len(runs) * 5})",
            file=sys.stderr,
        )
    if args.json:
        print_json([to_dict(r) for r in runs])
        return 0
    varied = differing_params(runs)
    rows: list[tuple[object, ...]] = [
        (
            r.id[:12],
            r.name,
            r.status,
            r.experiment,
            when(r.started_at),
            _took(r.duration),
            ", ".join(f"{k}={_short(r.params[k])}" for k in varied if k in r.params),
            ", ".join(f"{k}={v:.4g}" for k, v in sorted(r.metrics.items())[:3]),
            r.model_version.ref if r.model_version else None,
        )
        for r in runs
    ]
    headers = [
        "RUN",
        "NAME",
        "STATUS",
        "EXPERIMENT",
        "STARTED (UTC)",
        "TOOK",
        "PARAMS",
        "METRICS",
        "MODEL",
    ]
    if not varied:  # nothing tells these runs apart by params: no empty column
        headers.remove("PARAMS")
        rows = [row[:6] + row[7:] for row in rows]
    print(table(headers, rows))
    return 0


def _runs_show(args: argparse.Namespace) -> int:
    from opskit.serialize import to_dict
    from opskit.tracking.runs import get_run

    run = get_run(_find_run(args.run_id))
    if args.json:
        print_json(to_dict(run))
        return 0
    print(run.summary())
    if run.tags:
        print("  tags:    " + ", ".join(f"{k}={v}" for k, v in sorted(run.tags.items())))
    for artifact in run.artifacts:
        print(f"  artifact: {artifact.name} ({artifact.size_bytes} bytes) {artifact.digest}")
    report = run.validation if run.verdict is not None else None
    if report is not None:
        print("\n" + report.summary())
    if run.error:
        print("\n" + run.error.rstrip())
    return 0


def _models_list(args: argparse.Namespace) -> int:
    from opskit import models
    from opskit.serialize import to_dict

    found = models.list()
    if args.json:
        print_json([to_dict(m) for m in found])
        return 0
    rows = [
        (
            m.name,
            len(m.versions),
            m.latest.version if m.latest else None,
            ", ".join(f"{a}→{v}" for a, v in sorted(m.aliases.items())),
            when(m.latest.created_at if m.latest else None),
        )
        for m in found
    ]
    print(table(["MODEL", "VERSIONS", "LATEST", "ALIASES", "UPDATED (UTC)"], rows))
    return 0


def _models_show(args: argparse.Namespace) -> int:
    from opskit import models
    from opskit.names import ModelRef
    from opskit.serialize import to_dict

    ref = ModelRef.parse(args.ref)
    if ref.version is not None or ref.alias is not None:
        return _show_version(models.get_version(ref), args)
    model = models.get(ref.name)
    if args.json:
        print_json(to_dict(model))
        return 0
    print(f"model {model.name}")
    rows = [
        (
            v.version,
            ", ".join(v.aliases),
            v.flavor,
            v.size_bytes,
            (v.run_id or "-")[:12],
            when(v.created_at),
            v.digest[:19],
        )
        for v in sorted(model.versions, key=lambda v: v.version)
    ]
    print(table(["VERSION", "ALIASES", "FLAVOR", "BYTES", "RUN", "CREATED (UTC)", "DIGEST"], rows))
    return 0


def _show_version(version: ModelVersion, args: argparse.Namespace) -> int:
    """One version, as ``models show wine:2`` or ``models show wine@staging`` asks."""
    from opskit.serialize import to_dict

    if args.json:
        print_json(to_dict(version))
        return 0
    print(
        f"model version {version.ref}"
        + (f"  (reference {args.ref})" if args.ref != version.ref else "")
    )
    print(f"  aliases: {', '.join(version.aliases) or '-'}")
    print(f"  flavor:  {version.flavor}")
    print(f"  size:    {version.size_bytes} bytes")
    print(f"  digest:  {version.digest}")
    print(f"  run:     {version.run_id or '-'}")
    print(f"  created: {when(version.created_at)} UTC")
    if version.signature is not None:
        print("  inputs:  " + ", ".join(f"{c.name}: {c.type}" for c in version.signature.columns))
    for key, value in sorted(version.metadata.items()):
        print(f"  {key}: {value}")
    return 0


def _models_alias(args: argparse.Namespace) -> int:
    from opskit import models
    from opskit.serialize import to_plain

    change = models.set_alias(args.name, args.alias, args.version)
    unchanged = change.previous_version == change.version
    if args.json:
        print_json({**to_plain(change), "changed": not unchanged})
    elif unchanged:
        print(
            f"{change.model}@{change.alias} already points at version {change.version}: nothing changed"
        )
    else:
        print(f"{change.model}@{change.alias}: {change.previous_version or '-'} → {change.version}")
    return 0


def _models_events(args: argparse.Namespace) -> int:
    from opskit import models
    from opskit.serialize import to_plain

    found = models.events(args.name, kinds=args.kind, since=args.since, limit=args.limit)
    if args.json:
        print_json([to_plain(e) for e in found])
        return 0
    rows = [
        (
            e.id,
            when(e.time),
            e.kind,
            e.subject,
            _event_state(e.before),
            _event_state(e.after),
            e.user or "-",
            e.run_id or "-",
        )
        for e in found
    ]
    print(table(["ID", "TIME (UTC)", "KIND", "SUBJECT", "BEFORE", "AFTER", "USER", "RUN"], rows))
    return 0


def _event_state(document: dict[str, Any] | None) -> str:
    """An event's before/after in a cell: a version number, a deployment's state, or -."""
    if document is None:
        return "-"
    if "state" in document:
        return str(document["state"])
    return f"v{document['version']}" if "version" in document else "…"


def _plugins(args: argparse.Namespace) -> int:
    from opskit.plugins import get_registry, list_plugins
    from opskit.runtime import get_config, get_storage

    config = get_config()
    registry = get_registry()
    plugins = list_plugins()
    storage = get_storage()  # the tracker is named, not opened: listing plugins creates no store
    if args.json:
        print_json(
            {
                "plugins": [
                    {
                        "name": p.name,
                        "distribution": p.distribution,
                        "builtin": p.builtin,
                        "hooks": list(p.hooks),
                    }
                    for p in plugins
                ],
                "backends": {
                    kind: registry.names(kind) for kind in ("tracker", "storage", "target")
                },
                "active": {
                    "tracker": config.tracker,
                    "storage": storage.name,
                    "storage_location": storage.location,
                },
                "home": str(config.home),
            }
        )
        return 0
    print(
        table(
            ["PLUGIN", "DISTRIBUTION", "HOOKS"],
            [(p.name, p.distribution or "built-in", ", ".join(p.hooks)) for p in plugins],
        )
    )
    print()
    backend_rows = [
        (e.kind, e.name, e.plugin, ", ".join(e.schemes))
        for e in sorted(registry.entries.values(), key=lambda e: (e.kind, e.name))
    ]
    print(table(["KIND", "BACKEND", "PLUGIN", "URL SCHEMES"], backend_rows))
    print()
    print(f"active tracker: {config.tracker}   ({config.sources.get('tracker', 'default')})")
    print(
        f"active storage: {storage.name} at {storage.location}   ({config.sources.get('storage', 'default')})"
    )
    print(f"home:           {config.home}")
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from opskit.doctor import run_doctor

    report = run_doctor(repair=args.repair, verify=not args.no_verify)
    if args.json:
        from opskit.serialize import to_plain

        print_json({"ok": report.ok, "findings": [to_plain(f) for f in report.findings]})
    else:
        for f in report.findings:
            mark = "ok " if f.ok and not f.repaired else ("fixed" if f.repaired else "FAIL")
            print(f"[{mark}] {f.check}: {f.detail}")
        print("store is healthy" if report.ok else "problems found (see FAIL lines)")
    return 0 if report.ok else 1


def _storage_migrate(args: argparse.Namespace) -> int:
    from opskit.storage.migration import migrate

    def progress(digest: str, outcome: str) -> None:
        if not args.json:
            print(f"{outcome:>8} {digest}", file=sys.stderr)

    report = migrate(args.to, verify_existing=not args.no_verify, on_blob=progress)
    if args.json:
        print_json(
            {
                "source": report.source,
                "destination": report.destination,
                "copied": list(report.copied),
                "skipped": list(report.skipped),
                "replaced": list(report.replaced),
                "bytes_copied": report.bytes_copied,
            }
        )
    else:
        print(report.summary())
        print(f"to use it: OPSKIT_STORAGE={args.to} (or storage = {args.to!r} in [tool.opskit])")
    return 0


def _sync(args: argparse.Namespace) -> int:
    from opskit.runtime import get_tracker
    from opskit.tracker.capabilities import SupportsSync

    tracker = get_tracker()
    outbox = isinstance(tracker, SupportsSync)
    delivered = tracker.sync() if isinstance(tracker, SupportsSync) else 0
    if args.json:
        print_json({"tracker": tracker.name, "delivered": delivered, "outbox": outbox})
    elif not outbox:
        print(f"the {tracker.name} tracker writes directly: nothing to sync")
    else:
        print(f"delivered {delivered} run(s) from the outbox to the {tracker.name} tracker")
    return 0


def _global_flags(parser: argparse.ArgumentParser) -> None:
    """``--json`` and ``--version`` on *parser* and every parser below it, so they work in any position."""
    from opskit import __version__

    actions = {option for action in parser._actions for option in action.option_strings}
    if "--json" not in actions:
        parser.add_argument(
            "--json",
            action="store_true",
            default=argparse.SUPPRESS,
            help="machine-readable JSON output",
        )
    if "--version" not in actions:
        parser.add_argument(
            "--version",
            action="version",
            version=f"opskit {__version__}",
            help="print the version and exit",
        )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                _global_flags(child)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opskit", description="Runs, models, deployments and plugins of the opskit store."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    runs = sub.add_parser("runs", help="list and show runs").add_subparsers(
        dest="action", required=True
    )
    p = runs.add_parser("list", help="list runs, newest first")
    p.add_argument(
        "--filter", "-f", help='MLflow-style filter, e.g. "metrics.r2 >= 0.5 and params.alpha < 1"'
    )
    p.add_argument("--order-by", "-o", action="append", help='e.g. "metrics.r2 DESC" (repeatable)')
    p.add_argument(
        "--limit",
        "-n",
        type=int,
        default=20,
        help="at most this many runs (default 20; says when more match)",
    )
    p.add_argument("--experiment", "-e")
    p.set_defaults(func=_runs_list)
    p = runs.add_parser("show", help="everything captured about one run")
    p.add_argument("run_id", help="run id or unique prefix")
    p.set_defaults(func=_runs_show)

    models = sub.add_parser("models", help="the model registry").add_subparsers(
        dest="action", required=True
    )
    models.add_parser("list", help="registered models").set_defaults(func=_models_list)
    p = models.add_parser(
        "show", help="versions and aliases of a model, or one version (wine:2, wine@staging)"
    )
    p.add_argument(
        "ref", metavar="REF", help="wine (the model), wine:2 or wine@staging (one version)"
    )
    p.set_defaults(func=_models_show)
    p = models.add_parser("set-alias", help="point an alias at a version")
    p.add_argument("name")
    p.add_argument("alias")
    p.add_argument("version", type=int)
    p.set_defaults(func=_models_alias)
    p = models.add_parser(
        "events", help="registry events (versions, aliases, deployments), oldest first"
    )
    p.add_argument(
        "name", nargs="?", help="only the events of this model (deployment events belong to none)"
    )
    p.add_argument(
        "--kind", action="append", choices=EVENT_KINDS, help="only events of this kind (repeatable)"
    )
    p.add_argument("--since", type=int, help="only events after the one with this id")
    p.add_argument("--limit", type=int, help="at most this many (the oldest)")
    p.set_defaults(func=_models_events)
    from opskit.cli.lifecycle_commands import add_model_parsers

    add_model_parsers(models)

    from opskit.cli.deploy_commands import add_parsers

    add_parsers(sub)
    from opskit.cli import monitor_commands

    monitor_commands.add_parsers(sub)
    ci_commands.add_parsers(sub)
    from opskit.cli import audit_commands

    audit_commands.add_parsers(sub)
    from opskit.cli import approvals_commands

    approvals_commands.add_parsers(sub)
    from opskit.cli import lineage_commands

    lineage_commands.add_parsers(sub, runs=runs, models=models)
    from opskit.cli.data_commands import add_parsers as add_data_parsers

    add_data_parsers(sub)
    from opskit.cli import reproduce_commands

    reproduce_commands.add_parsers(sub)
    sub.add_parser("plugins", help="installed plugins and active backends").set_defaults(
        func=_plugins, needs_store=False
    )
    p = sub.add_parser("doctor", help="check the store; --repair mends what it can")
    p.add_argument("--repair", action="store_true", help="remove old orphan blobs and temp files")
    p.add_argument("--no-verify", action="store_true", help="skip re-hashing every blob")
    p.set_defaults(func=_doctor)

    storage = sub.add_parser("storage", help="blob storage tools").add_subparsers(
        dest="action", required=True
    )
    p = storage.add_parser(
        "migrate", help="copy every blob to another storage (resumable, idempotent)"
    )
    p.add_argument(
        "--to",
        required=True,
        metavar="URL",
        help="destination: s3://bucket/prefix, a path, memory://…",
    )
    p.add_argument(
        "--no-verify",
        action="store_true",
        help="trust blobs already at the destination without re-hashing",
    )
    p.set_defaults(func=_storage_migrate)
    sub.add_parser(
        "sync", help="deliver runs a tracker kept in its outbox while its server was unreachable"
    ).set_defaults(func=_sync)
    _global_flags(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.json = getattr(args, "json", False)
    try:
        if getattr(args, "needs_store", True):
            _require_store()
        return int(args.func(args))
    except OpskitError as exc:
        print(f"opskit: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `opskit runs list | head`
        return 0
    except Exception as exc:  # a bug: never exit 1, which drift/check/ci commands mean as a verdict
        import traceback

        print(
            f"opskit: error: unexpected {type(exc).__name__}: {exc}\n"
            "opskit: this is a bug in opskit, please report it (with the traceback below) at "
            "https://github.com/opskit/opskit/issues",
            file=sys.stderr,
        )
        traceback.print_exc(file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
