"""``opskit deploy`` and ``opskit deployments list|show|stop|logs``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from opskit.cli.tables import print_json, table, when
from opskit.errors import DeploymentError

__all__ = ["add_parsers"]


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _pairs(items: list[str] | None, what: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise DeploymentError(f"{what} {item!r} must look like KEY=VALUE")
        out[key] = value
    return out


def _deploy(args: argparse.Namespace) -> int:
    from opskit.deployments import deploy

    options: dict[str, Any] = {k: _value(v) for k, v in _pairs(args.option, "--option").items()}
    if args.workers is not None:
        options["workers"] = args.workers
    if args.path is not None:
        options["path"] = args.path
    if args.auth_token_file is not None:
        options["auth_token_file"] = args.auth_token_file
    if args.host is not None:
        options["host"] = args.host
    if args.insecure:
        options["insecure"] = True
    ref: Any = args.ref
    extra = _pairs(args.weight, "--weight")
    if extra:
        try:
            ref = {args.ref: args.weight_main if args.weight_main is not None else 1.0}
            ref.update({k: float(v) for k, v in extra.items()})
        except ValueError:
            raise DeploymentError(f"--weight values must be numbers, got {extra}") from None
    dep = deploy(
        ref, target=args.target, name=args.name, port=args.port, shadow=args.shadow, **options
    )
    if args.json:
        print_json(_plain(dep))
    else:
        print(dep.summary())
    return 0


def _plain(dep: Any) -> dict[str, Any]:
    from opskit.serialize import to_plain

    return dict(to_plain(dep))


def _list(args: argparse.Namespace) -> int:
    from opskit.deployments import list as list_deployments

    found = list_deployments()
    statuses = [d.status() for d in found]
    if args.json:
        print_json([{**_plain(d), "status": s} for d, s in zip(found, statuses, strict=True)])
        return 0
    rows = [
        (d.name, d.target, s, d.url or d.path, ", ".join(d.refs), d.shadow, when(d.created_at))
        for d, s in zip(found, statuses, strict=True)
    ]
    print(
        table(["DEPLOYMENT", "TARGET", "STATUS", "URL", "MODELS", "SHADOW", "CREATED (UTC)"], rows)
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    from opskit.deployments import get

    dep = get(args.name)
    status = dep.status()
    if args.json:
        print_json({**_plain(dep), "status": status})
        return 0
    print(dep.summary())
    print(f"  status:  {status}")
    if dep.pid:
        print(f"  pid:     {dep.pid}")
    if dep.path:
        print(f"  folder:  {dep.path}")
    return 0


def _stop(args: argparse.Namespace) -> int:
    from opskit.deployments import stop

    dep = stop(args.name)
    if args.json:
        print_json(_plain(dep))
    else:
        print(f"stopped {dep.name}")
    return 0


def _logs(args: argparse.Namespace) -> int:
    from opskit.deployments import logs

    text = logs(args.name)
    lines = text.splitlines()
    shown = lines[-args.tail :] if args.tail else lines
    if args.json:
        print_json({"name": args.name, "lines": shown})
    else:
        print("\n".join(shown))
    return 0


def add_parsers(sub: Any) -> None:
    """Add ``deploy`` and ``deployments`` to the top-level subcommands."""
    p = sub.add_parser(
        "deploy", help="deploy a model: start a local server or write a docker build context"
    )
    p.add_argument("ref", help="model reference, e.g. wine@production")
    p.add_argument(
        "--target", "-t", default="local", help="deployment target (see `opskit plugins`)"
    )
    p.add_argument("--name", help="deployment name (default: the model name)")
    p.add_argument("--port", type=int, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument(
        "--weight",
        action="append",
        metavar="REF=W",
        help="split traffic: another model and its weight",
    )
    p.add_argument(
        "--weight-main", type=float, help="weight of REF when --weight is given (default 1)"
    )
    p.add_argument("--shadow", metavar="REF", help="mirror every request to this model")
    p.add_argument("--workers", type=int, help="server worker processes (local target; default 2)")
    p.add_argument("--path", help="folder for the build context (docker target)")
    p.add_argument(
        "--auth-token-file",
        metavar="FILE",
        help="require `Authorization: Bearer <token>` with the token in FILE (or set $OPSKIT_SERVE_TOKEN)",
    )
    p.add_argument(
        "--host", help="address to bind (default 127.0.0.1; any other needs a token or --insecure)"
    )
    p.add_argument(
        "--insecure",
        action="store_true",
        help="allow a non-loopback --host without an auth token",
    )
    p.add_argument(
        "--option",
        "-o",
        action="append",
        metavar="KEY=VALUE",
        help="target option, e.g. max_batch=32",
    )
    p.set_defaults(func=_deploy)

    deployments = sub.add_parser("deployments", help="recorded deployments").add_subparsers(
        dest="action", required=True
    )
    p = deployments.add_parser("list", help="every deployment and whether it is alive")
    p.set_defaults(func=_list)
    p = deployments.add_parser("show", help="one deployment")
    p.add_argument("name")
    p.set_defaults(func=_show)
    p = deployments.add_parser("stop", help="stop a deployment's server")
    p.add_argument("name")
    p.set_defaults(func=_stop)
    p = deployments.add_parser("logs", help="a deployment's server log")
    p.add_argument("name")
    p.add_argument("--tail", type=int, default=0, help="only the last N lines")
    p.set_defaults(func=_logs)
