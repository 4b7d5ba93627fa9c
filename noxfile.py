"""Developer tasks: ``nox -s tests``, ``nox -s demo``, ``nox -s lint``, ``nox -s typecheck``, ``nox -s bench``."""

from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "typecheck", "tests"]

PYPROJECT = nox.project.load_toml("pyproject.toml")
ENV = {"MLFLOW_DISABLE_TELEMETRY": "true"}
LINTED = ("src", "tests", "bench", "examples", "plugins", "noxfile.py")


def _install(session: nox.Session, *groups: str, extras: str = "") -> None:
    session.install("-e", f".{extras}")
    for group in groups:
        session.install(*nox.project.dependency_groups(PYPROJECT, group))


@nox.session
def tests(session: nox.Session) -> None:
    """Run the whole test suite, after ruff and mypy (CI runs exactly this session)."""
    _install(session, "test", "lint", "typecheck", extras="[serve]")
    session.install("-e", "plugins/opskit-example")  # the example plugin, installed as a real distribution
    if not session.posargs:  # a selection (`nox -s tests -- -k name`) skips the static checks
        session.run("ruff", "check", *LINTED)
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
    """Ruff: lint and import order."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", *LINTED)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on src/."""
    _install(session, "typecheck")
    session.run("mypy")


#: Self-contained side-by-side benchmarks run after ``bench/run.py`` (each prints its own ratios).
EXTRA_BENCHMARKS = ("serving",)


@nox.session
def bench(session: nox.Session) -> None:
    """Measure opskit side by side with MLflow and print ratios (`-- --quick` for a smoke run)."""
    _install(session, "bench", extras="[serve]")
    session.run("python", "bench/run.py", *session.posargs, env=ENV)
    if not session.posargs:
        for name in EXTRA_BENCHMARKS:
            session.run("python", f"bench/{name}.py", env=ENV)
