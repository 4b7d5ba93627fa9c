"""The ``local`` target: a detached model server process on 127.0.0.1.

The server runs ``python -m opskit.serve SPEC`` in its own session, so it
outlives the Python process that deployed it; its spec and log live in
``<home>/deployments/<name>/``. It reaches the same store through the
``OPSKIT_HOME`` / ``OPSKIT_TRACKER`` / ``OPSKIT_STORAGE`` it is started with.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opskit.deployments.options import (
    LOCAL_OPTIONS,
    SERVER_OPTIONS,
    Option,
    check_options,
    check_target_options,
)
from opskit.deployments.target import Deployment, DeploymentSpec, SupportsOptions, Target
from opskit.errors import DeploymentError

if TYPE_CHECKING:
    from opskit.config import Config

__all__ = ["LocalTarget", "free_port", "server_spec"]

HOST = "127.0.0.1"
# Server processes started by this Python process, kept so they are reaped (no zombies).
_children: dict[int, subprocess.Popen[bytes]] = {}


def _connect_host(bind: str) -> str:
    """Where a client on this machine reaches a server bound to *bind* (URL form)."""
    if bind in ("0.0.0.0", ""):
        return HOST
    if bind == "::":
        return "[::1]"
    return f"[{bind}]" if ":" in bind else bind


def free_port(host: str = HOST) -> int:
    """A TCP port on *host* (127.0.0.1) that is free right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def server_spec(
    spec: DeploymentSpec, port: int, variants: list[dict[str, Any]], shadow: dict[str, Any] | None
) -> dict[str, Any]:
    """The JSON document ``python -m opskit.serve`` reads (*spec*'s options already checked by its target)."""
    server = check_options(
        spec.target, SERVER_OPTIONS, {k: v for k, v in spec.options.items() if k in SERVER_OPTIONS}
    )
    server.setdefault("workers", 2)
    return {
        "name": spec.name,
        "host": HOST,
        "port": port,
        "variants": variants,
        "shadow": shadow,
        **server,
    }


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    if not Path("/proc/self").exists():  # no procfs (macOS): existence is the best we can tell
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z" and b"opskit.serve" in cmdline


def _healthy(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as response:
            return int(response.status) == 200
    except OSError:
        return False


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def project_python_path(existing: str | None) -> str:
    """``PYTHONPATH`` for a model server: the deploying process's project folders first.

    The server runs in the deployment's own folder, so a model whose classes live in a
    module of the user's project (``from features import Cleaner``) would not unpickle
    there. The folders the deploying process imports from (its working directory and
    its script's folder, ``sys.path[0]``) come first, then any ``PYTHONPATH`` it had.
    """
    folders = [os.getcwd()]
    if sys.path and sys.path[0]:
        folders.append(os.path.abspath(sys.path[0]))
    folders += [p for p in (existing or "").split(os.pathsep) if p]
    return os.pathsep.join(dict.fromkeys(folders))


class LocalTarget(Target, SupportsOptions):
    """Model servers as detached processes on this machine."""

    name = "local"
    #: Every option this target accepts; ``opskit.deploy`` checks them before anything starts.
    options: dict[str, Option] = LOCAL_OPTIONS

    def __init__(self, config: Config) -> None:
        self.config = config

    def folder(self, name: str) -> Path:
        return self.config.home / "deployments" / name

    def deploy(self, spec: DeploymentSpec) -> Deployment:
        from opskit.distribution import require_extra

        require_extra("serve", f"deploying {spec.name!r} to a local model server")
        check_target_options(self.name, self.options, spec.options)
        port = spec.port or free_port(str(spec.options.get("host", HOST)))
        folder = self.folder(spec.name)
        folder.mkdir(parents=True, exist_ok=True)
        variants = [{"ref": ref, "weight": weight} for ref, weight in spec.variants.items()]
        document = server_spec(spec, port, variants, {"ref": spec.shadow} if spec.shadow else None)
        spec_path = folder / "spec.json"
        spec_path.write_text(json.dumps(document, indent=2), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        env.update(
            OPSKIT_HOME=str(self.config.home),
            OPSKIT_TRACKER=self.config.tracker,
            OPSKIT_STORAGE=self.config.storage,
        )
        env["PYTHONPATH"] = project_python_path(env.get("PYTHONPATH"))
        log_path = folder / "server.log"
        with open(log_path, "ab") as log:
            child = subprocess.Popen(
                [sys.executable, "-m", "opskit.serve", str(spec_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=folder,
                start_new_session=True,
            )
        _children[child.pid] = child
        url = f"http://{_connect_host(str(spec.options.get('host', HOST)))}:{port}"
        deadline = time.monotonic() + float(spec.options.get("timeout", 120))
        while not _healthy(url):
            if child.poll() is not None:
                raise DeploymentError(
                    f"the model server for {spec.name!r} stopped before it was ready (exit status "
                    f"{child.returncode}); its log ({log_path}) ends with:\n{_tail(log_path)}"
                )
            if time.monotonic() > deadline:
                self._kill(child.pid)
                raise DeploymentError(
                    f"the model server for {spec.name!r} did not answer {url}/health in time; see {log_path}:\n{_tail(log_path)}"
                )
            time.sleep(0.1)
        return Deployment(
            name=spec.name,
            target=self.name,
            url=url,
            refs=tuple(spec.variants),
            weights=spec.variants,
            shadow=spec.shadow,
            state="running",
            created_at=time.time(),
            pid=child.pid,
            path=str(folder),
            options=spec.options,
        )

    def status(self, deployment: Deployment) -> str:
        if not _alive(deployment.pid):
            return "stopped"
        return "running" if deployment.url and _healthy(deployment.url) else "starting"

    def _kill(self, pid: int) -> None:
        for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pid, sig)
            except (ProcessLookupError, PermissionError):
                break
            deadline = time.monotonic() + wait
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if not _alive(pid):
                break
        child = _children.pop(pid, None)
        if child is not None:
            child.wait(timeout=5)

    def stop(self, deployment: Deployment) -> None:
        if deployment.pid is not None and _alive(deployment.pid):
            self._kill(deployment.pid)
        folder = Path(deployment.path or self.folder(deployment.name))
        for metrics_dir in folder.glob("metrics-*"):  # per-run Prometheus files of the workers
            shutil.rmtree(metrics_dir, ignore_errors=True)

    def logs(self, deployment: Deployment) -> str:
        path = Path(deployment.path or self.folder(deployment.name)) / "server.log"
        try:
            return path.read_text(errors="replace")
        except OSError:
            return ""
