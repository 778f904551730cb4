"""The ``mlflow`` reporter's hook implementations (entry point ``mlflow``).

The MLflow run is created at ``trainscope_train_start``, so a tracking store that
cannot be reached stops the run before any training. mlflow is imported then too, not
when trainscope loads the plugin (importing it takes seconds).
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

if TYPE_CHECKING:
    from trainscope_mlflow.run_logger import MlflowRunLogger

trainscope_external_store = True
"""MLflow writes to its own store (a server or a database), outside the run-file folder."""

_loggers: PerRun[MlflowRunLogger] = PerRun()
"""Open MLflow runs by trainscope run id (several sessions may run in one process)."""


@hookimpl
def trainscope_train_start(run: RunInfo) -> None:
    from trainscope_mlflow.run_logger import MlflowRunLogger

    _loggers.start(run, lambda: MlflowRunLogger(run))


@hookimpl
def trainscope_progress(run: RunInfo, phase: PhaseInfo, records: StepRecords) -> None:
    logger = _loggers.get(run)
    if logger is not None and records.steps:
        logger.add_steps(phase.name, phase.epoch, records)


@hookimpl
def trainscope_alert(run: RunInfo, alert: Alert) -> None:
    logger = _loggers.get(run)
    if logger is not None:
        logger.add_alert(alert)


@hookimpl
def trainscope_evaluation_end(run: RunInfo, summary: EvaluationSummary) -> None:
    logger = _loggers.get(run)
    if logger is not None:
        logger.add_epoch(summary, "evaluation")


@hookimpl
def trainscope_epoch_end(run: RunInfo, summary: EpochSummary) -> None:
    logger = _loggers.get(run)
    if logger is not None:
        logger.add_epoch(summary)


@hookimpl(trylast=True)
def trainscope_train_end(run: RunInfo, status: RunStatus, error: BaseException | None) -> None:
    """Last of every reporter, so that the JSON-lines log is complete (closed) when it is uploaded."""
    logger = _loggers.end(run)
    if logger is not None:
        logger.end(run, status, error)
