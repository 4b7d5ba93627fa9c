"""The ``docker`` target: a build context that runs the same model server in a container.

``opskit.deploy(ref, target="docker", path=DIR)`` writes ``DIR/``:
``Dockerfile``, ``requirements.txt`` (pinned from the environment captured
with the model's run), ``models/`` (each version's verified blob and record),
``opskit/`` (this opskit, so the image serves with identical code),
``spec.json`` and ``entrypoint.py``. ``python entrypoint.py`` serves the model
without a store; ``docker build DIR`` builds the image.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opskit.deployments.local import server_spec
from opskit.deployments.options import DOCKER_OPTIONS, Option, check_target_options
from opskit.deployments.target import Deployment, DeploymentSpec, SupportsOptions, Target
from opskit.errors import DeploymentError

if TYPE_CHECKING:
    from opskit.config import Config
    from opskit.records import ModelVersion

__all__ = ["DockerTarget"]

DEFAULT_PORT = 8080
#: What the server needs at run time, beyond the model's own libraries.
RUNTIME = (
    "attrs",
    "cloudpickle",
    "pluggy",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "prometheus-client",
    "orjson",
    "pandas",
    "numpy",
    "pyarrow",
)
FLAVOR_LIBRARIES = {"sklearn": ("scikit-learn", "scipy", "joblib", "threadpoolctl")}

ENTRYPOINT = '''\
"""Start the opskit model server for the models in this folder (PORT, OPSKIT_BIND from the environment)."""

import os
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
sys.path.insert(0, str(here))
os.chdir(here)
os.environ.setdefault("OPSKIT_HOME", str(here / "store"))

# The guard matters: with more than one worker, every worker process is spawned and
# re-imports this file as its main module; only the first process may start the server.
if __name__ == "__main__":
    from opskit.serve.__main__ import main

    sys.exit(main([str(here / "spec.json"), *sys.argv[1:]]))
'''


def pinned_requirements(versions: list[ModelVersion]) -> tuple[list[str], str]:
    """(header and ``name==version`` lines, Python version) for the served versions.

    One function decides what a model needs (``opskit.capture.requirements``, the same as
    ``opskit models requirements``): the distributions the training run imported (or all it
    captured), plus the server's runtime and the flavors' libraries, at the captured versions
    (else this environment's); opskit itself is copied into the context, so it is left out.
    """
    from opskit.capture.env import capture_env
    from opskit.capture.requirements import OWN_DISTRIBUTIONS, normal_name, requirements
    from opskit.runtime import get_tracker

    extra = list(RUNTIME)
    for flavor in sorted({v.flavor for v in versions}):
        extra += [n for n in FLAVOR_LIBRARIES.get(flavor, ()) if n not in extra]
    here = dict(capture_env().packages)
    header: list[str] = []
    pins: dict[str, str] = {}
    python: str | None = None
    runs = [get_tracker().get_run(v.run_id) if v.run_id else None for v in versions]
    for version, run in zip(versions, runs, strict=True):
        found = requirements(
            run, subject=version.ref, extra=extra, exclude=OWN_DISTRIBUTIONS, fallback=here
        )
        header += [line for line in found.header if line not in header]
        for line in found.lines:
            pins.setdefault(normal_name(line.split("==", 1)[0]), line)
        python = python or found.python
    lines = header + [pins[k] for k in sorted(pins)]
    return lines, python or ".".join(map(str, sys.version_info[:3]))


class DockerTarget(Target, SupportsOptions):
    """Writes container build contexts; it never starts anything."""

    name = "docker"
    #: Every option this target accepts; ``opskit.deploy`` checks them before anything is written.
    options: dict[str, Option] = DOCKER_OPTIONS

    def __init__(self, config: Config) -> None:
        self.config = config

    def _write_model(self, ref: str, models: Path) -> tuple[dict[str, Any], ModelVersion]:
        from opskit.names import ModelRef
        from opskit.runtime import get_storage, get_tracker
        from opskit.serialize import to_plain

        version = get_tracker().get_model_version(ModelRef.parse(ref))
        stem = f"{version.name}-v{version.version}"
        blob = models / f"{stem}.bin"
        get_storage().get_file(version.digest, blob)  # verified against its digest
        (models / f"{stem}.json").write_text(
            json.dumps(to_plain(version), indent=2), encoding="utf-8"
        )
        entry = {
            "ref": ref,
            "version_file": f"models/{stem}.json",
            "blob_file": f"models/{stem}.bin",
        }
        return entry, version

    def deploy(self, spec: DeploymentSpec) -> Deployment:
        options = check_target_options(self.name, self.options, spec.options)
        raw_path = options.pop("path", None)
        if raw_path is None:
            raise DeploymentError(
                "the docker target writes a build context: pass path=DIR (an empty or new folder; "
                "on the command line: opskit deploy REF --target docker --path DIR)"
            )
        path = Path(raw_path).expanduser().resolve()
        if path.exists() and not path.is_dir():
            raise DeploymentError(
                f"{path} is a file; pass path= a new or empty folder for the build context"
            )
        if path.exists() and any(path.iterdir()):
            raise DeploymentError(f"{path} is not empty; choose a new folder for the build context")
        existed = path.exists()
        try:
            return self._write_context(path, spec, options)
        except BaseException as exc:
            # nothing half-written left behind: the folder is as it was (absent, or empty)
            _undo(path, existed=existed)
            if isinstance(exc, OSError):
                raise DeploymentError(
                    f"cannot write the build context to {path}: {exc.strerror or exc}; "
                    "pass path= a folder you can write to"
                ) from exc
            raise

    def _write_context(
        self, path: Path, spec: DeploymentSpec, options: dict[str, Any]
    ) -> Deployment:
        models = path / "models"
        models.mkdir(parents=True)
        variants, versions = [], []
        for ref, weight in spec.variants.items():
            entry, version = self._write_model(ref, models)
            variants.append({**entry, "weight": weight})
            versions.append(version)
        shadow = None
        if spec.shadow:
            shadow, version = self._write_model(spec.shadow, models)
            versions.append(version)
        port = spec.port or DEFAULT_PORT
        document = server_spec(
            DeploymentSpec(spec.name, spec.target, spec.variants, spec.shadow, port, options),
            port,
            variants,
            shadow,
        )
        (path / "spec.json").write_text(json.dumps(document, indent=2), encoding="utf-8")
        requirements, python = pinned_requirements(versions)
        (path / "requirements.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")
        shutil.copytree(
            Path(__file__).resolve().parents[1],
            path / "opskit",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        (path / "entrypoint.py").write_text(ENTRYPOINT, encoding="utf-8")
        (path / "Dockerfile").write_text(self._dockerfile(python, port), encoding="utf-8")
        (path / ".dockerignore").write_text("store/\n**/__pycache__\n", encoding="utf-8")
        return Deployment(
            name=spec.name,
            target=self.name,
            url=None,
            refs=tuple(spec.variants),
            weights=spec.variants,
            shadow=spec.shadow,
            state="built",
            created_at=time.time(),
            path=str(path),
            options={**options, "port": port},
        )

    def _dockerfile(self, python: str, port: int) -> str:
        minor = ".".join(python.split(".")[:2])
        return (
            f"FROM python:{minor}-slim\n"
            "WORKDIR /app\n"
            "COPY requirements.txt .\n"
            "RUN pip install --no-cache-dir -r requirements.txt\n"
            "COPY . .\n"
            f"ENV OPSKIT_BIND=0.0.0.0 PORT={port} OPSKIT_HOME=/app/store PYTHONUNBUFFERED=1\n"
            f"EXPOSE {port}\n"
            'CMD ["python", "entrypoint.py"]\n'
        )

    def status(self, deployment: Deployment) -> str:
        return (
            "built"
            if deployment.path and (Path(deployment.path) / "Dockerfile").is_file()
            else "missing"
        )

    def stop(self, deployment: Deployment) -> None:
        """A build context runs nothing here; stopping it is a no-op."""

    def logs(self, deployment: Deployment) -> str:
        return ""


def _undo(path: Path, *, existed: bool) -> None:
    """Remove what a failed build left in *path*: the folder itself, or its content when it existed (empty)."""
    if not existed:
        shutil.rmtree(path, ignore_errors=True)
        return
    with contextlib.suppress(OSError):
        for child in path.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
