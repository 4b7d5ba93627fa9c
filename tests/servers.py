"""Real servers for tests: an MLflow tracking server (sqlite or PostgreSQL backend store) and PostgreSQL.

Used as a pytest plugin (``pytest_plugins = ["servers"]`` in conftest). Every
server binds 127.0.0.1 on a free port, runs in its own process group, and is
stopped (group and all) at the end of the session. A server that does not
start FAILS the tests that need it, with its log.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from attrs import frozen

__all__ = [
    "MLflowAuthServer",
    "MLflowServer",
    "free_port",
    "mlflow_auth_server",
    "mlflow_server",
    "mlflow_server_pg",
    "postgres",
]

PGBIN = Path("/usr/lib/postgresql/15/bin")
STARTUP_SECONDS = 90.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _log_tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class MLflowServer:
    """One ``mlflow server`` process; ``start()`` again after ``stop()`` reuses its store and port."""

    #: Extra arguments of ``mlflow server`` and extra environment (the basic-auth server sets them).
    extra_args: tuple[str, ...] = ()
    extra_env: dict[str, str] = {}  # noqa: RUF012  (class default, replaced per instance)

    def __init__(self, backend_store_uri: str, folder: Path) -> None:
        self.backend_store_uri = backend_store_uri
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "mlflow-server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server and wait for /health; fail with the server log if it does not answer."""
        env = {
            **os.environ,
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            **self.extra_env,
        }
        for var in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            env.pop(var, None)
        command = [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--backend-store-uri",
            self.backend_store_uri,
            "--artifacts-destination",
            str(self.folder / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
            *self.extra_args,
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        pytest.fail(
            f"mlflow server on {self.url} did not start ({self.backend_store_uri}):\n{_log_tail(self.log)}"
        )

    def stop(self) -> None:
        """Stop the server and every process of its group."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):  # children that outlived the parent
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process = None


class MLflowAuthServer(MLflowServer):
    """``mlflow server --app-name basic-auth``: users, passwords and permissions in its own sqlite database.

    The admin (``admin`` / ``admin_password``) is created from ``basic_auth.ini`` at first start;
    new users get ``default_permission`` (READ) on resources they did not create.
    """

    admin = "admin"
    admin_password = "admin-password-for-tests"

    def __init__(self, backend_store_uri: str, folder: Path) -> None:
        super().__init__(backend_store_uri, folder)
        config = folder / "basic_auth.ini"
        config.write_text(
            "[mlflow]\n"
            "default_permission = READ\n"
            f"database_uri = sqlite:///{folder / 'basic_auth.db'}\n"
            f"admin_username = {self.admin}\n"
            f"admin_password = {self.admin_password}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        )
        self.extra_args = ("--app-name", "basic-auth")
        self.extra_env = {
            "MLFLOW_AUTH_CONFIG_PATH": str(config),
            "MLFLOW_FLASK_SERVER_SECRET_KEY": "opskit-tests-csrf-key",
        }

    def _admin_call(self, path: str, body: dict[str, str]) -> None:
        import base64
        import json

        token = base64.b64encode(f"{self.admin}:{self.admin_password}".encode()).decode()
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200, answer.read()

    def experiment_id(self, name: str) -> str:
        """The id of the experiment *name* (REST, as the admin)."""
        import base64
        import json
        import urllib.parse

        token = base64.b64encode(f"{self.admin}:{self.admin_password}".encode()).decode()
        query = urllib.parse.urlencode({"experiment_name": name})
        request = urllib.request.Request(
            f"{self.url}/api/2.0/mlflow/experiments/get-by-name?{query}",
            headers={"Authorization": f"Basic {token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return str(json.loads(answer.read())["experiment"]["experiment_id"])

    def create_user(self, username: str, password: str) -> None:
        """Create a user (REST ``/api/2.0/mlflow/users/create``, as the admin)."""
        self._admin_call(
            "/api/2.0/mlflow/users/create", {"username": username, "password": password}
        )

    def grant(self, username: str, resource_type: str, resource_id: str, permission: str) -> None:
        """Give *username* *permission* (READ, EDIT, MANAGE) on a registered model or experiment, as the admin."""
        self._admin_call(
            "/api/3.0/mlflow/users/permissions/grant",
            {
                "username": username,
                "resource_type": resource_type,
                "resource_id": resource_id,
                "permission": permission,
            },
        )


@frozen
class Postgres:
    """A running PostgreSQL cluster."""

    port: int
    url: str


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MLflowServer]:
    """An MLflow tracking server with a sqlite backend store and a local artifact root."""
    folder = tmp_path_factory.mktemp("mlflow-sqlite")
    server = MLflowServer(f"sqlite:///{folder / 'mlflow.db'}", folder)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mlflow_auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MLflowAuthServer]:
    """An MLflow tracking server with its basic-auth app (admin user from its basic_auth.ini)."""
    folder = tmp_path_factory.mktemp("mlflow-auth")
    server = MLflowAuthServer(f"sqlite:///{folder / 'mlflow.db'}", folder)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL 15 cluster from the Debian binaries, data under /tmp, run as the postgres user."""
    if not (PGBIN / "initdb").exists():
        pytest.fail(
            f"PostgreSQL binaries are missing ({PGBIN}); install them: apt-get install -y postgresql-15"
        )
    folder = Path(tempfile.mkdtemp(prefix="opskit-pg."))
    shutil.chown(folder, "postgres", "postgres")
    port = free_port()

    # runuser lives in /usr/sbin, which a bare PATH (.ci/run: the venv and /usr/bin:/bin) does not hold.
    runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
    if runuser is None:
        pytest.fail(
            "runuser is missing (util-linux): the PostgreSQL tests start the server as the postgres user"
        )

    def pg(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [runuser, "-u", "postgres", "--", *args], capture_output=True, text=True, check=False
        )

    steps = [
        (
            str(PGBIN / "initdb"),
            "-D",
            f"{folder}/data",
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ),
        (
            str(PGBIN / "pg_ctl"),
            "-D",
            f"{folder}/data",
            "-l",
            f"{folder}/pg.log",
            "-w",
            "-o",
            f"-k {folder} -p {port} -h 127.0.0.1 -c fsync=off",
            "start",
        ),
        (str(PGBIN / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "mlflow"),
    ]
    for step in steps:
        done = pg(*step)
        if done.returncode != 0:
            pg(str(PGBIN / "pg_ctl"), "-D", f"{folder}/data", "-m", "immediate", "-w", "stop")
            pytest.fail(
                f"PostgreSQL step {step[0]} failed:\n{done.stdout}\n{done.stderr}\n{_log_tail(folder / 'pg.log')}"
            )
    yield Postgres(port, f"postgresql+psycopg://postgres@127.0.0.1:{port}/mlflow")
    pg(str(PGBIN / "pg_ctl"), "-D", f"{folder}/data", "-m", "fast", "-w", "stop")
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def mlflow_server_pg(
    postgres: Postgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MLflowServer]:
    """An MLflow tracking server whose backend store is the PostgreSQL fixture's database."""
    server = MLflowServer(postgres.url, tmp_path_factory.mktemp("mlflow-pg"))
    server.start()
    yield server
    server.stop()
