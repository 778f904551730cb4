"""A run's epochs as a text table, for ``trainscope log``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from trainscope_jsonl.reader import RunLog

_PHASES = (("train", "Train"), ("validation", "Validation"))


def _metric_names(epochs: Sequence[dict[str, Any]], phase: str) -> list[str]:
    names: dict[str, None] = {}
    for epoch in epochs:
        names.update(dict.fromkeys(epoch.get(phase) or {}))
    first = [name for name in ("loss", "accuracy") if name in names]
    return first + [name for name in names if name not in first]


def format_metric(name: str, value: Any) -> str:
    """Accuracy-like metrics (name contains ``acc``) as percentages, others with 4 decimals."""
    if not isinstance(value, (int, float)):
        return "-"
    if not math.isfinite(value):
        return str(value)
    return f"{value * 100:.2f}%" if "acc" in name.lower() else f"{value:.4f}"


def _header(log: RunLog) -> str:
    start, end = log.start or {}, log.end
    name = start.get("name", "?")
    run_id = start.get("run_id", "?")
    if end is None:
        state = "no run_end: the process stopped before the run ended"
    else:
        state = f"{end.get('status')} after {end.get('duration', 0):.2f} s"
        if end.get("error"):
            state += f" ({end['error']})"
    return f"Run {name} ({run_id}): {state}"


def format_epochs(log: RunLog) -> str:
    """A header line naming the run and its status, then one row per finished epoch."""
    epochs = log.epochs
    columns: list[tuple[str, str, str]] = []  # (heading, phase, metric)
    for phase, label in _PHASES:
        columns += [(f"{label} {name}", phase, name) for name in _metric_names(epochs, phase)]
    headings = ["Epoch", *(heading for heading, _, _ in columns), "Time"]
    rows = [
        [
            str(epoch.get("epoch", "?")),
            *(format_metric(metric, (epoch.get(phase) or {}).get(metric)) for _, phase, metric in columns),
            f"{epoch.get('duration', 0):.2f}s",
        ]
        for epoch in epochs
    ]
    widths = [max(len(cell) for cell in column) for column in zip(headings, *rows, strict=True)]
    lines = [_header(log)]
    if log.truncated:
        lines.append("(the last line was cut off and is skipped)")
    if not rows:
        lines.append("No epoch finished.")
        return "\n".join(lines)
    lines.append("  ".join(heading.rjust(width) for heading, width in zip(headings, widths, strict=True)))
    lines += ["  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)
