"""Deprecated import path: run lookup lives in ``opskit.tracking.runs``."""

from opskit.tracking.runs import DEFAULT_LIMIT as DEFAULT_LIMIT
from opskit.tracking.runs import get_run as get_run
from opskit.tracking.runs import last_run as last_run
from opskit.tracking.runs import metric_history as metric_history
from opskit.tracking.runs import search_runs as search_runs

__all__ = ["get_run", "last_run", "metric_history", "search_runs"]
