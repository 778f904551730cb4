"""The ``mlflow`` reporter's hook implementations (entry point ``mlflow``).

The MLflow run is created from ``trainscope_train_start`` on a thread of the reporter
(:class:`BackgroundStart`: mlflow is imported then, not when trainscope loads the plugin,
since importing it takes seconds). ``trainscope_train_ready`` waits for it, so a tracking
store that cannot be reached still stops the run before its first step; every other hook
waits for it too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainscope.plugin_api import (
    Alert,
    EpochSummary,
    EvaluationSummary,
    PerRun,
    PhaseInfo,
    RunInfo,
    RunStatus,
    StepRecords,
    hookimpl,
)
from trainscope_mlflow.background_start import BackgroundStart

if TYPE_CHECKING:
    from trainscope_mlflow.run_logger import MlflowRunLogger

trainscope_external_store = True
"""MLflow writes to its own store (a server or a database), outside the run-file folder."""

_starts: PerRun[BackgroundStart] = PerRun()
"""Open MLflow runs by trainscope run id (several sessions may run in one process)."""


def _logger_of(run: RunInfo) -> MlflowRunLogger | None:
    """The run's logger, once its start is done (None when it has none or its start failed)."""
    start = _starts.get(run)
    return None if start is None else start.logger()


@hookimpl
def trainscope_train_start(run: RunInfo) -> None:
    _starts.start(run, lambda: BackgroundStart(run))


@hookimpl
def trainscope_train_ready(run: RunInfo) -> None:
    """Wait for the run's start: a store that cannot be reached raises here, before any step."""
    _logger_of(run)


@hookimpl
def trainscope_progress(run: RunInfo, phase: PhaseInfo, records: StepRecords) -> None:
    logger = _logger_of(run)
    if logger is not None and records.steps:
        logger.add_steps(phase.name, phase.epoch, records)


@hookimpl
def trainscope_alert(run: RunInfo, alert: Alert) -> None:
    logger = _logger_of(run)
    if logger is not None:
        logger.add_alert(alert)


@hookimpl
def trainscope_evaluation_end(run: RunInfo, summary: EvaluationSummary) -> None:
    logger = _logger_of(run)
    if logger is not None:
        logger.add_epoch(summary, "evaluation")


@hookimpl
def trainscope_epoch_end(run: RunInfo, summary: EpochSummary) -> None:
    logger = _logger_of(run)
    if logger is not None:
        logger.add_epoch(summary)


@hookimpl(trylast=True)
def trainscope_train_end(run: RunInfo, status: RunStatus, error: BaseException | None) -> None:
    """Last of every reporter, so that the JSON-lines log is complete (closed) when it is uploaded."""
    start = _starts.end(run)
    logger = None if start is None else start.logger()
    if logger is not None:
        logger.end(run, status, error)
