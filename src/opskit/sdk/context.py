"""Deprecated import path: the run context lives in ``opskit.tracking.context``."""

from opskit.tracking.context import ActiveRun as ActiveRun
from opskit.tracking.context import active_run as active_run
from opskit.tracking.context import last_run_id as last_run_id
from opskit.tracking.context import log_artifact as log_artifact
from opskit.tracking.context import log_metric as log_metric
from opskit.tracking.context import log_metrics as log_metrics
from opskit.tracking.context import log_param as log_param
from opskit.tracking.context import log_params as log_params
from opskit.tracking.context import new_run as new_run
from opskit.tracking.context import set_tag as set_tag
from opskit.tracking.context import set_tags as set_tags
from opskit.tracking.context import start_run as start_run

__all__ = [
    "ActiveRun",
    "active_run",
    "log_artifact",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "set_tag",
    "set_tags",
    "start_run",
]
