"""Output of a benchmark session: Markdown tables for the terminal and docs, JSON for tools."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness import Comparison, Goal

__all__ = ["format_value", "goals_table", "results_table", "write_json"]


def format_value(value: float, unit: str) -> str:
    """A number as people read it: 3 significant digits for small values, thousands separators for big ones."""
    if math.isinf(value) or math.isnan(value):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if unit.startswith("ms") else f"{value:.2f}"


def _speedup(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}×"
    if value >= 10:
        return f"{value:.1f}×"
    return f"{value:.2f}×"


def results_table(rows: Sequence[Comparison]) -> str:
    """| Benchmark | Measure | Unit | opskit | MLflow | opskit faster by |."""
    lines = [
        "| Benchmark | Measure | Unit | opskit | MLflow | opskit faster by |",
        "|---|---|---|--:|--:|--:|",
    ]
    for row in rows:
        measure = f"{row.measure} ({row.note})" if row.note else row.measure
        lines.append(
            f"| {row.benchmark} | {measure} | {row.unit} | {format_value(row.opskit, row.unit)} "
            f"| {format_value(row.mlflow, row.unit)} | **{_speedup(row.speedup)}** |"
        )
    return "\n".join(lines)


def goals_table(goals: Sequence[Goal], rows: Mapping[str, Comparison]) -> str:
    """| Goal | Measured | Status |."""
    lines = ["| Goal | Measured | Status |", "|---|--:|---|"]
    for goal in goals:
        met = goal.met(rows)
        row = rows.get(goal.row)
        measured = _speedup(row.speedup) if row else "—"
        status = "not measured" if met is None else ("✅ met" if met else "❌ not met")
        lines.append(f"| {goal.description} | {measured} | {status} |")
    return "\n".join(lines)


def write_json(path: Path, payload: Mapping[str, Any]) -> None:
    """Write *payload* as indented JSON, creating the folder; the file is replaced atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    partial.replace(path)
