"""The ``jsonl`` reporter's hook implementations (entry point ``jsonl``).

The log file is created at ``trainscope_train_start``, before the first epoch,
so an unwritable log directory is reported before any training happens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from trainscope import EpochSummary, PhaseInfo, RunInfo, RunStatus, StepRecords, hookimpl
from trainscope_jsonl import schema
from trainscope_jsonl.cli import COMMANDS
from trainscope_jsonl.encoding import dumps_line, encode_steps, step_prefix
from trainscope_jsonl.writer import LogWriter, log_directory, log_file_name


class RunLog:
    """One run's open log and the step-line prefix of its current phase."""

    __slots__ = ("prefix", "writer")

    def __init__(self, writer: LogWriter) -> None:
        self.writer = writer
        self.prefix = b""


_open_logs: dict[str, RunLog] = {}
"""Open logs by run id (several sessions may run in one process)."""


def open_log(run: RunInfo) -> None:
    """Create the run's log file and write ``run_start``; raises ``LogDirectoryError``."""
    writer = LogWriter.create(log_directory(), log_file_name(run.name, run.run_id, run.start_time))
    writer.write(dumps_line(schema.run_start(run)))
    _open_logs[run.run_id] = RunLog(writer)
    run.artifacts["jsonl"] = str(writer.path)


def _write_event(run: RunInfo, event: Mapping[str, Any]) -> RunLog | None:
    """Write one event line to the run's log; the log, or None when it has none open."""
    log = _open_logs.get(run.run_id)
    if log is not None:
        log.writer.write(dumps_line(event))
    return log


@hookimpl
def trainscope_train_start(run: RunInfo) -> None:
    open_log(run)


@hookimpl
def trainscope_epoch_start(run: RunInfo, epoch: int) -> None:
    _write_event(run, schema.epoch_start(run, epoch))


@hookimpl
def trainscope_phase_start(run: RunInfo, phase: PhaseInfo) -> None:
    log = _write_event(run, schema.phase_start(run, phase))
    if log is not None:
        log.prefix = step_prefix(run.run_id, phase.epoch, phase.name)


@hookimpl
def trainscope_progress(run: RunInfo, records: StepRecords) -> None:
    log = _open_logs.get(run.run_id)
    if log is not None:
        log.writer.write(*encode_steps(log.prefix, records))


@hookimpl
def trainscope_phase_end(run: RunInfo, phase: PhaseInfo) -> None:
    _write_event(run, schema.phase_end(run, phase))


@hookimpl
def trainscope_epoch_end(run: RunInfo, summary: EpochSummary) -> None:
    log = _write_event(run, schema.epoch_end(run, summary))
    if log is not None:
        log.writer.sync()


@hookimpl
def trainscope_train_end(run: RunInfo, status: RunStatus, error: BaseException | None) -> None:
    log = _open_logs.pop(run.run_id, None)
    if log is not None:
        try:
            log.writer.write(dumps_line(schema.run_end(run, status, error)))
        finally:
            log.writer.close()


@hookimpl
def trainscope_register_commands(cli: click.Group) -> None:
    for command in COMMANDS:
        cli.add_command(command)
