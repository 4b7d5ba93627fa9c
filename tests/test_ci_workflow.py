"""The CI examples run as a runner would run them: examples/ci/github-workflow.yml and .gitlab-ci.yml.

Each test copies ``examples/ci`` into a fresh checkout folder, parses the workflow, and runs
every ``run:`` step (GitHub) or ``script:`` / ``after_script:`` (GitLab) in a real ``bash``
subprocess with the environment the workflow declares, its ``${{ }}`` expressions and ``if:``
conditions evaluated for the event being simulated. What is not run, and why: the install
step (this test environment already has opskit and both plugins installed, editable) and the
``uses:`` actions (checkout: the copy is the checkout; setup-python: this interpreter's folder
is first on PATH). ``gh`` and ``curl`` are replaced by recorders on PATH, because they would
talk to GitHub or GitLab; the recorder keeps the comment body the step sent.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import opskit
from conftest import ROOT, SERVERS

pytestmark = pytest.mark.trackers("local", "mlflow")

EXAMPLE = ROOT / "examples" / "ci"
BIN = Path(sys.executable).parent
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")

# Records a `gh` call and the --body-file it sent; `--edit-last` fails until a comment exists,
# as it does on GitHub, so the workflow's fallback (create the comment) is exercised too.
FAKE_GH = """#!/bin/sh
log="$FAKE_LOG"
echo "gh $*" >> "$log/calls"
body=""
while [ $# -gt 0 ]; do
  case "$1" in
    --body-file) body="$2"; shift ;;
    --edit-last) edit=1 ;;
  esac
  shift
done
if [ -n "$edit" ] && [ ! -f "$log/comment.md" ]; then
  echo "no comments found for current user" >&2
  exit 1
fi
cp "$body" "$log/comment.md"
"""
# Records a `curl` call and the file a `--data-urlencode body@FILE` sent.
FAKE_CURL = """#!/bin/sh
log="$FAKE_LOG"
echo "curl $*" >> "$log/calls"
while [ $# -gt 0 ]; do
  case "$1" in
    --data-urlencode) cp "${2#body@}" "$log/comment.md"; shift ;;
  esac
  shift
done
"""


def checkout(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the example as a project checkout, and a folder of recorders (gh, curl) for PATH."""
    workspace = tmp_path / "workspace"
    shutil.copytree(EXAMPLE, workspace / "examples" / "ci")
    fakes = tmp_path / "fake-bin"
    fakes.mkdir()
    for name, script in (("gh", FAKE_GH), ("curl", FAKE_CURL)):
        (fakes / name).write_text(script)
        (fakes / name).chmod(0o755 | stat.S_IEXEC)
    (tmp_path / "log").mkdir()
    return workspace, fakes


def runner_env(tmp_path: Path, fakes: Path, tracker: str) -> dict[str, str]:
    """A runner's environment: no OPSKIT_*/MLFLOW_* of ours, this Python and the recorders first on PATH.

    With the MLflow tracker, the namespace this test was given keeps its models apart from
    other tests' on the shared session server (a team would have its own server).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPSKIT_", "MLFLOW_"))}
    env["PATH"] = os.pathsep.join([str(fakes), str(BIN), env.get("PATH", "")])
    env["FAKE_LOG"] = str(tmp_path / "log")
    env["CI"] = "true"
    if tracker in SERVERS:
        env["OPSKIT_MLFLOW_NAMESPACE"] = os.environ["OPSKIT_MLFLOW_NAMESPACE"]
    return env


def set_params(workspace: Path, **params: Any) -> None:
    """What a pull request that changes the hyperparameters does."""
    (workspace / "examples" / "ci" / "params.json").write_text(json.dumps(params))


def use_store_of(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point this test process at the store the workflow wrote to, to look at its aliases.

    (With MLflow, the store fixture already points it at the server and this test's namespace.)
    """
    monkeypatch.setenv("OPSKIT_HOME", str(workspace / ".opskit"))
    opskit.reset_defaults()


# -- GitHub Actions ------------------------------------------------------------------------------


def github_expressions(event: str, tracker: str, server_url: str | None) -> dict[str, Any]:
    """The value of every expression the example workflow uses, for one simulated event.

    An expression missing here fails the test: the workflow changed, so this table must too.
    """
    on_main = event == "push"
    return {
        "vars.OPSKIT_TRACKER || 'local'": "mlflow" if tracker in SERVERS else "local",
        "vars.MLFLOW_TRACKING_URI": server_url or "",
        "vars.OPSKIT_STORAGE": "",
        "github.ref == 'refs/heads/main' && 'production' || 'staging'": "production"
        if on_main
        else "staging",
        "github.token": "ghs_fake",
        "github.event.pull_request.number": "" if on_main else "7",
        "!cancelled()": True,
        "!cancelled() && github.event_name == 'pull_request'": not on_main,
    }


def evaluate(text: str, values: dict[str, Any]) -> Any:
    """``${{ expr }}`` substituted from *values*; a whole-string expression keeps its type (for ``if:``)."""
    whole = EXPRESSION.fullmatch(text.strip())
    if whole:
        return lookup(whole.group(1), values)
    return EXPRESSION.sub(lambda m: str(lookup(m.group(1), values)), text)


def lookup(expression: str, values: dict[str, Any]) -> Any:
    if expression not in values:
        pytest.fail(f"the workflow uses ${{{{ {expression} }}}}, which this test does not know")
    return values[expression]


def run_github_job(
    workflow: dict[str, Any],
    workspace: Path,
    base_env: dict[str, str],
    values: dict[str, Any],
    tmp_path: Path,
    event: str,
) -> dict[str, tuple[Any, Path]]:
    """Run the job's steps in order; {step name: (exit code or "skipped", its step summary file)}."""
    (job,) = workflow["jobs"].values()
    env = {**base_env, **{k: str(evaluate(str(v), values)) for k, v in workflow["env"].items()}}
    env |= {k: str(evaluate(str(v), values)) for k, v in job.get("env", {}).items()}
    env |= {
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_EVENT_NAME": event,
        "GITHUB_REF": "refs/heads/main" if event == "push" else "refs/pull/7/merge",
    }
    results: dict[str, tuple[Any, Path]] = {}
    failed = False
    for index, step in enumerate(job["steps"]):
        name = step.get("name") or step.get("uses")
        summary = tmp_path / f"step-summary-{event}-{index}.md"
        summary.touch()
        if "uses" in step:
            results[name] = ("action", summary)
            continue
        if step.get("id") == "install":
            assert "opskit-ml" in step["run"] and "opskit-mlflow" in step["run"]
            results[name] = ("installed already", summary)
            continue
        condition = evaluate(step["if"], values) if "if" in step else not failed
        if not condition:
            results[name] = ("skipped", summary)
            continue
        script = tmp_path / f"step-{index}.sh"
        script.write_text(str(evaluate(step["run"], values)))
        step_env = {k: str(evaluate(str(v), values)) for k, v in step.get("env", {}).items()}
        done = subprocess.run(
            [
                "bash",
                "--noprofile",
                "--norc",
                "-eo",
                "pipefail",
                str(script),
            ],  # GitHub's `run:` shell
            cwd=workspace,
            env={**env, **step_env, "GITHUB_STEP_SUMMARY": str(summary)},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        results[name] = (done.returncode, summary)
        if done.returncode != 0:
            failed = True
            print(f"step {name!r} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return results


def test_the_github_workflow_gates_a_worse_model_and_comments_on_the_pull_request(
    tmp_path: Path, tracker: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Push to main: trained, gate exit 0, production set. A PR that worsens the model: gate exit 1, commented, production unchanged."""
    workflow = yaml.safe_load((EXAMPLE / "github-workflow.yml").read_text())
    assert {s["uses"] for s in workflow["jobs"]["train"]["steps"] if "uses" in s} == {
        "actions/checkout@v4",
        "actions/setup-python@v5",
    }
    workspace, fakes = checkout(tmp_path)
    server_url = request.getfixturevalue(SERVERS[tracker]).url if tracker in SERVERS else None
    base = runner_env(tmp_path, fakes, tracker)
    log = tmp_path / "log"

    # 1. A push to main: the model passes, is registered and becomes production. No comment.
    pushed = run_github_job(
        workflow, workspace, base, github_expressions("push", tracker, server_url), tmp_path, "push"
    )
    assert {name: code for name, (code, _) in pushed.items()} == {
        "actions/checkout@v4": "action",
        "actions/setup-python@v5": "action",
        "Install": "installed already",
        "Train": 0,
        "Validation gate": 0,
        "Comment the report on the pull request": "skipped",
    }
    gate_summary = pushed["Validation gate"][1].read_text()
    assert gate_summary.startswith("### ✅ opskit validation PASSED") and "at_least" in gate_summary
    assert gate_summary == (workspace / "validation.md").read_text()
    assert not (log / "calls").exists()
    use_store_of(workspace, monkeypatch)
    assert opskit.models.get_version("wine@production").version == 1

    # 2. A pull request that makes the model worse: trained, rejected, the PR told why.
    set_params(workspace, C=0.001, max_iter=1000)
    pr = github_expressions("pull_request", tracker, server_url)
    proposed = run_github_job(workflow, workspace, base, pr, tmp_path, "pull_request")
    assert {name: code for name, (code, _) in proposed.items()} == {
        "actions/checkout@v4": "action",
        "actions/setup-python@v5": "action",
        "Install": "installed already",
        "Train": 0,  # the code worked; the model did not earn a version
        "Validation gate": 1,  # fails the job
        "Comment the report on the pull request": 0,
    }
    gate_summary = proposed["Validation gate"][1].read_text()
    assert gate_summary.startswith("### ❌ opskit validation FAILED")
    assert "not_registered" in gate_summary and "beats" in gate_summary
    assert (log / "comment.md").read_text() == gate_summary
    calls = (log / "calls").read_text().splitlines()
    assert calls == [
        "gh pr comment 7 --body-file validation.md --edit-last",
        "gh pr comment 7 --body-file validation.md",
    ]
    opskit.reset_defaults()
    assert opskit.models.get_version("wine@production").version == 1
    assert [v.version for v in opskit.models.get("wine").versions] == [1]

    # 3. The pull request is fixed: the gate passes, the same comment is updated.
    set_params(workspace, C=1.0, max_iter=1000)
    fixed = run_github_job(workflow, workspace, base, pr, tmp_path, "pull_request")
    assert (
        fixed["Validation gate"][0] == 0 and fixed["Comment the report on the pull request"][0] == 0
    )
    assert (log / "comment.md").read_text().startswith("### ✅ opskit validation PASSED")
    assert (log / "calls").read_text().splitlines()[2:] == [
        "gh pr comment 7 --body-file validation.md --edit-last"
    ]
    opskit.reset_defaults()
    assert opskit.models.get_version("wine@staging").version == 2
    assert opskit.models.get_version("wine@production").version == 1


# -- GitLab CI -----------------------------------------------------------------------------------


def run_gitlab_job(
    pipeline: dict[str, Any], workspace: Path, env: dict[str, str], tmp_path: Path
) -> tuple[int, subprocess.CompletedProcess[str]]:
    """The `train` job: `script` in one shell (stops at the first failing line), then `after_script`."""
    job = pipeline["train"]
    assert any("opskit-ml" in line for line in job["before_script"])  # installed already
    variables = {k: str(v) for k, v in pipeline["variables"].items()}

    def shell(lines: list[str]) -> subprocess.CompletedProcess[str]:
        script = tmp_path / "job.sh"
        script.write_text("\n".join(lines) + "\n")
        return subprocess.run(
            ["bash", "-e", str(script)],
            cwd=workspace,
            env={**env, **variables},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    done = shell(job["script"])
    after = shell(job["after_script"])
    assert after.returncode == 0, after.stderr
    return done.returncode, done


@pytest.mark.trackers("local")  # the GitHub test covers MLflow; the tracker is the same code here
def test_the_gitlab_job_gates_a_worse_model_and_notes_the_merge_request(
    tmp_path: Path, tracker: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Default branch: exit 0, production set. A merge request with a worse model: exit 1, the report posted as an MR note."""
    pipeline = yaml.safe_load((EXAMPLE / ".gitlab-ci.yml").read_text())
    workspace, fakes = checkout(tmp_path)
    server_url = request.getfixturevalue(SERVERS[tracker]).url if tracker in SERVERS else None
    env = runner_env(tmp_path, fakes, tracker) | {
        "CI_DEFAULT_BRANCH": "main",
        "CI_API_V4_URL": "https://gitlab.example.com/api/v4",
        "CI_PROJECT_ID": "42",
        "GITLAB_TOKEN": "glpat-fake",
    }
    if tracker in SERVERS:  # as CI/CD variables
        env |= {"OPSKIT_TRACKER": "mlflow", "MLFLOW_TRACKING_URI": str(server_url)}
    log = tmp_path / "log"

    code, done = run_gitlab_job(
        pipeline,
        workspace,
        env | {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main"},
        tmp_path,
    )
    assert code == 0, done.stdout + done.stderr
    assert "### ✅ opskit validation PASSED" in done.stdout
    assert not (log / "calls").exists()  # not a merge request: no note

    set_params(workspace, C=0.001, max_iter=1000)
    code, done = run_gitlab_job(
        pipeline,
        workspace,
        env | {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": "5"},
        tmp_path,
    )
    assert code == 1, done.stdout + done.stderr
    report = (workspace / "validation.md").read_text()
    assert report.startswith("### ❌ opskit validation FAILED") and report in done.stdout
    assert (log / "comment.md").read_text() == report
    (call,) = (log / "calls").read_text().splitlines()
    assert call.endswith("https://gitlab.example.com/api/v4/projects/42/merge_requests/5/notes")
    assert "PRIVATE-TOKEN: glpat-fake" in call
    use_store_of(workspace, monkeypatch)
    assert opskit.models.get_version("wine@production").version == 1


@pytest.mark.trackers("local")
def test_docs_ci_shows_the_workflows_that_are_tested() -> None:
    """The YAML blocks of docs/ci.md are the example files, as tested here (they cannot drift apart)."""
    blocks = re.findall(r"```yaml\n(.*?)```", (ROOT / "docs" / "ci.md").read_text(), re.S)
    github = (EXAMPLE / "github-workflow.yml").read_text()
    gitlab = (EXAMPLE / ".gitlab-ci.yml").read_text()
    assert len(blocks) == 2
    assert github.endswith(blocks[0]) and blocks[0].startswith("name: train-and-gate")
    assert gitlab.endswith(blocks[1]) and blocks[1].startswith("variables:")
