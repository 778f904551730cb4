"""A run log summed up in one streaming pass: the run, its epochs, evaluations and phases,
and how it ended. Step events are counted, not kept, so memory stays flat in the size of the log.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainscope_jsonl import fields
from trainscope_jsonl.reader import EventStream, LogFormatError
from trainscope_jsonl.records import (
    MAX_ALERTS,
    AlertRecord,
    Best,
    EpochRecord,
    EvaluationRecord,
    PhaseRecord,
    Result,
    RunEnd,
)

LOG_WRITE_FAILED = "log write failed"
"""How the error of a ``run_end`` written by a writer that gave up on its log begins."""
LOG_WRITE_ERROR = "LogWriteError:"
"""How the writer's own ``run_end`` names a failed write (``trainscope_jsonl.LogWriteError``)."""


class GlobalStep:
    """Training steps counted across the whole run, monotonic, from the reported step numbers.

    A step number above the last one continues the count (by the difference, so a loop that
    reports every 10th step keeps its spacing); one that is not (a new epoch starting over
    at 1) starts a new stretch after the last. Epoch-based runs, whose steps restart each
    epoch, and step-based runs, whose training goes on after a validation, both count right.
    """

    def __init__(self) -> None:
        self.value = 0
        self._last_reported = 0

    @classmethod
    def continued(cls, value: int, last_reported: int) -> GlobalStep:
        """A resumed run's count: ``value`` steps kept, the last of them reported as ``last_reported``."""
        counter = cls()
        counter.value, counter._last_reported = value, last_reported
        return counter

    @property
    def last_reported(self) -> int:
        """The last training step as reported (0 before any)."""
        return self._last_reported

    def advance(self, reported: int) -> int:
        """Count one training step reported as ``reported``; the global step it is."""
        last, self._last_reported = self._last_reported, reported
        self.value += reported - last if reported > last else max(reported, 1)
        return self.value


@dataclass
class RunSummary:
    """What ``trainscope log`` shows of a run log, read by :func:`read_summary`."""

    path: Path
    name: str
    run_id: str
    planned_epochs: int | None = None
    """``epochs`` of ``run_start``: the epochs planned, None when unknown or declared in steps."""
    total_steps: int | None = None
    """``total_steps`` of ``run_start``: the training steps of a run declared in steps, when known."""
    schema_version: int | None = None
    epochs: list[EpochRecord] = field(default_factory=list)
    evaluations: list[EvaluationRecord] = field(default_factory=list)
    phases: list[PhaseRecord] = field(default_factory=list)
    alerts: list[AlertRecord] = field(default_factory=list)
    """The first :data:`~trainscope_jsonl.records.MAX_ALERTS` ``alert`` events (schema 3)."""
    alert_count: int = 0
    """Every ``alert`` event of the log, kept or not."""
    end: RunEnd | None = None
    """The ``run_end`` event, None when the process stopped before the run ended."""
    abandoned: str | None = None
    """The writer's message when it gave up on the log (a ``log_error`` event, or a failed
    ``run_end`` whose error is the writer's ``LogWriteError``); the run may have gone on."""
    steps: int = 0
    """Step events of every phase."""
    training_steps: int = 0
    """The last global training step (see :class:`GlobalStep`)."""
    truncated: bool = False
    """True when the last line was cut off (and skipped)."""
    resumes: int = 0
    """How many times the run was resumed (``run_resume`` events, schema 4)."""

    @property
    def status(self) -> str | None:
        """``completed``, ``interrupted``, ``failed``, or None without a ``run_end``."""
        return None if self.end is None else self.end.status

    @property
    def results(self) -> list[EpochRecord] | list[EvaluationRecord]:
        """What the run is judged by: its epochs, or without any (a run declared in steps) its evaluations."""
        return self.epochs if self.epochs or not self.evaluations else self.evaluations

    @property
    def best(self) -> Best | None:
        """The result (see :attr:`results`) with the lowest finite validation loss, else the
        lowest training loss; None when none has a finite loss. Ties go to the earlier one."""
        for phase in ("validation", "train"):
            candidates: list[tuple[float, Result]] = [
                (loss, record)
                for record in self.results
                if math.isfinite(loss := (getattr(record, phase) or {}).get("loss", math.nan))
            ]
            if candidates:
                loss, record = min(candidates, key=lambda item: item[0])
                return Best(record, phase, loss)
        return None


def _training_figures(event: Mapping[str, Any]) -> dict[str, Any]:
    """The :class:`~trainscope_jsonl.records.TrainingFigures` of an ``epoch_end`` or
    ``evaluation_end``: throughput (schema 2), health, the run's elapsed time and ETA (schema 3;
    None in older logs)."""
    return {
        "throughput": fields.throughput(event),
        "health": fields.health(event),
        "run_elapsed": fields.optional_number(event, "run_elapsed"),
        "run_eta": fields.optional_number(event, "run_eta"),
    }


def kept_after_resume(epoch: int | None, global_step: int) -> Callable[[int | None, int], bool]:
    """Whether a record (its epoch, its global step) is kept by a ``run_resume`` that went on
    after ``epoch`` (a run in epochs) or after global step ``global_step`` (a run in steps)."""
    if epoch is not None:
        return lambda record_epoch, _: record_epoch is None or record_epoch <= epoch
    return lambda _, record_step: record_step <= global_step


class SummaryBuilder:
    """Builds a :class:`RunSummary` from the events of an :class:`EventStream`, one at a time."""

    def __init__(self, stream: EventStream) -> None:
        self.stream = stream
        self.global_step = GlobalStep()
        self._summary: RunSummary | None = None
        self._handlers: dict[str, Callable[[RunSummary, Mapping[str, Any]], None]] = {
            "step": self.on_step,
            "alert": self.on_alert,
            "phase_end": self.on_phase_end,
            "evaluation_end": self.on_evaluation_end,
            "epoch_end": self.on_epoch_end,
            "run_end": self.on_run_end,
            "run_resume": self.on_run_resume,
            "log_error": self.on_log_error,
        }

    def read(self) -> RunSummary:
        """Read the whole stream; :class:`~trainscope_jsonl.LogFormatError` on a bad line or field."""
        handlers = self._handlers
        for event in self.stream:
            name = event.get("event", fields.MISSING)
            if not isinstance(name, str):
                raise self.stream.error(str(fields.wrong_type("event", name, "a string")))
            try:
                if self._summary is None:
                    self._summary = self._start(name, event)
                elif (handler := handlers.get(name)) is not None:
                    handler(self._summary, event)
                # other events (epoch_start, phase_start, newer ones) carry nothing needed
            except fields.FieldError as exc:
                raise self.stream.error(f"{fields.quoted(name)} event {exc}") from None
        return self._finish()

    def _start(self, name: str, event: Mapping[str, Any]) -> RunSummary:
        if name != "run_start":
            raise self.stream.error(
                f"{fields.quoted(name)} comes before any run_start: not a trainscope run log"
            )
        return self.on_run_start(event)

    def _finish(self) -> RunSummary:
        summary = self._summary
        if summary is None:
            where = repr(str(self.stream.path))
            if self.stream.truncated:
                raise LogFormatError(
                    f"{where} holds no complete line: not a trainscope run log, "
                    "or its run stopped as it started"
                )
            raise LogFormatError(f"{where} is empty: not a trainscope run log (no run_start)")
        summary.training_steps = self.global_step.value
        summary.truncated = self.stream.truncated
        return summary

    def on_run_start(self, event: Mapping[str, Any]) -> RunSummary:
        """The summary begun by ``run_start``."""
        return RunSummary(
            path=self.stream.path,
            name=fields.text(event, "name"),
            run_id=fields.text(event, "run_id"),
            planned_epochs=fields.optional_integer(event, "epochs"),
            total_steps=fields.optional_integer(event, "total_steps"),
            schema_version=fields.optional_integer(event, "schema_version"),
        )

    def on_step(self, summary: RunSummary, event: Mapping[str, Any]) -> None:
        """Count a step; a training step advances the global step."""
        phase, step = event.get("phase"), event.get("step")
        if not isinstance(phase, str):  # checked in full only when wrong: steps are most of a log
            phase = fields.text(event, "phase")
        if step.__class__ is not int:
            step = fields.integer(event, "step")
        summary.steps += 1
        if phase == "train":
            self.global_step.advance(step)

    def on_phase_end(self, summary: RunSummary, event: Mapping[str, Any]) -> None:
        """Keep a ``phase_end``."""
        summary.phases.append(
            PhaseRecord(
                epoch=fields.integer(event, "epoch"),
                phase=fields.text(event, "phase"),
                steps=fields.integer(event, "steps"),
                means=fields.metrics(event, "means"),
                duration=fields.number(event, "duration"),
                global_step=self.global_step.value,
                health=fields.health(event),
            )
        )

    def on_alert(self, summary: RunSummary, event: Mapping[str, Any]) -> None:
        """Count an ``alert``; keep the first :data:`~trainscope_jsonl.records.MAX_ALERTS`."""
        summary.alert_count += 1
        if len(summary.alerts) < MAX_ALERTS:
            summary.alerts.append(
                AlertRecord(
                    kind=fields.text(event, "kind"),
                    metric=fields.text(event, "metric"),
                    phase=fields.text(event, "phase"),
                    epoch=fields.optional_integer(event, "epoch"),
                    step=fields.integer(event, "step"),
                    value=fields.number(event, "value"),
                    message=fields.text(event, "message"),
                    global_step=self.global_step.value,
                )
            )

    def on_evaluation_end(self, summary: RunSummary, event: Mapping[str, Any]) -> None:
        """Keep an ``evaluation_end``."""
        summary.evaluations.append(
            EvaluationRecord(
                epoch=fields.optional_integer(event, "epoch"),
                step=fields.integer(event, "step"),
                total_steps=fields.optional_integer(event, "total_steps"),
                train=fields.optional_metrics(event, "train"),
                validation=fields.optional_metrics(event, "validation"),
                duration=fields.number(event, "duration"),
                global_step=self.global_step.value,
                **_training_figures(event),
            )
        )

    def on_epoch_end(self, summary: RunSummary, event: Mapping[str, Any]) -> None:
        """Keep an ``epoch_end``."""
        summary.epochs.append(
            EpochRecord(
                epoch=fields.integer(event, "epoch"),
                train=fields.optional_metrics(event, "train"),
                validation=fields.optional_metrics(event, "validation"),
                duration=fields.number(event, "duration"),
                global_step=self.global_step.value,
                **_training_figures(event),
            )
        )

    def on_run_end(self, summary: RunSummary, event: Mapping[str, Any]) -> None:
        """Keep the ``run_end``; failed because a write of the log failed (the writer's
        ``LogWriteError``, or an error beginning ``log write failed``), it marks the log abandoned."""
        end = RunEnd(
            status=fields.text(event, "status"),
            error=fields.optional_text(event, "error"),
            duration=fields.number(event, "duration"),
        )
        summary.end = end
        gave_up = end.status == "failed" and (end.error or "").startswith((LOG_WRITE_ERROR, LOG_WRITE_FAILED))
        summary.abandoned = end.error if gave_up else None

    def on_run_resume(self, summary: RunSummary, event: Mapping[str, Any]) -> None:
        """The run went on after an earlier point (schema 4): what was recorded after that point
        is left behind, and the run is open again."""
        epoch = fields.optional_integer(event, "epoch")
        global_step = fields.integer(event, "global_step")
        self.global_step = GlobalStep.continued(global_step, fields.integer(event, "last_reported_step"))
        keep = kept_after_resume(epoch, global_step)
        summary.epochs = [record for record in summary.epochs if keep(record.epoch, record.global_step)]
        summary.evaluations = [r for r in summary.evaluations if keep(r.epoch, r.global_step)]
        summary.phases = [record for record in summary.phases if keep(record.epoch, record.global_step)]
        summary.alerts = [record for record in summary.alerts if keep(record.epoch, record.global_step)]
        summary.training_steps = global_step
        summary.resumes = fields.integer(event, "resumes")
        summary.end = None
        summary.abandoned = None

    def on_log_error(self, summary: RunSummary, event: Mapping[str, Any]) -> None:
        """The writer gave up on the log: keep its message (``error``, else ``message``)."""
        message = next((event[key] for key in ("error", "message") if isinstance(event.get(key), str)), None)
        summary.abandoned = message or "the writer gave up on the log"


def read_summary(path: str | os.PathLike[str]) -> RunSummary:
    """Read a run log in one streaming pass, keeping ``run_start``, ``phase_end``,
    ``evaluation_end``, ``epoch_end``, ``run_end`` and the first alerts, and counting the steps.

    Raises :class:`~trainscope_jsonl.LogFormatError` for a path that is not a regular file,
    an empty log, a line that is not a JSON object or is too long, or a field of the wrong
    type; unknown events and fields are ignored.
    """
    return SummaryBuilder(EventStream(path)).read()


__all__ = [
    "LOG_WRITE_ERROR",
    "LOG_WRITE_FAILED",
    "AlertRecord",
    "Best",
    "EpochRecord",
    "EvaluationRecord",
    "GlobalStep",
    "PhaseRecord",
    "Result",
    "RunEnd",
    "RunSummary",
    "SummaryBuilder",
    "kept_after_resume",
    "read_summary",
]
