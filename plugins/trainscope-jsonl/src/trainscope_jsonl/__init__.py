"""JSON-lines run log for trainscope runs."""

from __future__ import annotations

__version__ = "0.1.0"

from trainscope.plugin_api import DEFAULT_LOG_DIR
from trainscope_jsonl.curves import RunCurves, Series, read_curves
from trainscope_jsonl.reader import MAX_LINE_BYTES, EventStream, LogFormatError, RunLog, read_run
from trainscope_jsonl.schema import EVENTS, SCHEMA_VERSION
from trainscope_jsonl.summary import (
    Best,
    EpochRecord,
    EvaluationRecord,
    GlobalStep,
    PhaseRecord,
    RunEnd,
    RunSummary,
    read_summary,
)
from trainscope_jsonl.writer import LogDirectoryError, LogWriteError

__all__ = [
    "DEFAULT_LOG_DIR",
    "EVENTS",
    "MAX_LINE_BYTES",
    "SCHEMA_VERSION",
    "Best",
    "EpochRecord",
    "EvaluationRecord",
    "EventStream",
    "GlobalStep",
    "LogDirectoryError",
    "LogFormatError",
    "LogWriteError",
    "PhaseRecord",
    "RunCurves",
    "RunEnd",
    "RunLog",
    "RunSummary",
    "Series",
    "__version__",
    "read_curves",
    "read_run",
    "read_summary",
]
