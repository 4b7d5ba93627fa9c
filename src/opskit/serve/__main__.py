"""``python -m opskit.serve SPEC.json``: run the model server described by a deployment spec."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _checked_host(spec: dict[str, Any]) -> str:
    """The address to bind; ``InvalidOption`` for a non-loopback one with no token and no ``insecure``."""
    from opskit.config import env_text
    from opskit.deployments.auth import TOKEN_ENV, bind_refusal
    from opskit.deployments.options import is_valid_token
    from opskit.errors import InvalidOption

    host = env_text("OPSKIT_BIND") or str(spec.get("host", "127.0.0.1"))
    env_token = (env_text(TOKEN_ENV) or "").strip()
    if env_token and not is_valid_token(env_token):
        raise InvalidOption(
            f"${TOKEN_ENV} does not hold a valid token ({len(env_token)} characters; it takes 16 to "
            "4096 visible ASCII characters, no spaces)",
            option="auth_token",
            value=f"${TOKEN_ENV}",
        )
    has_token = bool(spec.get("auth_token_sha256") or env_token)
    refusal = bind_refusal(host, has_token=has_token, insecure=bool(spec.get("insecure")))
    if refusal is not None:
        raise InvalidOption(refusal, option="host", value=host)
    return host


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m opskit.serve", description=__doc__)
    parser.add_argument("spec", help="deployment spec (JSON) written by opskit.deploy")
    parser.add_argument("--port", type=int, help="override the spec's port")
    args = parser.parse_args(argv)
    spec_path = Path(args.spec).resolve()
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    from opskit.deployments.options import SERVER_OPTIONS, check_options, check_port
    from opskit.errors import OpskitError

    try:  # the same checks as opskit.deploy: a bad value stops here, not in every worker
        from opskit.distribution import require_extra

        require_extra("serve", "the model server")
        port = int(
            check_port(
                args.port or os.environ.get("PORT") or spec["port"],
                f"the model server ({spec_path})",
            )
            or 0
        )
        spec.update(
            check_options(
                f"the model server ({spec_path})",
                SERVER_OPTIONS,
                {k: spec[k] for k in SERVER_OPTIONS if k in spec},
            )
        )
        host = _checked_host(spec)
    except OpskitError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    workers = int(spec.get("workers", 1))
    if workers > 1:
        # Every worker writes its metrics here, so /metrics on any worker reports all of them.
        metrics_dir = spec_path.parent / f"metrics-{os.getpid()}"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    from opskit.serve.app import SPEC_ENV

    os.environ[SPEC_ENV] = str(spec_path)  # read back by create_app in each worker
    import uvicorn

    uvicorn.run(
        "opskit.serve.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        log_level=spec.get("log_level", "warning"),
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
