"""Many processes on one store; crashed processes; the CLI as a real console script."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import opskit
from conftest import run_python
from opskit._backends import get_storage


def _worker(home: str, worker: int, runs: int) -> None:
    os.environ["OPSKIT_HOME"] = home
    import opskit as ok

    @ok.track(name=f"worker-{worker}")
    def job(i: int, worker: int) -> None:
        for step in range(5):
            ok.log_metric("loss", 1.0 / (step + 1 + i))
        ok.log_metric("final", float(i))

    for i in range(runs):
        job(i, worker)


def test_four_processes_fifty_runs_each(store: Path) -> None:
    """4 processes × 50 decorated runs into one store: all 200 runs and all 1,200 metric points arrive."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(str(store), w, 50)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    runs = opskit.search_runs(limit=1000)
    assert len(runs) == 200
    assert {r.status for r in runs} == {"FINISHED"}
    assert sorted((r.params["worker"], r.params["i"]) for r in runs) == [(w, i) for w in range(4) for i in range(50)]
    assert all(r.metrics["final"] == float(r.params["i"]) for r in runs)
    assert all(len(r.metric_history("loss")) == 5 for r in runs[:20])


def test_a_run_whose_process_died_is_marked_killed(store: Path) -> None:
    """A process killed mid-run (os._exit) leaves a run that reads back as KILLED, not RUNNING."""
    out = run_python(
        textwrap.dedent(
            """
            import os, opskit
            run = opskit.start_run(name="doomed")
            opskit.log_metric("progress", 0.5)
            opskit.active_run().tracker.flush()
            print(run.id, flush=True)
            os._exit(3)
            """
        ),
        check=False,
    )
    assert out.returncode == 3
    run = opskit.get_run(out.stdout.strip())
    assert run.status == "KILLED"
    assert "ended without finishing" in (run.error or "")
    assert run.metrics == {"progress": 0.5}


def _cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("opskit", path=os.path.dirname(sys.executable)) or "opskit"
    done = subprocess.run([exe, *args], capture_output=True, text=True, timeout=120, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"opskit {' '.join(args)} failed: {done.stdout}\n{done.stderr}")
    return done


@pytest.fixture
def trained() -> str:
    @opskit.train(model="cli-model", alias="staging")
    def train(alpha: float = 0.5) -> dict[str, float]:
        opskit.log_metric("r2", 1 - alpha)
        return {"alpha": alpha}

    train(alpha=0.25)
    train(alpha=0.75)
    run = opskit.last_run()
    assert run is not None
    return run.id


def test_cli_runs_and_models(trained: str) -> None:
    """`opskit runs|models` print tables and JSON for what the API stored."""
    table = _cli("runs", "list").stdout
    assert "cli-model:2" in table and "FINISHED" in table and "r2=0.25" in table
    listed = json.loads(_cli("runs", "list", "--json", "-f", "metrics.r2 > 0.5").stdout)
    assert [r["params"]["alpha"] for r in listed] == [0.25]
    shown = _cli("runs", "show", trained[:10]).stdout
    assert trained in shown and "alpha=0.75" in shown
    assert json.loads(_cli("runs", "show", trained, "--json").stdout)["id"] == trained
    assert "staging→2" in _cli("models", "list").stdout
    model = json.loads(_cli("models", "show", "cli-model", "--json").stdout)
    assert [v["version"] for v in model["versions"]] == [1, 2]
    assert _cli("models", "set-alias", "cli-model", "staging", "1").stdout.strip() == "cli-model@staging: 2 → 1"
    assert opskit.models.get("cli-model").aliases == {"staging": 1}


def test_cli_errors_are_clear_and_exit_2() -> None:
    """Unknown models and bad filters print one error line to stderr with exit status 2."""
    with opskit.start_run():  # a store to look in (without one every command says there is none)
        pass
    done = _cli("models", "show", "nope", check=False)
    assert done.returncode == 2 and "opskit: error:" in done.stderr and "nope" in done.stderr
    done = _cli("runs", "list", "-f", "metrics.x >", check=False)
    assert done.returncode == 2 and "filter" in done.stderr.lower()
    done = _cli("runs", "show", "ab'c", check=False)
    assert done.returncode == 2 and "not a run id" in done.stderr


def test_cli_plugins_lists_builtins_and_active_backends() -> None:
    """`opskit plugins` shows the built-in plugins, backends and active tracker/storage."""
    data = json.loads(_cli("plugins", "--json").stdout)
    assert {p["name"] for p in data["plugins"]} >= {"opskit.builtins.local_tracker", "opskit.builtins.serializers"}
    assert data["active"]["tracker"] == "local" and data["active"]["storage"] == "local"
    assert "active tracker: local" in _cli("plugins").stdout


def test_doctor_finds_and_repairs(trained: str, store: Path) -> None:
    """doctor passes on a healthy store, fails on a tampered blob, and repairs old orphans."""
    assert "store is healthy" in _cli("doctor").stdout
    version = opskit.models.get_version("cli-model:1")
    blob = store / "blobs" / "sha256" / version.digest[7:9] / version.digest[9:]
    blob.chmod(0o644)
    original = blob.read_bytes()
    blob.write_bytes(original + b"!")
    done = _cli("doctor", check=False)
    assert done.returncode == 1 and "do not match their digest" in done.stdout
    blob.write_bytes(original)
    orphan = get_storage().put_bytes(b"nobody points at me")
    path = store / "blobs" / "sha256" / orphan.digest[7:9] / orphan.digest[9:]
    os.utime(path, (1, 1))
    report = json.loads(_cli("doctor", "--repair", "--json").stdout)
    assert report["ok"] is True
    assert not path.exists() and blob.exists()
