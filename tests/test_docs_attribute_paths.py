"""Every ``opskit.a.b`` the docs write as code resolves by attribute access after a plain ``import opskit``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
#: The word after ``opskit.`` in code spans that are not Python paths (checked, not skipped silently):
NOT_PYTHON = {
    # MLflow tags and artifacts opskit writes (docs/backends/mlflow.md):
    "alias_history",
    "code_digest",
    "digest",
    "event",  # opskit.event.id, .kind, .model
    "flavor",
    "git_commit",
    "host",
    "json",  # opskit.json.params, .env, … (JSON-valued tags)
    "model_version",
    "pid",
    "pid_start",
    "run_id",
    "size_bytes",
    "user",
    # other tags, files and names:
    "card",  # MLflow tag / artifact name opskit.card
    "chain",  # audit tags opskit.chain.seq, .prev_hash, .hash, .ledger
    "dataset",  # run tags opskit.dataset.digest, opskit.dataset.alias
    "db",  # the store's database file opskit.db (and opskit.db.audit, a bench name)
    "function",  # run tag opskit.function.error
    "imports",  # the bench measure of `python -X importtime -c "import opskit"`
    "input",  # run tag prefix opskit.input.<name>
    "parent_run_id",  # MLflow tag
    "reproduces",  # run tag
    "state",  # the MLflow experiment opskit.state (and opskit.state.claim/…)
    "status",  # MLflow tag
}
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)
_TICKS = re.compile(r"`([^`\n]+)`")
# `opskit.x.y` not inside a longer dotted word, a path, a URL or a config table (`[tool.opskit.monitor]`)
_PATH = re.compile(r"(?<![\w./\[-])(opskit(?:\.[A-Za-z_]\w*)+)")

_RESOLVE = """
import json, sys
import opskit
missing = {}
for path in json.loads(sys.argv[1]):
    found = opskit
    for attr in path.split(".")[1:]:
        try:
            found = getattr(found, attr)
        except AttributeError as exc:
            missing[path] = str(exc)
            break
print(json.dumps(missing))
"""


def code_paths() -> dict[str, str]:
    """Each dotted ``opskit.…`` name inside a code block or backticks, with the first page naming it."""
    found: dict[str, str] = {}
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        chunks = [m.group(0) for m in _FENCE.finditer(text)]
        chunks += [m.group(1) for m in _TICKS.finditer(_FENCE.sub("", text))]
        for chunk in chunks:
            for match in _PATH.finditer(chunk):
                found.setdefault(match.group(1), page.name)
    return found


def test_scan_finds_the_documented_module_paths() -> None:
    """The scan sees the paths the monitoring page documents (so it cannot pass by finding nothing)."""
    paths = code_paths()
    for path in (
        "opskit.monitor.alerts.latest",
        "opskit.monitor.detect.STREAM_EDGES",
        "opskit.monitor.data.BATCH_ROWS",
    ):
        assert path in paths


def test_documented_paths_resolve_after_plain_import_opskit() -> None:
    """In a fresh interpreter, `import opskit` then attribute access reaches every documented opskit path."""
    paths = code_paths()
    python_paths = sorted(p for p in paths if p.split(".")[1] not in NOT_PYTHON)
    out = subprocess.run(
        [sys.executable, "-c", _RESOLVE, json.dumps(python_paths)],
        capture_output=True,
        text=True,
        check=True,
    )
    missing = json.loads(out.stdout)
    assert {p: f"{paths[p]}: {why}" for p, why in missing.items()} == {}


def test_checkpoint_margin_resolves_after_plain_import_opskit() -> None:
    """`opskit.monitor.checkpoint.MARGIN` and a submodule of a non-lazy package resolve lazily, unknown names still fail."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, opskit\n"
            "print(opskit.monitor.checkpoint.MARGIN > 0, opskit.capture.hashing.__name__)\n"
            "print('pandas' in sys.modules)\n"
            "for owner in (opskit, opskit.monitor, opskit.capture):\n"
            "    try:\n"
            "        owner.not_a_module\n"
            "    except AttributeError as exc:\n"
            "        print(exc)\n",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = out.stdout.splitlines()
    assert lines[0] == "True opskit.capture.hashing"
    assert lines[1] == "False"
    assert lines[2:] == [
        "module 'opskit' has no attribute 'not_a_module'",
        "module 'opskit.monitor' has no attribute 'not_a_module'",
        "module 'opskit.capture' has no attribute 'not_a_module'",
    ]
