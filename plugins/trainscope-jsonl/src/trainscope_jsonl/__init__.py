"""JSON-lines run log for trainscope runs."""

from __future__ import annotations

__version__ = "0.1.0"

from trainscope_jsonl.reader import LogFormatError, RunLog, read_run
from trainscope_jsonl.schema import EVENTS, SCHEMA_VERSION
from trainscope_jsonl.writer import DEFAULT_LOG_DIR, LogDirectoryError

__all__ = [
    "DEFAULT_LOG_DIR",
    "EVENTS",
    "SCHEMA_VERSION",
    "LogDirectoryError",
    "LogFormatError",
    "RunLog",
    "__version__",
    "read_run",
]
