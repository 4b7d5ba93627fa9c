"""``opskit data list|show``: dataset versions (``opskit.log_data``, ``data="snapshot"``)."""

from __future__ import annotations

import argparse
from typing import Any

from opskit.cli.tables import print_json, table, when

__all__ = ["add_parsers"]


def _shape(shape: tuple[int, ...] | None) -> str:
    return "x".join(map(str, shape)) if shape is not None else "-"


def _list(args: argparse.Namespace) -> int:
    from opskit.data import list_datasets
    from opskit.serialize import to_dict

    found = list_datasets()
    if args.json:
        print_json([to_dict(d) for d in found])
        return 0
    rows = []
    for dataset in found:
        latest = dataset.latest
        assert latest is not None
        aliases = ", ".join(f"{a}→{v}" for a, v in sorted(dataset.aliases.items()))
        rows.append(
            (
                dataset.name,
                len(dataset.versions),
                latest.version,
                f"{latest.kind} ({latest.format})",
                _shape(latest.shape),
                latest.size_bytes,
                aliases or "-",
                when(latest.created_at),
            )
        )
    print(
        table(
            ["DATASET", "VERSIONS", "LATEST", "KIND", "SHAPE", "BYTES", "ALIASES", "CREATED (UTC)"],
            rows,
        )
    )
    return 0


def _show_version(version: Any, args: argparse.Namespace) -> int:
    from opskit.serialize import to_dict

    if args.json:
        print_json(to_dict(version))
        return 0
    print(
        f"dataset version {version.ref}"
        + (f"  (reference {args.ref})" if args.ref != version.ref else "")
    )
    print(f"  aliases: {', '.join(version.aliases) or '-'}")
    print(f"  kind:    {version.kind} (stored as {version.format})")
    print(f"  shape:   {_shape(version.shape)}")
    print(f"  size:    {version.size_bytes} bytes")
    print(f"  digest:  {version.digest}")
    print(f"  blob:    {version.blob}")
    print(f"  run:     {version.run_id or '-'}")
    print(f"  user:    {version.user or '-'}")
    print(f"  created: {when(version.created_at)} UTC")
    if version.source:
        print(f"  source:  {version.source}")
    if version.schema is not None:
        print("  columns: " + ", ".join(f"{c.name}: {c.type}" for c in version.schema.columns))
    return 0


def _show(args: argparse.Namespace) -> int:
    from opskit.data import DatasetRef, get_dataset, get_dataset_version
    from opskit.serialize import to_dict

    ref = DatasetRef.parse(args.ref)
    if ref.version is not None or ref.alias is not None:
        return _show_version(get_dataset_version(ref), args)
    dataset = get_dataset(ref.name)
    if args.json:
        print_json(to_dict(dataset))
        return 0
    print(f"dataset {dataset.name}")
    rows = [
        (
            v.version,
            ", ".join(v.aliases) or "-",
            f"{v.kind} ({v.format})",
            _shape(v.shape),
            v.size_bytes,
            (v.run_id or "-")[:12],
            when(v.created_at),
            v.digest[:25],
        )
        for v in dataset.versions
    ]
    print(
        table(
            ["VERSION", "ALIASES", "KIND", "SHAPE", "BYTES", "RUN", "CREATED (UTC)", "DIGEST"],
            rows,
        )
    )
    return 0


def _forget(args: argparse.Namespace) -> int:
    from opskit.errors import InvalidValue
    from opskit.monitor import retention

    if args.expired == (args.column is not None):
        raise InvalidValue(
            "give --column NAME --value VALUE (forget one subject) or --expired (apply retention), not both"
        )
    if args.expired:
        report = retention.forget_all_expired()
    else:
        if args.value is None:
            raise InvalidValue(f"--column {args.column} needs --value: the value to forget")
        report = retention.forget(args.column, args.value, deployment=args.deployment)
    if args.json:
        from opskit.cli.tables import print_json
        from opskit.serialize import to_plain

        print_json(to_plain(report))
    else:
        print(report.summary())
    return 1 if report.not_removed else 0


def add_parsers(sub: Any) -> None:
    """Add ``data list``, ``data show`` and ``data forget`` to the top-level subcommands."""
    data = sub.add_parser("data", help="dataset versions").add_subparsers(
        dest="action", required=True
    )
    data.add_parser("list", help="every dataset: versions, latest, aliases").set_defaults(
        func=_list
    )
    p = data.add_parser(
        "show", help="versions of a dataset, or one version (customers:2, customers@train)"
    )
    p.add_argument(
        "ref",
        metavar="REF",
        help="customers (the dataset), customers:2 or customers@train (one version)",
    )
    p.set_defaults(func=_show)
    p = data.add_parser(
        "forget",
        help="remove a data subject's rows from the prediction logs, or the days past retention (audited)",
    )
    p.add_argument("--column", help="the column identifying the subject, e.g. customer_id")
    p.add_argument(
        "--value", help="the subject's value in that column (matched as text, or its keyed hash)"
    )
    p.add_argument("--deployment", help="only this deployment's prediction log")
    p.add_argument(
        "--expired",
        action="store_true",
        help="remove the prediction-log days older than each deployment's retention= option",
    )
    p.set_defaults(func=_forget)
