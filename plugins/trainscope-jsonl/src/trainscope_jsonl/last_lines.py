"""The first and last lines of a log, written whatever went wrong before them.

A log must start with ``run_start`` and end with ``run_end``. When the full event cannot
be built or encoded (an error whose text cannot be made, no memory left), a plain one
with the fields every reader needs takes its place.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from trainscope.plugin_api import RunInfo, RunStatus
from trainscope_jsonl import schema
from trainscope_jsonl.encoding import dumps_line


def _line(event: Callable[[], Mapping[str, Any]], plain: Callable[[], Mapping[str, Any]]) -> bytes:
    try:
        return dumps_line(event())
    except Exception:  # noqa: BLE001 - the plain event says what the full one would have
        return dumps_line(plain())


def _error_name(error: BaseException | None) -> str | None:
    return None if error is None else type(error).__name__


def run_start_line(run: RunInfo) -> bytes:
    """``run_start``; without config, model and environment when those cannot be written."""

    def plain() -> dict[str, Any]:
        return {
            "event": "run_start",
            "run_id": run.run_id,
            "time": run.start_time,
            "schema_version": schema.SCHEMA_VERSION,
            "name": str(run.name),
            "epochs": run.epochs,
            "steps_per_epoch": run.steps_per_epoch,
            "total_steps": run.total_steps,
            "process_count": run.process_count,
            "validation_steps": run.validation_steps,
            "config": {},
            "model": None,
            "environment": {},
        }

    return _line(lambda: schema.run_start(run), plain)


def run_end_line(run: RunInfo, status: RunStatus, error: BaseException | None) -> bytes:
    """``run_end``; with the bare name of the error when its text cannot be written."""

    def plain() -> dict[str, Any]:
        return {
            "event": "run_end",
            "run_id": run.run_id,
            "time": time.time(),
            "status": status,
            "error": _error_name(error),
            "duration": schema.run_duration(run),
        }

    return _line(lambda: schema.run_end(run, status, error), plain)


__all__ = ["run_end_line", "run_start_line"]
