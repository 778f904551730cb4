"""Where a run goes on, as its log says (the ``trainscope_resume_point`` hook): the log found by
its path or run id, read in one streaming pass, the point checked against what it holds."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trainscope.plugin_api import RESUMABLE, ResumeError, ResumePoint, log_directory
from trainscope.plugin_api import environment_variables as core_env
from trainscope_jsonl import fields
from trainscope_jsonl.reader import EventStream, LogFormatError, open_log_file, parse_line
from trainscope_jsonl.summary import RunSummary, SummaryBuilder

MIN_ID_CHARACTERS = 4
"""The fewest characters of a run id that ``resume=`` takes."""

_ID = re.compile(r"[0-9a-f]+")
_FILE_ID = re.compile(r"-([0-9a-f]{8})(?:-\d+)?\.jsonl$")
"""The id part of a log's name (``...-3ab1ac0a.jsonl``, or ``...-3ab1ac0a-2.jsonl``)."""


def _first_run_id(path: Path) -> str | None:
    """The run id of the log's ``run_start`` (its first line), or None when it has none."""
    try:
        with open_log_file(path) as file:
            event = parse_line(file.readline(1 << 24))
    except (OSError, ValueError):
        return None
    run_id = event.get("run_id") if event.get("event") == "run_start" else None
    return run_id if isinstance(run_id, str) else None


def find_log(resume: str) -> Path:
    """The log ``resume`` names: a path to a file, or a run id (or its first characters) whose log
    is in the run-file folder; :class:`ResumeError` when there is none, or several."""
    path = Path(resume).expanduser()
    if path.is_file():
        return path
    prefix = resume.strip().lower()
    folder = log_directory()
    if resume.endswith(".jsonl") or not _ID.fullmatch(prefix) or len(prefix) < MIN_ID_CHARACTERS:
        raise ResumeError(
            f"cannot resume {resume!r}: no such run log file, and not a run id (give a log's path, "
            f"or at least {MIN_ID_CHARACTERS} characters of its run id, as in "
            "'20261202T101500.000Z-Net-3ab1ac0a.jsonl' -> 3ab1ac0a)"
        )
    candidates = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
    named = [
        candidate
        for candidate in candidates
        if (match := _FILE_ID.search(candidate.name)) is not None and match.group(1).startswith(prefix[:8])
    ]
    ids = {candidate: _first_run_id(candidate) for candidate in named}
    found = [
        candidate for candidate, run_id in ids.items() if run_id is not None and run_id.startswith(prefix)
    ]
    if not found:
        raise ResumeError(
            f"cannot resume {resume!r}: no run log of that run id in {str(folder)!r}; give the log's path, "
            f"or set {core_env.TRAINSCOPE_LOG_DIR} to the folder the run wrote its log to"
        )
    if len({ids[candidate] for candidate in found}) > 1:
        names = ", ".join(candidate.name for candidate in found[:5])
        raise ResumeError(
            f"cannot resume {resume!r}: several runs' ids begin so ({names}); give more of the id"
        )
    return found[-1]


class _PointReader(SummaryBuilder):
    """A summary that also keeps, for each epoch ended, its last training step as reported, and
    the run's training time so far."""

    def __init__(self, stream: EventStream) -> None:
        super().__init__(stream)
        self.last_reported: dict[int, int] = {}
        self.elapsed = 0.0

    def on_epoch_end(self, summary: RunSummary, event: Mapping[str, Any]) -> None:
        super().on_epoch_end(summary, event)
        self.last_reported[summary.epochs[-1].epoch] = self.global_step.last_reported
        self._saw_elapsed(summary.epochs[-1].run_elapsed)

    def on_evaluation_end(self, summary: RunSummary, event: Mapping[str, Any]) -> None:
        super().on_evaluation_end(summary, event)
        self._saw_elapsed(summary.evaluations[-1].run_elapsed)

    def on_run_end(self, summary: RunSummary, event: Mapping[str, Any]) -> None:
        super().on_run_end(summary, event)
        if summary.end is not None:
            self._saw_elapsed(summary.end.duration)

    def on_run_resume(self, summary: RunSummary, event: Mapping[str, Any]) -> None:
        super().on_run_resume(summary, event)
        kept = {record.epoch for record in summary.epochs}
        self.last_reported = {epoch: step for epoch, step in self.last_reported.items() if epoch in kept}
        self._saw_elapsed(fields.number(event, "elapsed"))

    def _saw_elapsed(self, seconds: float | None) -> None:
        if seconds is not None:
            self.elapsed = max(self.elapsed, seconds)


def _point_in_epochs(
    summary: RunSummary, reader: _PointReader, log: str, at: int | None
) -> tuple[int, int, int]:
    """The epoch kept, its global step and its last training step as reported."""
    ended = [record.epoch for record in summary.epochs]
    last = max(ended, default=0)
    epoch = last if at is None else at
    if epoch > last:
        raise ResumeError(
            f"cannot resume {log!r} after epoch {epoch}: its log holds epochs up to {last} "
            f"(give resume_at={last} or less)"
        )
    if epoch == 0:
        return 0, 0, 0
    record = next((record for record in summary.epochs if record.epoch == epoch), None)
    if record is None:
        raise ResumeError(
            f"cannot resume {log!r} after epoch {epoch}: its log has no end of epoch {epoch} "
            f"(the epochs that ended: {', '.join(map(str, ended))})"
        )
    return epoch, record.global_step, reader.last_reported.get(epoch, 0)


def _point_in_steps(
    summary: RunSummary, reader: _PointReader, log: str, at: int | None
) -> tuple[int, int, int]:
    """The training step kept, its global step and (the same step) as reported."""
    last = reader.global_step.last_reported
    step = last if at is None else at
    if step > last:
        raise ResumeError(
            f"cannot resume {log!r} after step {step}: its log holds training steps up to {last} "
            f"(give resume_at={last} or less)"
        )
    global_step = max(0, summary.training_steps - (last - step))
    return step, global_step, step


def resume_point(resume: str, at: int | None) -> ResumePoint:
    """The point the run ``resume`` names goes on from; :class:`ResumeError` when it cannot."""
    path = find_log(resume)
    log = str(path)
    reader = _PointReader(EventStream(path))
    try:
        summary = reader.read()
    except (LogFormatError, OSError) as exc:
        raise ResumeError(f"cannot resume {log!r}: {exc}") from exc
    if summary.status not in RESUMABLE:
        raise ResumeError(f"cannot resume {log!r}: a {summary.status} run cannot be resumed; start a new run")
    in_epochs = summary.planned_epochs is not None  # as the core declares a run: no epochs, in steps
    epoch: int | None
    step: int | None
    if in_epochs:
        epoch, global_step, last_reported = _point_in_epochs(summary, reader, log, at)
        step = None
    else:
        step, global_step, last_reported = _point_in_steps(summary, reader, log, at)
        epoch = None
    return ResumePoint(
        log=log,
        run_id=summary.run_id,
        name=summary.name,
        status=summary.status,
        epoch=epoch,
        step=step,
        global_step=global_step,
        last_reported_step=last_reported,
        elapsed=reader.elapsed,
        resumes=summary.resumes,
        artifacts={"jsonl": log},
    )


__all__ = ["MIN_ID_CHARACTERS", "find_log", "resume_point"]
