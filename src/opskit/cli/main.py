"""``opskit runs|models|plugins|doctor|storage|sync``: human-readable tables, ``--json`` for machines."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from opskit.cli.tables import print_json, table, when
from opskit.errors import OpskitError

__all__ = ["main"]


def _took(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.2f}s"


def _runs_list(args: argparse.Namespace) -> int:
    from opskit.sdk.runs import search_runs
    from opskit.serialize import to_dict

    runs = search_runs(args.filter, order_by=args.order_by, limit=args.limit, experiment=args.experiment)
    if args.json:
        print_json([to_dict(r) for r in runs])
        return 0
    rows = [
        (
            r.id[:12],
            r.name,
            r.status,
            r.experiment,
            when(r.started_at),
            _took(r.duration),
            ", ".join(f"{k}={v:.4g}" for k, v in sorted(r.metrics.items())[:3]),
            r.model_version.ref if r.model_version else None,
        )
        for r in runs
    ]
    print(table(["RUN", "NAME", "STATUS", "EXPERIMENT", "STARTED (UTC)", "TOOK", "METRICS", "MODEL"], rows))
    return 0


def _find_run(prefix: str) -> str:
    """Accept a full run id or a unique prefix (as shown by ``runs list``)."""
    from opskit.errors import RunNotFound
    from opskit.sdk.runs import search_runs

    if len(prefix) == 32:
        return prefix
    if not prefix or any(ch not in "0123456789abcdef" for ch in prefix):
        raise RunNotFound(f"{prefix!r} is not a run id: ids are hex digits, as printed by `opskit runs list`")
    matches = [r.id for r in search_runs(f"attributes.run_id LIKE '{prefix}%'", limit=2)]
    if len(matches) != 1:
        raise RunNotFound(
            f"{'no run' if not matches else 'more than one run'} matches {prefix!r}; "
            "use a longer prefix or the full id from `opskit runs list`"
        )
    return matches[0]


def _runs_show(args: argparse.Namespace) -> int:
    from opskit.sdk.runs import get_run
    from opskit.serialize import to_dict

    run = get_run(_find_run(args.run_id))
    if args.json:
        print_json(to_dict(run))
        return 0
    print(run.summary())
    if run.tags:
        print("  tags:    " + ", ".join(f"{k}={v}" for k, v in sorted(run.tags.items())))
    for artifact in run.artifacts:
        print(f"  artifact: {artifact.name} ({artifact.size_bytes} bytes) {artifact.digest}")
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
    from opskit.serialize import to_dict

    model = models.get(args.name)
    if args.json:
        print_json(to_dict(model))
        return 0
    print(f"model {model.name}")
    rows = [
        (v.version, ", ".join(v.aliases), v.flavor, v.size_bytes, (v.run_id or "-")[:12], when(v.created_at), v.digest[:19])
        for v in sorted(model.versions, key=lambda v: v.version)
    ]
    print(table(["VERSION", "ALIASES", "FLAVOR", "BYTES", "RUN", "CREATED (UTC)", "DIGEST"], rows))
    return 0


def _models_alias(args: argparse.Namespace) -> int:
    from opskit import models

    change = models.set_alias(args.name, args.alias, args.version)
    print(f"{change.model}@{change.alias}: {change.previous_version or '-'} → {change.version}")
    return 0


def _plugins(args: argparse.Namespace) -> int:
    from opskit._backends import get_storage, get_tracker
    from opskit.config import get_config
    from opskit.plugins import get_registry, list_plugins

    config = get_config()
    registry = get_registry()
    plugins = list_plugins()
    tracker, storage = get_tracker(), get_storage()
    if args.json:
        print_json(
            {
                "plugins": [
                    {"name": p.name, "distribution": p.distribution, "builtin": p.builtin, "hooks": list(p.hooks)}
                    for p in plugins
                ],
                "backends": {kind: registry.names(kind) for kind in ("tracker", "storage", "target")},
                "active": {"tracker": tracker.name, "storage": storage.name, "storage_location": storage.location},
                "home": str(config.home),
            }
        )
        return 0
    print(table(["PLUGIN", "DISTRIBUTION", "HOOKS"], [(p.name, p.distribution or "built-in", ", ".join(p.hooks)) for p in plugins]))
    print()
    backend_rows = [
        (e.kind, e.name, e.plugin, ", ".join(e.schemes)) for e in sorted(registry.entries.values(), key=lambda e: (e.kind, e.name))
    ]
    print(table(["KIND", "BACKEND", "PLUGIN", "URL SCHEMES"], backend_rows))
    print()
    print(f"active tracker: {tracker.name}   ({config.sources.get('tracker', 'default')})")
    print(f"active storage: {storage.name} at {storage.location}   ({config.sources.get('storage', 'default')})")
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
    from opskit._backends import get_tracker

    tracker = get_tracker()
    sync = getattr(tracker, "sync", None)
    if sync is None:
        print(f"the {tracker.name} tracker writes directly: nothing to sync")
        return 0
    delivered = int(sync())
    print(f"delivered {delivered} run(s) from the outbox to the {tracker.name} tracker")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opskit", description="Runs, models, deployments and plugins of the opskit store.")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_json(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--json", action="store_true", help="machine-readable JSON output")
        return p

    runs = sub.add_parser("runs", help="list and show runs").add_subparsers(dest="action", required=True)
    p = with_json(runs.add_parser("list", help="list runs, newest first"))
    p.add_argument("--filter", "-f", help="MLflow-style filter, e.g. \"metrics.r2 >= 0.5 and params.alpha < 1\"")
    p.add_argument("--order-by", "-o", action="append", help="e.g. \"metrics.r2 DESC\" (repeatable)")
    p.add_argument("--limit", "-n", type=int, default=20)
    p.add_argument("--experiment", "-e")
    p.set_defaults(func=_runs_list)
    p = with_json(runs.add_parser("show", help="everything captured about one run"))
    p.add_argument("run_id", help="run id or unique prefix")
    p.set_defaults(func=_runs_show)

    models = sub.add_parser("models", help="the model registry").add_subparsers(dest="action", required=True)
    with_json(models.add_parser("list", help="registered models")).set_defaults(func=_models_list)
    p = with_json(models.add_parser("show", help="versions and aliases of one model"))
    p.add_argument("name")
    p.set_defaults(func=_models_show)
    p = models.add_parser("set-alias", help="point an alias at a version")
    p.add_argument("name")
    p.add_argument("alias")
    p.add_argument("version", type=int)
    p.set_defaults(func=_models_alias)

    from opskit.cli.deploy_commands import add_parsers

    add_parsers(sub)
    with_json(sub.add_parser("plugins", help="installed plugins and active backends")).set_defaults(func=_plugins)
    p = with_json(sub.add_parser("doctor", help="check the store; --repair mends what it can"))
    p.add_argument("--repair", action="store_true", help="remove old orphan blobs and temp files")
    p.add_argument("--no-verify", action="store_true", help="skip re-hashing every blob")
    p.set_defaults(func=_doctor)

    storage = sub.add_parser("storage", help="blob storage tools").add_subparsers(dest="action", required=True)
    p = with_json(storage.add_parser("migrate", help="copy every blob to another storage (resumable, idempotent)"))
    p.add_argument("--to", required=True, metavar="URL", help="destination: s3://bucket/prefix, a path, memory://…")
    p.add_argument("--no-verify", action="store_true", help="trust blobs already at the destination without re-hashing")
    p.set_defaults(func=_storage_migrate)
    sub.add_parser("sync", help="deliver runs a tracker kept in its outbox while its server was unreachable").set_defaults(func=_sync)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except OpskitError as exc:
        print(f"opskit: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `opskit runs list | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
