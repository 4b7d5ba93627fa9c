"""Run records: a run, its metrics, artifacts, code and environment; lists of runs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from attrs import field, frozen

from opskit.records._common import freeze_map as _freeze_map
from opskit.records._common import html_table as _html_table
from opskit.records._common import when as _when
from opskit.records.data import DataInput
from opskit.records.registry import ModelVersion

if TYPE_CHECKING:
    import pandas

__all__ = [
    "RUN_STATUSES",
    "Artifact",
    "CodeInfo",
    "EnvInfo",
    "Metric",
    "Run",
    "RunList",
    "RunStatus",
]

RunStatus = Literal["RUNNING", "FINISHED", "FAILED", "KILLED"]
RUN_STATUSES: tuple[RunStatus, ...] = ("RUNNING", "FINISHED", "FAILED", "KILLED")


def _no_reader(run_id: str, key: str) -> list[Metric]:
    raise RuntimeError(
        f"no metric reader installed; call opskit.metric_history({run_id!r}, {key!r})"
    )


#: ``(run_id, key) -> points``; ``opskit.runtime`` installs one that reads the active tracker.
_history_reader: Callable[[str, str], list[Metric]] = _no_reader


def set_history_reader(reader: Callable[[str, str], list[Metric]]) -> None:
    """Install the function ``Run.metric_history`` delegates to (called by ``opskit.runtime``)."""
    global _history_reader
    _history_reader = reader


def _inputs(items: Iterable[DataInput]) -> tuple[DataInput, ...]:
    return tuple(items)


def _artifacts(items: Iterable[Artifact]) -> tuple[Artifact, ...]:
    return tuple(items)


@frozen
class Metric:
    """One metric point."""

    key: str
    value: float
    step: int
    timestamp: float


@frozen
class Artifact:
    """A file logged with a run, stored by content digest."""

    name: str
    digest: str
    size_bytes: int


@frozen
class CodeInfo:
    """The code that produced a run."""

    function: str | None = None
    module: str | None = None
    source: str | None = None
    source_file: str | None = None
    file_digest: str | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None
    git_diff: str | None = None
    notebook_cell: str | None = None


@frozen
class EnvInfo:
    """The environment a run ran in."""

    python: str
    implementation: str
    platform: str
    packages: Mapping[str, str] = field(factory=dict, converter=_freeze_map)


@frozen
class Run:
    """Everything captured about one run."""

    id: str
    name: str
    status: RunStatus
    experiment: str
    started_at: float
    ended_at: float | None = None
    user: str | None = None
    host: str | None = None
    params: Mapping[str, Any] = field(factory=dict, converter=_freeze_map)
    metrics: Mapping[str, float] = field(factory=dict, converter=_freeze_map)
    tags: Mapping[str, str] = field(factory=dict, converter=_freeze_map)
    code: CodeInfo | None = None
    env: EnvInfo | None = None
    inputs: tuple[DataInput, ...] = field(default=(), converter=_inputs)
    artifacts: tuple[Artifact, ...] = field(default=(), converter=_artifacts)
    model_version: ModelVersion | None = None
    error: str | None = None

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, or None while running."""
        return None if self.ended_at is None else self.ended_at - self.started_at

    def metric_history(self, key: str) -> list[Metric]:
        """Every logged point of metric *key*, in step order: kept for old code, use ``opskit.metric_history(run.id, key)``.

        The record does no I/O itself: the reading function is installed by ``opskit.runtime``
        (the layer that owns the tracker), so this module imports nothing above it.
        """
        return _history_reader(self.id, key)

    def summary(self) -> str:
        lines = [
            f"run {self.id}  {self.name}  [{self.status}]",
            f"  experiment: {self.experiment}   started: {_when(self.started_at)}"
            + (f"   took: {self.duration:.3f}s" if self.duration is not None else ""),
        ]
        if self.params:
            lines.append(
                "  params:  " + ", ".join(f"{k}={v!r}" for k, v in sorted(self.params.items()))
            )
        if self.metrics:
            lines.append(
                "  metrics: " + ", ".join(f"{k}={v:.6g}" for k, v in sorted(self.metrics.items()))
            )
        for data in self.inputs:
            lines.append(
                f"  input:   {data.name} {data.kind} shape={data.shape} digest={data.digest[:19]}…"
                + (f" dataset={data.dataset}" if data.dataset else "")
            )
        if self.code is not None and self.code.function:
            commit = (self.code.git_commit or "no git")[:12]
            dirty = " (dirty)" if self.code.git_dirty else ""
            lines.append(f"  code:    {self.code.function} @ {commit}{dirty}")
        if self.env is not None:
            lines.append(
                f"  env:     Python {self.env.python} on {self.env.platform}, {len(self.env.packages)} packages"
            )
        if self.model_version is not None:
            lines.append(f"  model:   {self.model_version.summary()}")
        if self.error:
            lines.append("  error:   " + self.error.strip().splitlines()[-1])
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        rows: list[tuple[str, object]] = [
            ("status", self.status),
            ("experiment", self.experiment),
            ("started", _when(self.started_at)),
            ("ended", _when(self.ended_at)),
        ]
        rows += [(f"param {k}", v) for k, v in sorted(self.params.items())]
        rows += [(f"metric {k}", f"{v:.6g}") for k, v in sorted(self.metrics.items())]
        rows += [(f"input {d.name}", f"{d.kind} {d.shape} {d.digest}") for d in self.inputs]
        if self.model_version is not None:
            rows.append(("model", self.model_version.ref))
        if self.error:
            rows.append(("error", self.error.strip().splitlines()[-1]))
        return _html_table(f"Run {self.name} ({self.id})", rows)


class RunList(list[Run]):
    """A list of runs that converts to a DataFrame with ``to_pandas()``.

    From ``search_runs``: ``limit`` is the most it could hold and ``truncated``
    is True when more runs matched than it holds.
    """

    limit: int | None = None
    truncated: bool = False

    def to_pandas(self) -> pandas.DataFrame:
        """One row per run: id, name, status, times, ``params.*``, ``metrics.*``, ``tags.*``."""
        import pandas as pd

        rows = []
        for run in self:
            row: dict[str, Any] = {
                "run_id": run.id,
                "name": run.name,
                "status": run.status,
                "experiment": run.experiment,
                "started_at": pd.Timestamp(run.started_at, unit="s", tz="UTC"),
                "ended_at": pd.Timestamp(run.ended_at, unit="s", tz="UTC")
                if run.ended_at
                else pd.NaT,
                "model_version": run.model_version.ref if run.model_version else None,
            }
            row.update({f"params.{k}": v for k, v in run.params.items()})
            row.update({f"metrics.{k}": v for k, v in run.metrics.items()})
            row.update({f"tags.{k}": v for k, v in run.tags.items()})
            rows.append(row)
        return pd.DataFrame(rows)

    def _repr_html_(self) -> str:
        if not self:
            return "<div>no runs</div>"
        html: str = self.to_pandas().to_html(index=False)
        if self.truncated:
            html += f"<div>first {len(self)} matching runs; more match: pass a larger limit=</div>"
        return html
