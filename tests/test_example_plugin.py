"""plugins/opskit-example, installed as a real distribution, is selected by name with unchanged training code."""

from __future__ import annotations

import json
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

import opskit
from conftest import run_python
from opskit._backends import get_storage
from opskit.plugins import get_registry

TRAINING = textwrap.dedent(
    """
    import opskit

    @opskit.train(model="example-model", alias="staging")
    def train(k=2):
        return {"k": k}

    train(k=5)
    print(opskit.load_model("example-model@staging"))
    """
)


@pytest.fixture(autouse=True)
def _installed() -> None:
    """The plugin must be installed (nox installs it; by hand: pip install -e plugins/opskit-example)."""
    try:
        metadata.distribution("opskit-example")
    except metadata.PackageNotFoundError:
        pytest.fail("opskit-example is not installed: pip install -e plugins/opskit-example")


def test_storage_selected_by_url_with_unchanged_training_code(tmp_path: Path) -> None:
    """OPSKIT_STORAGE=example://… sends the model blob to the plugin's folder, listed in its index."""
    folder = tmp_path / "example-blobs"
    out = run_python(TRAINING, env={"OPSKIT_STORAGE": f"example://{folder}"})
    assert out.stdout.strip() == "{'k': 5}"
    index = json.loads((folder / "index.json").read_text())
    assert len(index) == 3  # the model, and the function stored by value (pickle + note)
    assert not (Path(opskit.get_config().home) / "blobs").exists()


def test_storage_selected_by_name(tmp_path: Path) -> None:
    """OPSKIT_STORAGE=example picks the plugin by its backend name."""
    opskit.configure(storage="example")
    storage = get_storage()
    assert storage.name == "example"
    blob = storage.put_bytes(b"by name")
    assert storage.get_bytes(blob.digest) == b"by name"
    assert list(storage.iter_digests()) == [blob.digest]


def test_plugins_command_lists_the_distribution_and_its_backends() -> None:
    """`opskit plugins --json` shows the entry point, its distribution, hooks and backends."""
    out = run_python("from opskit.cli.main import main\nmain(['plugins', '--json'])")
    listing = json.loads(out.stdout)
    plugin = next(p for p in listing["plugins"] if p["name"] == "example")
    assert plugin["distribution"] == "opskit-example 0.1.0" and not plugin["builtin"]
    assert plugin["hooks"] == ["register_storages", "register_targets"]
    assert "example" in listing["backends"]["storage"] and "print" in listing["backends"]["target"]


def test_print_target_deploys_through_opskit_deploy() -> None:
    """The plugin's `print` target implements the Target protocol and works through opskit.deploy by name."""
    from opskit.deployments.target import Target

    @opskit.train(model="example-model", alias="staging")
    def train() -> dict[str, int]:
        return {"w": 1}

    train()
    target = get_registry().get("target", "print").factory(opskit.get_config())
    assert isinstance(target, Target)
    deployment = opskit.deploy("example-model@staging", target="print", name="printed", replicas=2)
    assert (deployment.target, deployment.refs, deployment.state) == (
        "print",
        ("example-model@staging",),
        "printed",
    )
    assert [d.name for d in opskit.deployments.list()] == ["printed"]


def test_print_target_reports_stopped_after_opskit_stops_it() -> None:
    """opskit makes a new target per call: after `opskit.deployments.stop`, status() says stopped, from the record."""

    @opskit.train(model="example-model", alias="staging")
    def train() -> dict[str, int]:
        return {"w": 1}

    train()
    opskit.deploy("example-model@staging", target="print", name="printed")
    assert opskit.deployments.get("printed").status() == "printed"
    opskit.deployments.stop("printed")
    assert opskit.deployments.get("printed").status() == "stopped"
