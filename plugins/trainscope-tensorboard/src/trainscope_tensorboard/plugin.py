"""The ``tensorboard`` reporter's hook implementations (entry point ``tensorboard``).

The run folder and its event file are created at ``trainscope_train_start``, so an
unwritable folder is reported before any training happens. tensorboardX is imported
then too, not when trainscope loads the plugin.
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
    from trainscope_tensorboard.writer import RunWriter

_writers: PerRun[RunWriter] = PerRun()
"""Open writers by run id (several sessions may run in one process)."""


@hookimpl
def trainscope_train_start(run: RunInfo) -> None:
    from trainscope_tensorboard.writer import RunWriter

    writer = _writers.start(run, lambda: RunWriter(run))
    run.artifacts["tensorboard"] = str(writer.path)


@hookimpl
def trainscope_progress(run: RunInfo, phase: PhaseInfo, records: StepRecords) -> None:
    writer = _writers.get(run)
    if writer is not None and records.steps:
        writer.add_steps(phase.name, phase.epoch, records)


@hookimpl
def trainscope_alert(run: RunInfo, alert: Alert) -> None:
    writer = _writers.get(run)
    if writer is not None:
        writer.add_alert(alert)


@hookimpl
def trainscope_evaluation_end(run: RunInfo, summary: EvaluationSummary) -> None:
    writer = _writers.get(run)
    if writer is not None:
        writer.add_epoch(summary, "evaluation")


@hookimpl
def trainscope_epoch_end(run: RunInfo, summary: EpochSummary) -> None:
    writer = _writers.get(run)
    if writer is not None:
        writer.add_epoch(summary)


@hookimpl
def trainscope_train_end(run: RunInfo, status: RunStatus, error: BaseException | None) -> None:
    writer = _writers.end(run)
    if writer is not None:
        writer.close(status, error)
