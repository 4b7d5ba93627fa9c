"""The run context: ``start_run``, the active run (a context variable), and the ``log_*`` functions.

The active run lives in a ``contextvars.ContextVar``: nested runs restore their
parent by token, and each thread or asyncio task has its own. To log from a
worker thread, use the run handle's methods (``run.log_metric(...)``).
"""

from __future__ import annotations

import contextvars
import os
import threading
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from attrs import define, field

from opskit._hooks import hooks
from opskit.errors import InvalidValue, NoActiveRun, RunNotOwned
from opskit.names import (
    validate_experiment,
    validate_key,
    validate_run_name,
    validate_tag_key,
    validate_tag_value,
)
from opskit.records import (
    Artifact,
    CodeInfo,
    DataInput,
    EnvInfo,
    Metric,
    ModelVersion,
    Run,
    RunStatus,
)
from opskit.sdk import identity, lifecycle
from opskit.tracker.base import Tracker

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

_current: contextvars.ContextVar[ActiveRun | None] = contextvars.ContextVar(
    "opskit_active_run", default=None
)
_valid_keys: set[str] = set()
_last_lock = threading.Lock()
_last_run_id: str | None = None


def _key(key: str, kind: str) -> str:
    if key not in _valid_keys:
        validate_key(key, kind)
        _valid_keys.add(key)
    return key


def _metric_value(key: str, value: object) -> float:
    """*value* as a float: Python and NumPy numbers (and anything with ``__float__``, such as a
    one-element tensor); strings, bools (NumPy's too), None and complex numbers raise ``InvalidValue``."""
    if type(value) is float:
        return value
    kind = type(value)
    dtype = getattr(value, "dtype", None)
    refused = (
        value is None
        or isinstance(value, str | bytes | bool | complex)
        or (kind.__module__ == "numpy" and kind.__name__ in ("bool", "bool_"))
        or getattr(dtype, "kind", None) in ("b", "c", "U", "S", "O")
        or not hasattr(value, "__float__")
    )
    if not refused:
        try:
            return float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            # NumPy 2 no longer converts a one-element array with float(); .item() gives its number
            item = getattr(value, "item", None)
            if callable(item) and getattr(value, "ndim", 0) > 0:
                try:
                    number = item()
                except (TypeError, ValueError):
                    pass
                else:
                    return _metric_value(key, number)
    raise InvalidValue(
        f"metric {key!r} must be a number (int, float or a NumPy number), got {type(value).__name__} "
        f"{value!r}; convert text with float(...) and log flags as params or tags"
    )


def _step_value(key: str, step: object) -> int:
    """*step* as an int: Python and NumPy integers from 0 to 2**63 - 1 (a 64-bit integer on both
    trackers); anything else raises ``InvalidValue``."""
    if type(step) is int and 0 <= step < 2**63:  # the common case, without the ABC check
        return step
    import numbers

    if not isinstance(step, bool) and isinstance(step, numbers.Integral) and 0 <= int(step) < 2**63:
        return int(step)
    raise InvalidValue(
        f"step for metric {key!r} must be a non-negative int below 2**63, got {type(step).__name__} {step!r}"
    )


def _tag_values(tags: Mapping[str, Any]) -> dict[str, str]:
    """Tags as text, keys and value lengths checked (the same limits on every tracker)."""
    return {validate_tag_key(k): validate_tag_value(k, v) for k, v in tags.items()}


@define(eq=False)
class ActiveRun:
    """A run in progress. Returned by ``start_run``; its methods log to this run from any thread."""

    id: str
    name: str
    experiment: str
    started_at: float
    tracker: Tracker = field(repr=False)
    params: dict[str, Any] = field(factory=dict)
    tags: dict[str, str] = field(factory=dict)
    code: CodeInfo | None = field(default=None, repr=False)
    env: EnvInfo | None = field(default=None, repr=False)
    inputs: list[DataInput] = field(factory=list, repr=False)
    artifacts: list[Artifact] = field(factory=list, repr=False)
    latest: dict[str, float] = field(factory=dict, repr=False)
    steps: dict[str, int] = field(factory=dict, repr=False)
    model_version: ModelVersion | None = field(default=None, repr=False)
    status: RunStatus = "RUNNING"
    #: The process that began the run: it ends the run; a forked child only logs to it (at once).
    pid: int = field(factory=os.getpid, repr=False)
    _token: contextvars.Token[ActiveRun | None] | None = field(default=None, repr=False)

    # -- logging -------------------------------------------------------------------------------

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Log one metric point; *step* defaults to one more than the key's last step."""
        _key(key, "metric")
        number = _metric_value(key, value)
        step = self.steps.get(key, -1) + 1 if step is None else _step_value(key, step)
        self.steps[key] = step
        self.latest[key] = number
        self.tracker.log_metrics(self.id, (Metric(key, number, step, time.time()),))
        lifecycle.accepted(self)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log several metrics at once (same step)."""
        now = time.time()
        points = []
        for key, value in metrics.items():
            _key(key, "metric")
            number = _metric_value(key, value)
            point_step = self.steps.get(key, -1) + 1 if step is None else _step_value(key, step)
            points.append(Metric(key, number, point_step, now))
        for point in points:
            self.steps[point.key] = point.step
            self.latest[point.key] = point.value
        self.tracker.log_metrics(self.id, points)
        lifecycle.accepted(self)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log params (JSON values)."""
        from opskit.capture.params import check_param_value

        clean = {_key(k, "param"): check_param_value(k, v) for k, v in params.items()}
        self.params.update(clean)
        self.tracker.log_params(self.id, clean)
        lifecycle.accepted(self)

    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set string tags (values are converted with ``str``)."""
        clean = _tag_values(tags)
        self.tags.update(clean)
        self.tracker.set_tags(self.id, clean)
        lifecycle.accepted(self)

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({key: value})

    def log_artifact(self, path: str | Path, name: str | None = None) -> list[Artifact]:
        """Store a file (or every file of a folder) with the run; returns the artifacts."""
        from opskit.runtime import get_storage

        source = Path(path)
        if not source.exists():
            raise InvalidValue(f"cannot log artifact {str(path)!r}: no such file or folder")
        storage = get_storage()
        base = name or source.name
        files = (
            [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
        )
        logged = []
        for file in files:
            blob = storage.put_file(file)
            artifact_name = (
                base if file == source else f"{base}/{file.relative_to(source).as_posix()}"
            )
            logged.append(Artifact(artifact_name, blob.digest, blob.size_bytes))
        self.artifacts.extend(logged)
        self.tracker.log_artifacts(self.id, logged)
        return logged

    # -- lifecycle -----------------------------------------------------------------------------

    def record(self, *, ended_at: float | None = None, error: str | None = None) -> Run:
        """A frozen snapshot of this run."""
        return Run(
            id=self.id,
            name=self.name,
            status=self.status,
            experiment=self.experiment,
            started_at=self.started_at,
            ended_at=ended_at,
            user=identity.user(),
            host=identity.host(),
            params=self.params,
            metrics=self.latest,
            tags=self.tags,
            code=self.code,
            env=self.env,
            inputs=self.inputs,
            artifacts=self.artifacts,
            model_version=self.model_version,
            error=error,
        )

    def begin(self) -> ActiveRun:
        """Store the run as RUNNING, make it the active run and call ``before_run``.

        If a ``before_run`` implementation raises, the run is ended at once (FAILED with
        that error, the parent run active again) and the error propagates.
        """
        parent = _current.get()
        if parent is not None:
            self.tags.setdefault("opskit.parent_run_id", parent.id)
        started = self.record()
        self.tracker.create_run(started, pid=identity.pid())
        self.pid = os.getpid()
        self._token = _current.set(self)
        lifecycle.opened(self)
        try:
            hooks.before_run(started)
        except (
            BaseException
        ) as exc:  # the run failed before it began: end it honestly, leave no active run
            self.end(lifecycle.exit_status(exc), exc)
            raise
        return self

    def end(
        self,
        status: RunStatus = "FINISHED",
        error: BaseException | None = None,
        *,
        reason: str | None = None,
    ) -> Run:
        """Flush, store the final status, restore the parent run, call ``on_run_error`` and ``after_run``.

        A raising ``on_run_error`` / ``after_run`` implementation is logged, never raised:
        the run's end is stored first, and the caller's exception stays the one re-raised.

        *reason* is stored as the run's error text when no exception ended it (e.g. a signal).
        """
        global _last_run_id
        if self.status != "RUNNING":
            return self.record()
        if self.pid != os.getpid():
            raise RunNotOwned(
                f"run {self.id} ({self.name!r}) was begun by process {self.pid}; this forked process "
                f"({os.getpid()}) may log to it but not end it: let process {self.pid} end it, or begin "
                "a run of its own here with opskit.start_run()"
            )
        text = reason
        if error is not None:
            text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        ended_at = time.time()
        self.status = status
        try:
            self.tracker.end_run(self.id, status=status, ended_at=ended_at, error=text)
        finally:
            lifecycle.closed(self)
            if self._token is not None:
                try:
                    _current.reset(self._token)
                except ValueError:  # ended from another context: just clear it there
                    _current.set(None)
                self._token = None
            with _last_lock:
                _last_run_id = self.id
        final = self.record(ended_at=ended_at, error=text)
        if error is not None:
            hooks.on_run_error(final, error)
        hooks.after_run(final)
        return final

    def __enter__(self) -> ActiveRun:
        return self

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Sent to another process (a ``spawn`` pool's arguments, ...), the run is a handle to log through.

        The receiving process writes every point at once to the same store and may not end the
        run; if its configuration selects another store it raises ``ConfigError`` there.
        """
        return _run_handle, (
            self.id,
            self.name,
            self.experiment,
            self.started_at,
            self.pid,
            _store_of(self.tracker),
        )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.end("FINISHED")
        else:
            self.end(lifecycle.exit_status(exc), exc)


def _store_of(tracker: Tracker) -> str:
    """Which store *tracker* writes to (the same text in every process that selects that store)."""
    from opskit.tracker.capabilities import SupportsLocation

    where = tracker.location() if isinstance(tracker, SupportsLocation) else "?"
    return f"{tracker.name} tracker at {where}"


class _OtherStore:
    """The tracker of a run handle whose process selects another store: every use raises ``ConfigError``.

    Unpickling must not raise (a ``multiprocessing`` pool whose task cannot be unpickled waits
    forever); the first ``log_*`` call does, and the error reaches the caller of ``pool.map``.
    """

    name = "other-store"

    def __init__(self, message: str) -> None:
        self._message = message

    def __getattr__(self, attribute: str) -> Any:
        from opskit.errors import ConfigError

        raise ConfigError(self._message)


def _run_handle(
    run_id: str, name: str, experiment: str, started_at: float, pid: int, store: str
) -> ActiveRun:
    """Rebuild a run sent from process *pid* as a handle on this process's tracker (which must be the same store)."""
    from typing import cast

    from opskit.runtime import get_tracker

    tracker = get_tracker()
    here = _store_of(tracker)
    if here != store:
        tracker = cast(
            Tracker,
            _OtherStore(
                f"run {run_id} ({name!r}) was sent from process {pid}, whose store is the {store}, but this "
                f"process ({os.getpid()}) selects the {here}: its points would go elsewhere. Give this process "
                "the same configuration (OPSKIT_HOME, OPSKIT_TRACKER, tracker options) as the one that began the run"
            ),
        )
    return ActiveRun(
        id=run_id, name=name, experiment=experiment, started_at=started_at, tracker=tracker, pid=pid
    )


def _default_experiment(fallback: str) -> str:
    from opskit.runtime import get_config

    return get_config().experiment or fallback


def new_run(
    *,
    name: str | None,
    experiment: str | None,
    fallback_experiment: str = "default",
    tags: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    code: CodeInfo | None = None,
    env: EnvInfo | None = None,
    inputs: list[DataInput] | None = None,
) -> ActiveRun:
    """Build (not yet begin) an ``ActiveRun`` against the active tracker."""
    from opskit.capture.params import check_param_value
    from opskit.runtime import get_tracker

    run_id = identity.new_run_id()
    clean_tags = _tag_values(tags or {})
    clean_params = {_key(k, "param"): check_param_value(k, v) for k, v in (params or {}).items()}
    for data in inputs or ():  # its name becomes a tag key on MLflow (opskit.data.<name>)
        _key(data.name, "data argument")
    return ActiveRun(
        id=run_id,
        name=validate_run_name(name) if name else f"run-{run_id[:8]}",
        experiment=validate_experiment(experiment or _default_experiment(fallback_experiment)),
        started_at=time.time(),
        tracker=get_tracker(),
        params=clean_params,
        tags=clean_tags,
        code=code,
        env=env,
        inputs=list(inputs or ()),
    )


def start_run(
    name: str | None = None,
    *,
    experiment: str | None = None,
    tags: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
) -> ActiveRun:
    """Start a run by hand (for notebook cells): ``with opskit.start_run(name="eda") as run: ...``.

    The run captures the environment and the git state of the working directory.
    Without ``with``, call ``run.end()`` when done.
    """
    from opskit.capture.code import capture_code
    from opskit.capture.env import capture_env
    from opskit.runtime import get_config

    config = get_config()
    run = new_run(
        name=name,
        experiment=experiment,
        tags=tags,
        params=params,
        code=capture_code(None, git=config.capture_git),
        env=capture_env(packages=config.capture_env),
    )
    return run.begin()


def active_run() -> ActiveRun | None:
    """The run active in this context, or None."""
    return _current.get()


def last_run_id() -> str | None:
    return _last_run_id


def _require(what: str) -> ActiveRun:
    run = _current.get()
    if run is None:
        raise NoActiveRun(
            f"{what} was called outside a run: decorate the function with @opskit.train or "
            "@opskit.track, or wrap the code in `with opskit.start_run():`. From another thread, "
            "log through the run handle (run.log_metric(...))"
        )
    return run


def log_metric(key: str, value: float, step: int | None = None) -> None:
    """Log a metric to the active run (``step`` defaults to the key's next step)."""
    _require(f"log_metric({key!r})").log_metric(key, value, step)


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    """Log several metrics to the active run."""
    _require("log_metrics()").log_metrics(metrics, step)


def log_param(key: str, value: Any) -> None:
    """Log a param (a JSON value) to the active run."""
    _require(f"log_param({key!r})").log_param(key, value)


def log_params(params: Mapping[str, Any]) -> None:
    """Log params to the active run."""
    _require("log_params()").log_params(params)


def set_tag(key: str, value: Any) -> None:
    """Set a tag on the active run."""
    _require(f"set_tag({key!r})").set_tag(key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    """Set tags on the active run."""
    _require("set_tags()").set_tags(tags)


def log_artifact(path: str | Path, name: str | None = None) -> list[Artifact]:
    """Store a file or folder with the active run."""
    return _require(f"log_artifact({str(path)!r})").log_artifact(path, name)
