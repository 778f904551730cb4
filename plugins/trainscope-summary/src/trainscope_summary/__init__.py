"""Epoch summary printer for trainscope runs."""

from __future__ import annotations

__version__ = "0.1.0"

from trainscope_summary.formatting import (
    BestEpoch,
    best_epoch,
    format_duration,
    format_epoch_summary,
    format_evaluation_summary,
    format_metrics,
    format_run_end,
    format_steps_run_end,
    format_throughput,
    format_value,
    is_accuracy_like,
)
from trainscope_summary.printer import EpochSummaryPrinter

__all__ = [
    "BestEpoch",
    "EpochSummaryPrinter",
    "__version__",
    "best_epoch",
    "format_duration",
    "format_epoch_summary",
    "format_evaluation_summary",
    "format_metrics",
    "format_run_end",
    "format_steps_run_end",
    "format_throughput",
    "format_value",
    "is_accuracy_like",
]
