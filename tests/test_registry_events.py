"""Registry events: every change of the registry or of a deployment is one event, in the same transaction."""

from __future__ import annotations

import json
import sqlite3
import textwrap
from pathlib import Path
from typing import Any

import attrs
import pytest

import opskit
from conftest import run_python
from opskit.plugins import get_plugin_manager
from opskit.registry.events import alias_change_of, version_of
from opskit.serialize import to_plain
from opskit.tracker.sqlite import SQLiteTracker
from opskit.tracker.sqlite.schema import MIGRATIONS

pytestmark = pytest.mark.trackers("local", "mlflow")


class EchoTarget:
    """A target that records a deployment and serves nothing."""

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
        return "stopped" if deployment.state == "stopped" else "echoed"

    def stop(self, deployment: opskit.Deployment) -> None:
        pass

    def logs(self, deployment: opskit.Deployment) -> str:
        return ""


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    @opskit.hookimpl
    def register_targets(self, register: Any) -> None:
        register("echo", lambda config: EchoTarget())

    @opskit.hookimpl
    def after_model_registered(self, version: opskit.ModelVersion) -> None:
        self.calls.append(("version", version.ref))

    @opskit.hookimpl
    def after_alias_changed(self, change: opskit.AliasChange) -> None:
        self.calls.append(("alias", (change.alias, change.previous_version, change.version)))

    @opskit.hookimpl
    def after_deploy(self, deployment: opskit.Deployment) -> None:
        self.calls.append(("deploy", deployment.name))

    @opskit.hookimpl
    def after_deployment_stopped(self, deployment: opskit.Deployment) -> None:
        self.calls.append(("stopped", deployment.name))


@pytest.fixture
def recorder() -> Any:
    plugin = Recorder()
    get_plugin_manager().register(plugin, name="events-recorder")
    yield plugin
    get_plugin_manager().unregister(name="events-recorder")


def test_every_sdk_change_is_one_event_and_its_hook_fires_from_it(recorder: Recorder) -> None:
    """Train with alias, move/re-set/delete the alias, deploy, stop, redeploy: one event each, hooks in the same order."""

    @opskit.train(model="m", alias="prod")
    def fit(seed: int) -> dict[str, int]:
        return {"seed": seed}

    fit(1)
    run = opskit.last_run()
    assert run is not None
    fit(2)
    opskit.models.set_alias("m", "prod", 1)
    opskit.models.set_alias("m", "prod", 1)  # already there: no event, no hook
    opskit.models.delete_alias("m", "prod")
    first = opskit.deploy("m:1", target="echo", name="web")
    opskit.deployments.stop("web")
    opskit.deployments.stop("web")  # recorded as stopped already: no event, no hook
    opskit.deploy("m:2", target="echo", name="web")
    found = opskit.models.events()
    assert [(e.kind, e.subject) for e in found] == [
        ("version_registered", "m:1"),
        ("alias_set", "m@prod"),
        ("version_registered", "m:2"),
        ("alias_moved", "m@prod"),
        ("alias_moved", "m@prod"),
        ("alias_removed", "m@prod"),
        ("deployment_created", "web"),
        ("deployment_stopped", "web"),
        ("deployment_switched", "web"),
    ]
    assert found[0].run_id == run.id and found[0].user is not None
    assert [(e.before, e.after) for e in found[3:6]] == [
        ({"version": 1}, {"version": 2}),
        ({"version": 2}, {"version": 1}),
        ({"version": 1}, None),
    ]
    assert (
        found[7].before == found[6].after
        and found[7].after is not None
        and found[7].after["state"] == "stopped"
    )
    assert (
        found[8].before == found[7].after
        and found[8].after is not None
        and found[8].after["refs"] == ["m:2"]
    )
    assert found[6].after == to_plain(first)
    kind_of = {
        "version_registered": "version",
        "alias_set": "alias",
        "alias_moved": "alias",
        "alias_removed": "alias",
        "deployment_created": "deploy",
        "deployment_switched": "deploy",
        "deployment_stopped": "stopped",
    }
    assert [name for name, _ in recorder.calls] == [kind_of[e.kind] for e in found]
    assert recorder.calls[1] == ("alias", ("prod", None, 1)) and recorder.calls[5] == (
        "alias",
        ("prod", 1, None),
    )
    assert [e.kind for e in opskit.models.events("m")] == [
        e.kind for e in found[:6]
    ]  # deployments belong to no model
    assert opskit.models.events(since=found[5].id, kinds=["deployment_stopped"]) == [found[7]]
    assert [(c.version, c.previous_version) for c in opskit.models.history("m", "prod")] == [
        (1, None),
        (2, 1),
        (1, 2),
        (None, 1),
    ]
    with pytest.raises(opskit.InvalidValue, match="no_such_kind"):
        opskit.models.events(kinds=["no_such_kind"])  # type: ignore[list-item]


_DIE = """
import os
import opskit
from opskit.plugins import get_plugin_manager

class EchoTarget:
    name = "echo"
    def deploy(self, spec):
        return opskit.Deployment(name=spec.name, target="echo", url=None, refs=tuple(spec.variants), weights=spec.variants)
    def status(self, deployment):
        return "echoed"
    def stop(self, deployment):
        pass
    def logs(self, deployment):
        return ""

class Die:
    @opskit.hookimpl
    def register_targets(self, register):
        register("echo", lambda config: EchoTarget())

    @opskit.hookimpl
    def {hook}(self):
        os._exit(17)  # killed after the tracker call returned, before any other hook ran

get_plugin_manager().register(Die())
{change}
raise SystemExit("the hook did not fire")
"""


@pytest.mark.parametrize(
    ("hook", "change", "kind"),
    [
        (
            "after_model_registered",
            "opskit.models.register({'w': 1}, 'm', alias='prod')",
            "version_registered",
        ),
        ("after_alias_changed", "opskit.models.set_alias('m', 'prod', 1)", "alias_moved"),
        ("after_alias_changed", "opskit.models.delete_alias('m', 'prod')", "alias_removed"),
        (
            "after_deploy",
            "opskit.deploy('m@prod', target='echo', name='web')",
            "deployment_created",
        ),
    ],
)
def test_an_event_survives_a_process_killed_before_its_hook(
    hook: str, change: str, kind: str
) -> None:
    """A process killed (os._exit) after the change and before its hook leaves the change and its one event."""
    opskit.models.register({"w": 0}, "m")
    opskit.models.register({"w": 1}, "m", alias="prod")
    before = opskit.models.events()
    done = run_python(textwrap.dedent(_DIE).format(hook=hook, change=change), check=False)
    assert done.returncode == 17, done.stderr
    opskit.reset_defaults()
    after = opskit.models.events()
    assert after[: len(before)] == before
    new = after[len(before) :]
    assert [e.kind for e in new] == [kind]
    if kind == "version_registered":
        assert version_of(new[0]) == opskit.models.get_version("m:3")
        assert opskit.models.get("m").aliases == {
            "prod": 2
        }  # the alias move after the hook never ran
    elif kind == "alias_moved":
        assert (alias_change_of(new[0]).previous_version, alias_change_of(new[0]).version) == (2, 1)
        assert opskit.models.get("m").aliases == {"prod": 1}
    elif kind == "alias_removed":
        assert (alias_change_of(new[0]).previous_version, alias_change_of(new[0]).version) == (
            2,
            None,
        )
        assert opskit.models.get("m").aliases == {}
    else:
        assert new[0].after is not None and new[0].after["name"] == "web"
        assert [d.name for d in opskit.deployments.list()] == ["web"]


def _old_store(path: Path) -> None:
    """A schema-2 store exactly as the previous opskit wrote it, with versions and alias moves."""
    with sqlite3.connect(path) as conn:
        for script in MIGRATIONS[:2]:
            conn.executescript(script)
        conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '2')")
        conn.execute("INSERT INTO models (name, created_at) VALUES ('m', 100.0)")
        signature = json.dumps(
            {"columns": [{"name": "x", "type": "float64"}], "kind": "table", "shape": None}
        )
        conn.executemany(
            "INSERT INTO model_versions (name, version, digest, size_bytes, flavor, run_id, created_at, signature, metadata) "
            "VALUES ('m', ?, ?, 10, 'cloudpickle', ?, ?, ?, ?)",
            [
                (1, "sha256:" + "1" * 64, "r1", 100.0, signature, '{"a": 1}'),
                (2, "sha256:" + "2" * 64, None, 200.0, None, "{}"),
            ],
        )
        conn.execute("INSERT INTO aliases (name, alias, version) VALUES ('m', 'staging', 1)")
        conn.executemany(
            "INSERT INTO alias_history (name, alias, version, previous_version, changed_at, user) VALUES ('m', ?, ?, ?, ?, ?)",
            [
                ("prod", 1, None, 150.0, "alice"),
                ("prod", 2, 1, 250.0, "bob"),
                ("staging", 1, None, 260.0, None),
                ("prod", None, 2, 300.0, "carol"),
            ],
        )


@pytest.mark.trackers("local")  # the schema migration is the local tracker's
def test_a_previous_schema_store_is_migrated_into_events(tmp_path: Path, tracker: str) -> None:
    """Opening a schema-2 store turns its versions and alias_history into events, in time order; history reads them."""
    path = tmp_path / "old.db"
    _old_store(path)
    store = SQLiteTracker(path)
    found = store.events()
    assert [
        (
            e.kind,
            e.subject,
            e.before,
            e.after if e.kind != "version_registered" else None,
            e.time,
            e.user,
        )
        for e in found
    ] == [
        ("version_registered", "m:1", None, None, 100.0, None),
        ("alias_set", "m@prod", None, {"version": 1}, 150.0, "alice"),
        ("version_registered", "m:2", None, None, 200.0, None),
        ("alias_moved", "m@prod", {"version": 1}, {"version": 2}, 250.0, "bob"),
        ("alias_set", "m@staging", None, {"version": 1}, 260.0, None),
        ("alias_removed", "m@prod", {"version": 2}, None, 300.0, "carol"),
    ]
    versions = store.get_model("m").versions
    assert [version_of(e) for e in found if e.kind == "version_registered"] == [
        attrs.evolve(v, aliases=()) for v in versions
    ]
    assert versions[0].signature is not None and versions[0].metadata == {"a": 1}
    assert found[0].run_id == "r1" and [e.id for e in found] == list(range(1, 7))
    assert [(c.alias, c.version, c.previous_version, c.user) for c in store.alias_history("m")] == [
        ("prod", 1, None, "alice"),
        ("prod", 2, 1, "bob"),
        ("staging", 1, None, None),
        ("prod", None, 2, "carol"),
    ]
    store.set_alias("m", "prod", 2, user="dave")
    assert [e.kind for e in store.events(since=found[-1].id)] == ["alias_set"]
    with sqlite3.connect(path) as conn:
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
    assert "alias_history" not in tables and "registry_events" in tables
    store.close()


def test_the_cli_lists_the_events(capsys: pytest.CaptureFixture[str]) -> None:
    """`opskit models events NAME` prints one row per event; --kind filters; --json gives the records."""
    from opskit.cli.main import main

    opskit.models.register({"w": 1}, "m", alias="prod")
    opskit.models.register({"w": 2}, "m")
    opskit.models.set_alias("m", "prod", 2)
    assert main(["models", "events", "m"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert [r.split()[3] for r in rows if r.strip() and not r.startswith("-")] == [
        "version_registered",
        "alias_set",
        "version_registered",
        "alias_moved",
    ]
    assert main(["--json", "models", "events", "m", "--kind", "alias_moved"]) == 0
    (moved,) = json.loads(capsys.readouterr().out)
    assert (moved["kind"], moved["before"], moved["after"]) == (
        "alias_moved",
        {"version": 1},
        {"version": 2},
    )
