"""``python -m opskit.serve SPEC.json``: run the model server described by a deployment spec."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


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
    except OpskitError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    workers = int(spec.get("workers", 1))
    if workers > 1:
        # Every worker writes its metrics here, so /metrics on any worker reports all of them.
        metrics_dir = spec_path.parent / f"metrics-{os.getpid()}"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    from opskit.config import env_text
    from opskit.serve.app import SPEC_ENV

    os.environ[SPEC_ENV] = str(spec_path)  # read back by create_app in each worker
    import uvicorn

    uvicorn.run(
        "opskit.serve.app:create_app",
        factory=True,
        host=env_text("OPSKIT_BIND") or spec.get("host", "127.0.0.1"),
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
