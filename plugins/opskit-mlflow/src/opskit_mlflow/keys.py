"""The names opskit gives things in MLflow: tag keys, the state experiment, batch sizes."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "BATCH_ITEMS",
    "BATCH_METRICS",
    "CLAIM_PREFIX",
    "CODE_DIGEST",
    "DATA",
    "DOC",
    "ENDED",
    "FLUSH_POINTS",
    "FLUSH_SECONDS",
    "GIT_COMMIT",
    "HISTORY",
    "HOST",
    "MODEL",
    "PID",
    "PID_START",
    "RUN_ID",
    "STARTED",
    "STATE_EXPERIMENT",
    "USER",
    "escape",
    "ms",
    "user_tags",
]

STATE_EXPERIMENT = "opskit.state"
#: Experiments named ``opskit.state.claim/<digest>`` are the claims of ``claim_state`` (no runs).
CLAIM_PREFIX = STATE_EXPERIMENT + ".claim/"
RUN_ID, HOST, PID, PID_START = "opskit.run_id", "opskit.host", "opskit.pid", "opskit.pid_start"
STARTED, ENDED, USER, MODEL = (
    "opskit.started_at",
    "opskit.ended_at",
    "opskit.user",
    "opskit.model_version",
)
CODE_DIGEST, GIT_COMMIT, DATA = "opskit.code_digest", "opskit.git_commit", "opskit.data."
DOC = "opskit.json."
HISTORY = "opskit.alias_history."
_INTERNAL = {RUN_ID, HOST, PID, PID_START, STARTED, ENDED, USER, MODEL, CODE_DIGEST, GIT_COMMIT}
BATCH_METRICS, BATCH_ITEMS = 1000, 100
FLUSH_POINTS, FLUSH_SECONDS = 1000, 1.0


def ms(seconds: float) -> int:
    """MLflow's timestamps are whole milliseconds."""
    return round(seconds * 1000)


def escape(value: str) -> str:
    """*value* quoted for a single-quoted string in an MLflow filter."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def user_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """The tags a user set (opskit's and MLflow's own bookkeeping tags left out)."""
    return {
        k: v
        for k, v in tags.items()
        if not (k in _INTERNAL or k.startswith(("mlflow.", DOC, DATA)))
    }
