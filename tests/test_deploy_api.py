"""opskit.deploy input checks: each mistake is an OpskitError that says what to do, and starts nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sklearn.datasets import load_wine
from sklearn.tree import DecisionTreeClassifier

import opskit


@pytest.fixture
def wine_model() -> None:
    """One registered model, wine:1 with alias production."""
    X, y = load_wine(return_X_y=True, as_frame=True)

    @opskit.train(model="wine", alias="production")
    def fit(X, y):  # type: ignore[no-untyped-def]
        return DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)

    fit(X, y)


@pytest.mark.usefixtures("wine_model")
def test_deploy_rejects_bad_requests_before_starting_anything(tmp_path: Path) -> None:
    """Unknown models, targets, options, weights and a missing docker path fail early and record nothing."""
    with pytest.raises(opskit.ModelNotFound):
        opskit.deploy("wine@nope")
    with pytest.raises(opskit.InvalidModelRef):
        opskit.deploy("wine@@x")
    with pytest.raises(opskit.UnknownBackend, match="docker, local"):
        opskit.deploy("wine", target="kubernetes")
    with pytest.raises(opskit.DeploymentError, match="unknown option"):
        opskit.deploy("wine", batchsize=3)
    with pytest.raises(opskit.DeploymentError, match="weight"):
        opskit.deploy({"wine@production": -1})
    with pytest.raises(opskit.DeploymentError, match="at least one"):
        opskit.deploy({"wine@production": 0})
    with pytest.raises(opskit.DeploymentError, match="path=DIR"):
        opskit.deploy("wine", target="docker")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(opskit.DeploymentError, match="not empty"):
        opskit.deploy("wine", target="docker", path=tmp_path / "full")
    with pytest.raises(opskit.InvalidName):
        opskit.deploy("wine", target="docker", name="a b", path=tmp_path / "ctx")
    assert opskit.deployments.list() == []
    with pytest.raises(opskit.DeploymentNotFound, match="opskit deployments list"):
        opskit.deployments.get("wine")


def test_targets_are_plugins() -> None:
    """The built-in targets are registered through register_targets like any plugin's."""
    from opskit.plugins import get_registry

    registry = get_registry()
    assert {"docker", "local"} <= set(registry.names("target"))
    assert registry.get("target", "local").plugin == "opskit.builtins.local_target"
    assert registry.get("target", "docker").plugin == "opskit.builtins.docker_target"


class EchoTarget:
    """The target of docs/plugins.md: records a deployment, serves nothing."""

    name = "echo"

    def deploy(self, spec: opskit.deployments.DeploymentSpec) -> opskit.Deployment:
        return opskit.Deployment(
            name=spec.name,
            target="echo",
            url=None,
            refs=tuple(spec.variants),
            weights=spec.variants,
            state="echoed",
        )

    def status(self, deployment: opskit.Deployment) -> str:
        return "echoed"

    def stop(self, deployment: opskit.Deployment) -> None:
        self.stopped = deployment.name

    def logs(self, deployment: opskit.Deployment) -> str:
        return "echo log"


class EchoPlugin:
    def __init__(self) -> None:
        self.deployed: list[opskit.Deployment] = []
        self.stopped: list[opskit.Deployment] = []

    @opskit.hookimpl
    def register_targets(self, register: Any) -> None:
        register("echo", lambda config: EchoTarget())

    @opskit.hookimpl
    def after_deploy(self, deployment: opskit.Deployment) -> None:
        self.deployed.append(deployment)

    @opskit.hookimpl
    def after_deployment_stopped(self, deployment: opskit.Deployment) -> None:
        self.stopped.append(deployment)


@pytest.mark.usefixtures("wine_model")
def test_a_plugin_target_deploys_and_is_recorded() -> None:
    """A third-party target gets the spec; opskit records its Deployment, fires after_deploy, routes status/logs/stop to it."""
    from opskit.plugins import create_plugin_manager, set_plugin_manager

    pm = create_plugin_manager(load_entrypoints=False)
    plugin = EchoPlugin()
    pm.register(plugin)
    set_plugin_manager(pm)
    dep = opskit.deploy({"wine@production": 3, "wine:1": 1}, target="echo", name="e")
    assert plugin.deployed == [dep]  # after_deploy saw the stored record
    assert dep.weights == {"wine@production": 0.75, "wine:1": 0.25}
    assert [d.name for d in opskit.deployments.list()] == ["e"]
    assert isinstance(EchoTarget(), opskit.deployments.Target)
    again = opskit.deployments.get("e")
    assert (again.target, again.refs, again.status(), again.logs()) == (
        "echo",
        ("wine@production", "wine:1"),
        "echoed",
        "echo log",
    )
    stopped = opskit.deployments.stop("e")
    assert stopped.state == "stopped"
    assert plugin.stopped == [stopped]  # after_deployment_stopped saw the stored record
    assert opskit.deployments.stop("e") == stopped and plugin.stopped == [
        stopped
    ]  # already stopped: no change, no hook
    with pytest.raises(opskit.DeploymentError, match="no URL"):
        again.predict([{"a": 1}])


PROJECT_MODULE = '''
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin


class Doubler(BaseEstimator, TransformerMixin):
    """A transformer defined in the user's own project module (pickled by reference)."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.asarray(X, dtype=float) * 2.0
'''

PROJECT_SCRIPT = """
import opskit
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from features import Doubler

X, y = load_wine(return_X_y=True, as_frame=True)
model = make_pipeline(Doubler(), LogisticRegression(max_iter=2000)).fit(X, y)
opskit.models.register(model, name="projwine", signature=X)
dep = opskit.deploy("projwine", name="projwine")
try:
    served = list(dep.predict(X.head(5)))
    print("served", [int(v) for v in served], "local", [int(v) for v in model.predict(X.head(5))])
finally:
    opskit.deployments.stop("projwine")
"""


def test_a_model_using_a_project_module_is_served(tmp_path: Path) -> None:
    """A model whose class lives in a module of the user's project loads in the model server."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "features.py").write_text(PROJECT_MODULE)
    (project / "train.py").write_text(PROJECT_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH"}}
    env["OPSKIT_HOME"] = str(tmp_path / "store")
    out = subprocess.run(
        [sys.executable, "train.py"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    served, local = out.stdout.split("served", 1)[1].split("local")
    assert served.strip() == local.strip()
