"""Keeps the warnings MLflow and urllib3 log on the reporter's own threads (retries) off the screen.

The reporter says what went wrong in one line of its own instead. So are the records of
the database set-up on those threads, at any level (a first run's ``Creating initial MLflow
database tables...``, which would land among the progress bars). Records from other
threads (the user's own MLflow calls) and the rest below ``WARNING`` (MLflow's links to a
finished run) pass as usual.
"""

from __future__ import annotations

import logging

THREAD_PREFIX = "trainscope-mlflow"
"""The name every thread of the reporter starts with."""

FILTERED_LOGGERS = ("mlflow", "urllib3.connectionpool", "urllib3.connection")
"""Loggers whose own records are filtered (urllib3 logs each retry as a warning)."""
FILTERED_HANDLERS_OF = ("mlflow", "alembic", "sqlalchemy.engine")
"""Loggers whose handlers are filtered: MLflow's handler takes its child loggers' records."""
SET_UP_LOGGERS = ("mlflow.store.db", "alembic", "sqlalchemy")
"""Loggers of the database set-up, kept quiet at every level on the reporter's threads."""


class _ReporterThreads(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not (record.threadName or "").startswith(THREAD_PREFIX):
            return True
        set_up = record.name.startswith(SET_UP_LOGGERS)
        return record.levelno < logging.WARNING and not set_up


_FILTER = _ReporterThreads()


def quiet_reporter_threads() -> None:
    """Filter the warnings of the reporter's threads out of MLflow's and urllib3's logging (idempotent)."""
    filtered: list[logging.Filterer] = [logging.getLogger(name) for name in FILTERED_LOGGERS]
    filtered += [handler for name in FILTERED_HANDLERS_OF for handler in logging.getLogger(name).handlers]
    for target in filtered:
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)


__all__ = ["SET_UP_LOGGERS", "THREAD_PREFIX", "quiet_reporter_threads"]
