"""Many processes on one store; crashed processes; the CLI as a real console script."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
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
    assert sorted((r.params["worker"], r.params["i"]) for r in runs) == [
        (w, i) for w in range(4) for i in range(50)
    ]
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
    assert (
        _cli("models", "set-alias", "cli-model", "staging", "1").stdout.strip()
        == "cli-model@staging: 2 → 1"
    )
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
    assert {p["name"] for p in data["plugins"]} >= {
        "opskit.builtins.local_tracker",
        "opskit.builtins.serializers",
    }
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


# -- nothing a log_* call accepted is lost, whatever ends the process (issue 8) -----------------

_UNENDED = """
import os, sys, opskit
run = opskit.start_run(name="eda")
opskit.log_params({"lr": 0.1, "layers": [64, 32]})
for step in range(3):
    opskit.log_metric("loss", 1.0 / (step + 1))
opskit.set_tag("phase", "eda")
print(run.id, flush=True)
"""

_ENDINGS = {
    "normal exit": ("", 0, "FINISHED", None),
    "sys.exit(0)": ("sys.exit(0)", 0, "FINISHED", None),
    "sys.exit(3)": ("sys.exit(3)", 3, "FAILED", "sys.exit(3)"),
    "uncaught exception": ("raise ValueError('bad fold')", 1, "FAILED", "ValueError: bad fold"),
    "KeyboardInterrupt": ("raise KeyboardInterrupt", -signal.SIGINT, "KILLED", "KeyboardInterrupt"),
}


def _assert_all_points(run_id: str) -> opskit.Run:
    run = opskit.get_run(run_id)
    assert run.params == {"lr": 0.1, "layers": [64, 32]}
    assert run.tags == {"phase": "eda"}
    assert run.metrics == {"loss": pytest.approx(1 / 3)}
    assert [(p.step, p.value) for p in run.metric_history("loss")] == [
        (0, 1.0),
        (1, 0.5),
        (2, pytest.approx(1 / 3)),
    ]
    return run


@pytest.mark.parametrize("ending", list(_ENDINGS))
def test_a_run_never_ended_keeps_everything_and_gets_an_honest_status(ending: str) -> None:
    """A start_run() never ended keeps its params, metrics and tags; normal exit/sys.exit/exception set its status."""
    tail, code, status, error = _ENDINGS[ending]
    done = run_python(_UNENDED + tail + "\n", check=False)
    assert done.returncode == code, done.stderr
    run = _assert_all_points(done.stdout.split()[0])
    assert run.status == status
    assert run.ended_at is not None
    if error is None:
        assert run.error is None
    else:
        assert error in (run.error or "")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_terminating_signal_writes_everything_and_marks_the_run_killed(
    sig: signal.Signals,
) -> None:
    """SIGTERM/SIGHUP (and SIGINT with its default disposition) write every point; the run ends KILLED by that signal."""
    # The signal's default disposition, as in a process started from a terminal: a process
    # started in the background of a shell ignores SIGINT, and one under `nohup` SIGHUP
    # (opskit leaves an ignored signal ignored, so the process would not die of it).
    code = f"import signal\nsignal.signal({int(sig)}, signal.SIG_DFL)\n" + _UNENDED
    code += "import signal\n"
    # The program keeps running Python code, as a training loop does. (CPython runs a Python
    # signal handler only between bytecodes: a signal that lands just before the main thread
    # enters a blocking call such as sys.stdin.read() waits until that call returns.)
    code += "import time\nwhile True:\n    time.sleep(0.01)\n"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == -sig  # it still dies of the signal
    proc.stdin.close()  # type: ignore[union-attr]
    proc.stdout.close()
    run = _assert_all_points(run_id)
    assert run.status == "KILLED"
    assert sig.name in (run.error or "")


def test_a_signal_handler_of_the_program_still_decides() -> None:
    """A SIGTERM handler installed by the program is called (buffers written first); a graceful exit finishes the run."""
    code = (
        "import signal, sys\n"
        "stop = []\n"
        "signal.signal(signal.SIGTERM, lambda s, f: stop.append(s))\n" + _UNENDED + "import time\n"
        "while not stop:\n"
        "    time.sleep(0.01)\n"
        "opskit.log_metric('after', 1.0)\n"
        "print('graceful', flush=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert proc.stdout.read().strip() == "graceful"
    proc.stdout.close()
    run = opskit.get_run(run_id)
    assert run.status == "FINISHED"
    assert run.metrics["after"] == 1.0 and len(run.metric_history("loss")) == 3


def test_points_are_written_within_about_a_second_without_another_log_call() -> None:
    """Another process sees a point (and the params/tags) while the writer is still alive and logs nothing more."""
    code = _UNENDED + "sys.stdin.read()\n"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdin is not None
    try:
        run_id = proc.stdout.readline().strip()
        seen = opskit.get_run(run_id)
        for _ in range(600):  # bounded wait (at most 60 s); no assertion on how long it took
            if len(seen.metric_history("loss")) == 3 and seen.tags:
                break
            time.sleep(0.1)
            seen = opskit.get_run(run_id)
        assert seen.status == "RUNNING"
        assert proc.poll() is None  # the writer is alive
        _assert_all_points(run_id)
    finally:
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
        proc.stdout.close()
    assert opskit.get_run(run_id).status == "FINISHED"


_FOLDS = """
import multiprocessing, opskit
run = opskit.start_run(name="cv")

def fold(k):
    run.log_metric("fold_auc", 0.5 + k / 10, step=k)
    return k

if __name__ == "__main__":
    with multiprocessing.get_context("fork").Pool(4) as pool:
        assert sorted(pool.map(fold, range(4))) == [0, 1, 2, 3]
    print(run.id, flush=True)
"""


@pytest.mark.parametrize("end", ["run.end()", ""])
def test_forked_pool_workers_points_all_arrive(end: str) -> None:
    """Four fork-pool workers log fold_auc to the parent's run: all 4 points arrive, whether or not the run is ended."""
    done = run_python(_FOLDS + ("    " + end + "\n" if end else ""))
    run = opskit.get_run(done.stdout.split()[0])
    assert run.status == "FINISHED"
    assert sorted((p.step, p.value) for p in run.metric_history("fold_auc")) == [
        (k, pytest.approx(0.5 + k / 10)) for k in range(4)
    ]


def test_a_forked_child_writes_its_points_itself_and_cannot_end_the_parents_run() -> None:
    """os.fork children logging to the parent's run (params, tags, metrics) write them before os._exit; end() is refused."""
    done = run_python(
        textwrap.dedent(
            """
            import os, opskit
            run = opskit.start_run(name="forked")
            opskit.log_metric("parent", 1.0)
            children = []
            for k in range(3):
                pid = os.fork()
                if pid == 0:
                    run.log_metric("child", float(k), step=k)
                    run.log_params({f"p{k}": k})
                    run.set_tags({f"t{k}": "x"})
                    try:
                        run.end()
                    except opskit.errors.RunNotOwned as exc:
                        os.write(1, f"refused: {exc}\\n".encode())  # one write: lines of children never interleave
                        os._exit(0)
                    os._exit(1)
                children.append(pid)
            assert all(os.waitpid(pid, 0)[1] == 0 for pid in children)
            opskit.log_metric("parent", 2.0)
            run.end()
            print(run.id, flush=True)
            """
        )
    )
    lines = done.stdout.split("\n")
    assert sum(line.startswith("refused:") and "forked process" in line for line in lines) == 3
    run = opskit.get_run(lines[-2].strip())
    assert run.status == "FINISHED"
    assert run.params == {"p0": 0, "p1": 1, "p2": 2}
    assert run.tags == {"t0": "x", "t1": "x", "t2": "x"}
    assert sorted(p.value for p in run.metric_history("child")) == [0.0, 1.0, 2.0]
    assert [p.value for p in run.metric_history("parent")] == [1.0, 2.0]


def test_a_run_begun_in_a_pool_worker_is_ended_when_the_worker_exits() -> None:
    """A run a multiprocessing worker begins and never ends is written and FINISHED when the worker process exits."""
    done = run_python(
        textwrap.dedent(
            """
            import multiprocessing, opskit

            def work():
                run = opskit.start_run(name="worker")
                opskit.log_metric("m", 1.0)
                print(run.id, flush=True)

            if __name__ == "__main__":
                p = multiprocessing.get_context("fork").Process(target=work)
                p.start()
                p.join()
                assert p.exitcode == 0
            """
        )
    )
    run = opskit.get_run(done.stdout.split()[0])
    assert (run.status, run.metrics) == ("FINISHED", {"m": 1.0})


# -- doctor --repair never deletes a blob that a record refers to (issue 8) ----------------------


def _age_every_blob(store: Path) -> int:
    """Make every stored blob look older than doctor's grace period; return how many there are."""
    blobs = [p for p in (store / "blobs").rglob("*") if p.is_file()]
    for path in blobs:
        os.utime(path, (1, 1))
    return len(blobs)


def test_doctor_repair_keeps_the_prediction_log_of_a_deployment(store: Path) -> None:
    """After a deployment logged predictions, `doctor --repair` with every blob aged past an hour keeps predictions() working."""
    import httpx
    from sklearn.datasets import load_wine
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_wine(return_X_y=True, as_frame=True)

    @opskit.train(model="logged", alias="production")
    def fit(X: object, y: object) -> DecisionTreeClassifier:
        return DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)

    fit(X, y)
    dep = opskit.deploy("logged@production", name="logged", log_sample=1.0, poll_interval=0.3)
    try:
        assert dep.url is not None
        answer = httpx.post(
            f"{dep.url}/predict", json=X.iloc[:3].to_dict(orient="records"), timeout=60
        )
        assert answer.status_code == 200
        records = dep.predictions()
        for _ in range(300):  # bounded wait for the background batch (at most 30 s)
            records = dep.predictions()
            if len(records) >= 3:
                break
            time.sleep(0.1)
        assert len(records) == 3, "the server never wrote its prediction log"
    finally:
        opskit.deployments.stop("logged")
    assert _age_every_blob(store) >= 2  # the model and at least one prediction-log batch
    report = json.loads(_cli("doctor", "--repair", "--json").stdout)
    assert report["ok"] is True
    assert opskit.deployments.get("logged").predictions().equals(records)
    assert opskit.load_model("logged@production") is not None


def test_doctor_repair_keeps_blobs_of_every_kind_of_record(store: Path) -> None:
    """Blobs referenced by a model version, an artifact and any kind of state document survive `doctor --repair`; only true orphans go."""
    from opskit._backends import get_tracker

    storage = get_storage()

    @opskit.train(model="kept")
    def fit() -> dict[str, int]:
        artifact = Path("notes.txt")
        artifact.write_text("an artifact")
        opskit.log_artifact(artifact)
        return {"w": 1}

    fit()
    nested = storage.put_bytes(b"kept by a plugin's state document")
    flat = storage.put_bytes(b"kept by a deployment-like record")
    orphan = storage.put_bytes(b"nobody points at me")
    tracker = get_tracker()
    tracker.put_state("my-plugin.batches", "b1", {"batches": [{"meta": {"blob": nested.digest}}]})
    tracker.put_state(
        "deployment-like", "d1", {"digest": flat.digest, "note": f"see {orphan.digest}!"}
    )
    referenced = tracker.referenced_digests()
    assert {nested.digest, flat.digest} <= referenced
    assert orphan.digest not in referenced  # mentioned inside a sentence is not a reference
    _age_every_blob(store)
    report = json.loads(_cli("doctor", "--repair", "--json").stdout)
    assert report["ok"] is True
    assert set(storage.iter_digests()) == referenced
    assert storage.get_bytes(nested.digest) == b"kept by a plugin's state document"
    assert opskit.last_run() is not None and opskit.load_model("kept") == {"w": 1}
    assert not storage.exists(orphan.digest)


def test_pool_terminate_never_waits_for_a_worker_that_missed_its_signal() -> None:
    """With a run open (opskit's SIGTERM handler installed), 40 fork pools in a row (replacing workers) all terminate: workers keep the default SIGTERM."""
    done = run_python(
        textwrap.dedent(
            """
            import multiprocessing, signal, opskit
            run = opskit.start_run(name="pools")
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # opskit's handler, in this process

            def fold(k):
                run.log_metric("k", float(k), step=k)
                return signal.getsignal(signal.SIGTERM) is signal.SIG_DFL

            if __name__ == "__main__":
                for _ in range(40):  # one task per worker: replacements are forked while the pool ends
                    with multiprocessing.get_context("fork").Pool(4, maxtasksperchild=1) as pool:
                        assert all(pool.map(fold, range(8)))
                print(run.id, flush=True)
            """
        )
    )
    run = opskit.get_run(done.stdout.split()[0])
    assert run.status == "FINISHED" and len(run.metric_history("k")) == 320


def test_a_run_sent_to_spawned_workers_is_a_handle_that_writes_or_refuses_clearly(
    tmp_path: Path,
) -> None:
    """A run passed to spawn-pool workers: their 4 points arrive; a worker configured for another store raises ConfigError."""
    script = tmp_path / "spawned.py"
    script.write_text(
        textwrap.dedent(
            """
            import functools, multiprocessing, os, sys, opskit

            def fold(run, k):
                run.log_metric("fold_auc", 0.5 + k / 10, step=k)
                return k

            def elsewhere():
                os.environ["OPSKIT_HOME"] = os.path.join(os.getcwd(), "other-store")

            if __name__ == "__main__":
                run = opskit.start_run(name="spawned")
                ctx = multiprocessing.get_context("spawn")
                with ctx.Pool(2) as pool:
                    assert sorted(pool.map(functools.partial(fold, run), range(4))) == [0, 1, 2, 3]
                with ctx.Pool(1, initializer=elsewhere) as pool:
                    try:
                        pool.map(functools.partial(fold, run), [9])
                    except opskit.errors.ConfigError as exc:
                        print("refused:", str(exc).replace("\\n", " "), flush=True)
                run.end()
                print(run.id, flush=True)
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    refused, run_id = done.stdout.strip().split("\n")
    assert refused.startswith("refused:") and "other-store" in refused and "OPSKIT_HOME" in refused
    run = opskit.get_run(run_id)
    assert run.status == "FINISHED"
    assert sorted((p.step, p.value) for p in run.metric_history("fold_auc")) == [
        (k, pytest.approx(0.5 + k / 10)) for k in range(4)
    ]


def test_import_installs_nothing_and_the_flusher_starts_with_the_first_point() -> None:
    """`import opskit` leaves signals, sys.exit and threads alone; the first run installs handlers, the first point starts the flusher."""
    run_python(
        textwrap.dedent(
            """
            import signal, sys, threading
            exit_before, term_before = sys.exit, signal.getsignal(signal.SIGTERM)
            import opskit
            assert (sys.exit, signal.getsignal(signal.SIGTERM)) == (exit_before, term_before)
            run = opskit.start_run(name="lazy")
            assert signal.getsignal(signal.SIGTERM) is not term_before and sys.exit is not exit_before
            assert "opskit-flusher" not in [t.name for t in threading.enumerate()]
            opskit.log_metric("m", 1.0)
            assert "opskit-flusher" in [t.name for t in threading.enumerate()]
            run.end()
            """
        )
    )
