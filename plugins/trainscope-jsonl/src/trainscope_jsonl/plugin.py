"""The ``jsonl`` reporter's hook implementations (entry point ``jsonl``).

The log file is created at ``trainscope_train_start``, before the first epoch,
so an unwritable log directory is reported before any training happens. The plugin
is required (``trainscope_required``): any exception from it stops the run as
``failed``, and its ``trainscope_train_end`` still writes ``run_end``.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from trainscope.plugin_api import (
    Alert,
    EpochSummary,
    EvaluationSummary,
    PerRun,
    PhaseInfo,
    ResumePoint,
    RunInfo,
    RunStatus,
    StepRecords,
    hookimpl,
    log_directory,
    warn_plugin,
)
from trainscope_jsonl import schema
from trainscope_jsonl.cli import COMMANDS
from trainscope_jsonl.encoding import dumps_line, encode_steps, step_prefix
from trainscope_jsonl.last_lines import run_end_line, run_start_line
from trainscope_jsonl.resume_point import resume_point
from trainscope_jsonl.writer import LogWriteError, LogWriter, log_file_name

trainscope_required = True
"""A run asked to log never trains unlogged: any failure of this plugin stops the run."""


class OpenLog:
    """One run's open log, the step-line prefix of each phase, and whether a write failed.

    Writes and the final ``run_end`` hold one lock: when another thread ends the run (a
    multi-process run's peer watcher) while the training thread is writing, the training
    thread's lines come first, ``run_end`` last, and nothing is written after it.
    """

    __slots__ = ("_lock", "ended", "failed", "prefixes", "writer")

    def __init__(self, writer: LogWriter) -> None:
        self.writer = writer
        self.prefixes: dict[str, bytes] = {}
        """By phase name: a training phase paused by a validation keeps its prefix."""
        self.failed = False
        """True once a write raised: the run is ending; only ``run_end`` is still tried."""
        self.ended = False
        """True once ``run_end`` was tried: the file is closed."""
        self._lock = threading.Lock()

    def write(self, *chunks: bytes) -> None:
        """Write whole lines; a write that raises (:class:`LogWriteError`, or any other
        exception) marks the log failed, and the run stops.

        Does nothing once the log failed or ended.
        """
        with self._lock:
            if self.failed or self.ended:
                return
            try:
                self.writer.write(*chunks)
            except Exception:
                self.failed = True
                raise

    def sync(self) -> bool:
        """Push the lines written so far to the disk, first creating the file again if it was
        deleted; True when it was (a no-op once the log failed or ended)."""
        with self._lock:
            if self.failed or self.ended:
                return False
            recreated = self.writer.reattach()
            self.writer.sync()
            return recreated

    def end(self, run: RunInfo, status: RunStatus, error: BaseException | None) -> bool:
        """Write ``run_end`` (one last try after a failed write: it may still fit), then close;
        True when the file had been deleted and was created again.

        A log whose ``run_start`` was never written gets one first, so it still reads.
        """
        with self._lock:
            if self.ended:
                return False
            self.ended = True
            try:
                lines = [run_start_line(run)] if self.writer.size == 0 else []
                self.writer.write(*lines, run_end_line(run, status, error))
                return self.writer.reattach()
            finally:
                self.writer.close()


def _encoded(event: Mapping[str, Any]) -> bytes:
    """One event line, or :class:`LogWriteError` naming the event when it cannot be encoded."""
    try:
        return dumps_line(event)
    except (TypeError, ValueError) as exc:  # orjson.JSONEncodeError is both
        raise LogWriteError(
            errno.EINVAL,
            f"trainscope-jsonl could not encode the {event.get('event')} event of the run log: {exc}",
        ) from exc


_open_logs: PerRun[OpenLog] = PerRun()
"""Open logs by run id (several sessions may run in one process)."""


def open_log(run: RunInfo) -> None:
    """Create the run's log file and write ``run_start`` (raises ``LogDirectoryError``); a resumed
    run appends ``run_resume`` to its log instead (raises ``LogWriteError``)."""
    point = run.resumed
    if point is None:
        writer = LogWriter.create(log_directory(), log_file_name(run.name, run.run_id, run.start_time))
    else:
        writer = LogWriter.reopen(Path(point.log))
    log = _open_logs.start(run, lambda: OpenLog(writer))
    run.artifacts["jsonl"] = str(writer.path)
    log.write(_encoded(schema.run_start(run) if point is None else schema.run_resume(run, point)))


def _write_event(run: RunInfo, event: Mapping[str, Any]) -> OpenLog | None:
    """Write one event line to the run's log; the log, or None when it has none open."""
    log = _open_logs.get(run)
    if log is not None:
        log.write(_encoded(event))
    return log


@hookimpl
def trainscope_train_start(run: RunInfo) -> None:
    open_log(run)


@hookimpl
def trainscope_epoch_start(run: RunInfo, epoch: int) -> None:
    _write_event(run, schema.epoch_start(run, epoch))


def _sync(run: RunInfo, log: OpenLog) -> None:
    """fsync the log; warn when its file had been deleted and was created again."""
    if log.sync():
        _warn_recreated(run, log)


def _warn_recreated(run: RunInfo, log: OpenLog) -> None:
    run.artifacts["jsonl"] = str(log.writer.path)
    warn_plugin(
        f"trainscope-jsonl: the run log was deleted during the run (was its folder removed?); "
        f"it is created again at {str(log.writer.path)!r} with every line written so far"
    )


@hookimpl
def trainscope_phase_start(run: RunInfo, phase: PhaseInfo) -> None:
    log = _open_logs.get(run)
    if log is not None:
        log.prefixes[phase.name] = step_prefix(run.run_id, phase.epoch, phase.name)
        log.write(_encoded(schema.phase_start(run, phase)))


@hookimpl
def trainscope_progress(run: RunInfo, phase: PhaseInfo, records: StepRecords) -> None:
    log = _open_logs.get(run)
    if log is not None and not log.failed:
        prefix = log.prefixes.get(phase.name) or step_prefix(run.run_id, phase.epoch, phase.name)
        log.write(*encode_steps(prefix, records))


@hookimpl
def trainscope_alert(run: RunInfo, alert: Alert) -> None:
    """An ``alert`` line, right after the step lines of the batch that raised it."""
    _write_event(run, schema.alert(run, alert))


@hookimpl
def trainscope_phase_end(run: RunInfo, phase: PhaseInfo) -> None:
    _write_event(run, schema.phase_end(run, phase))


@hookimpl
def trainscope_evaluation_end(run: RunInfo, summary: EvaluationSummary) -> None:
    log = _write_event(run, schema.evaluation_end(run, summary))
    if log is not None:
        _sync(run, log)


@hookimpl
def trainscope_epoch_end(run: RunInfo, summary: EpochSummary) -> None:
    log = _write_event(run, schema.epoch_end(run, summary))
    if log is not None:
        _sync(run, log)


@hookimpl
def trainscope_train_end(run: RunInfo, status: RunStatus, error: BaseException | None) -> None:
    log = _open_logs.end(run)
    if log is None:
        return
    try:
        if log.end(run, status, error):
            _warn_recreated(run, log)
    except LogWriteError:
        if not isinstance(error, LogWriteError):
            raise  # the run was fine but its end could not be logged: say so


@hookimpl
def trainscope_resume_point(run: RunInfo, resume: str, at: int | None) -> ResumePoint | None:
    """Where the run ``resume`` names (a log's path, a run id or its first characters) goes on."""
    return resume_point(resume, at)


@hookimpl
def trainscope_register_commands(cli: click.Group) -> None:
    for command in COMMANDS:
        cli.add_command(command)
