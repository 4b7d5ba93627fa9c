"""Developer tasks: ``nox -s tests``, ``nox -s demo``, ``nox -s lint``, ``nox -s typecheck``, ``nox -s bench``."""

from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "typecheck", "tests"]

PYPROJECT = nox.project.load_toml("pyproject.toml")
ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONHASHSEED": "0"}


def _install(session: nox.Session, *groups: str, extras: str = "") -> None:
    session.install("-e", f".{extras}")
    for group in groups:
        session.install(*nox.project.dependency_groups(PYPROJECT, group))


@nox.session
def tests(session: nox.Session) -> None:
    """Run the whole test suite (the MLflow tracker's tests start real MLflow and PostgreSQL servers)."""
    _install(session, "test", "test-mlflow")
    session.install("-e", "plugins/opskit-mlflow")
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
    """Ruff: lint and import order."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", "src", "tests", "bench", "examples", "noxfile.py", "plugins")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on src/ and on the plugins' packages."""
    _install(session, "typecheck", "test-mlflow")
    session.install("-e", "plugins/opskit-mlflow")
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """Measure opskit side by side with MLflow and print ratios."""
    _install(session, "bench")
    session.install("-e", "plugins/opskit-mlflow")
    session.run("python", "bench/run.py", *session.posargs, env=ENV)
