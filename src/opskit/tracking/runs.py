"""Looking runs up: ``last_run``, ``get_run``, ``search_runs``, ``metric_history``."""

from __future__ import annotations

from collections.abc import Sequence

from opskit.query import RunQuery
from opskit.records import Metric, Run, RunList
from opskit.runtime import get_tracker
from opskit.tracking.context import last_run_id

__all__ = ["get_run", "last_run", "metric_history", "search_runs"]


def metric_history(run: str | Run, key: str) -> list[Metric]:
    """Every logged point of metric *key* of a run (a ``Run`` or its id), in step order, from the active tracker."""
    run_id = run.id if isinstance(run, Run) else run
    return get_tracker().metric_history(run_id, key)


def get_run(run_id: str) -> Run:
    """The run with this id (raises ``RunNotFound``). A RUNNING run whose process died shows as KILLED."""
    tracker = get_tracker()
    run = tracker.get_run(run_id)
    if run.status == "RUNNING" and run_id in tracker.mark_stale_runs():
        run = tracker.get_run(run_id)
    return run


def last_run() -> Run | None:
    """The run that ended last in this process; else the newest run in the store; else None."""
    run_id = last_run_id()
    if run_id is not None:
        return get_run(run_id)
    found = search_runs(limit=1)
    return found[0] if found else None


#: How many runs ``search_runs`` returns when no ``limit`` is given.
DEFAULT_LIMIT = 100


def search_runs(
    filter: str | None = None,
    *,
    order_by: Sequence[str] | None = None,
    limit: int | None = None,
    experiment: str | None = None,
) -> RunList:
    """Runs matching an MLflow-style filter, e.g. ``"params.alpha > 0.1 and metrics.r2 >= 0.5"``.

    ``order_by`` takes keys like ``"metrics.r2 DESC"``; newest first otherwise.
    Returns at most ``limit`` runs (default ``DEFAULT_LIMIT``, 100) as a list of
    ``Run`` records with ``.to_pandas()``. When more runs match, the list's
    ``truncated`` is True; without an explicit ``limit`` that also warns
    (``OpskitWarning``), so the cut is never silent. Pass a larger ``limit`` for more.
    """
    import warnings

    from opskit.errors import InvalidValue, OpskitWarning

    wanted = DEFAULT_LIMIT if limit is None else limit
    if isinstance(wanted, bool) or not isinstance(wanted, int) or wanted < 1:
        raise InvalidValue(f"limit must be an integer of at least 1, got {limit!r}")
    query = RunQuery.build(
        filter, order_by, wanted + 1, experiment
    )  # one more tells whether there are more
    tracker = get_tracker()
    tracker.mark_stale_runs()
    found = tracker.search_runs(query)
    runs = RunList(found[:wanted])
    runs.limit = wanted
    runs.truncated = len(found) > wanted
    if runs.truncated and limit is None:
        warnings.warn(
            f"search_runs returned the first {wanted} matching runs and more match; pass limit=N to get more",
            OpskitWarning,
            stacklevel=2,
        )
    return runs
