"""The objects the hooks receive, rebuilt from a run log's events (for ``trainscope watch``).

Every field is read through :mod:`trainscope_jsonl.fields`, so a field of the wrong type is a
:class:`~trainscope_jsonl.fields.FieldError` naming it; fields a log of an older schema lacks
(health, the run's ETA) come back as None.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from trainscope.plugin_api import (
    Alert,
    EpochSummary,
    EvaluationSummary,
    PhaseHealth,
    PhaseInfo,
    PhaseName,
    ResumePoint,
    RunInfo,
    RunStatus,
    StepRecords,
    Throughput,
)
from trainscope_jsonl import fields


class LoggedRunError(Exception):
    """The error a logged run ended with, as its log has it (``"ValueError: bad batch"``)."""


def _mapping(event: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = event.get(key)
    return dict(value) if isinstance(value, Mapping) else {}


def run_info(event: Mapping[str, Any], *, log: Path, clock: Callable[[], float]) -> RunInfo:
    """The run of a ``run_start``, timed by ``clock`` (seconds since the run's start): its
    ``start_monotonic`` is 0, so ``run.elapsed()`` is what ``clock`` says."""
    return RunInfo(
        name=fields.text(event, "name"),
        run_id=fields.text(event, "run_id"),
        epochs=fields.optional_integer(event, "epochs"),
        steps_per_epoch=fields.optional_integer(event, "steps_per_epoch"),
        validation_steps=fields.optional_integer(event, "validation_steps"),
        total_steps=fields.optional_integer(event, "total_steps"),
        config=_mapping(event, "config"),
        environment=_mapping(event, "environment"),
        start_time=fields.number(event, "time"),
        start_monotonic=0.0,
        process_count=fields.optional_integer(event, "process_count") or 1,
        artifacts={"jsonl": str(log)},
        clock=clock,
    )


def resume_point(event: Mapping[str, Any], *, log: Path) -> ResumePoint:
    """The point a ``run_resume`` event says the run went on after."""
    return ResumePoint(
        log=str(log),
        run_id=fields.text(event, "run_id"),
        name=fields.text(event, "name"),
        status=cast("RunStatus | None", fields.optional_text(event, "previous_status")),
        epoch=fields.optional_integer(event, "epoch"),
        step=fields.optional_integer(event, "step"),
        global_step=fields.integer(event, "global_step"),
        last_reported_step=fields.integer(event, "last_reported_step"),
        elapsed=fields.number(event, "elapsed"),
        resumes=fields.integer(event, "resumes") - 1,
        artifacts={"jsonl": str(log)},
    )


def planned_total(run: RunInfo, phase: str) -> int | None:
    """The steps a phase of ``run`` is planned to have, as the session declares them."""
    if phase == "validation":
        return run.validation_steps
    return run.total_steps if run.epochs is None else run.steps_per_epoch


def phase_name(event: Mapping[str, Any]) -> PhaseName:
    """The event's ``phase`` (``train`` or ``validation``; another name is passed on as it is)."""
    return cast(PhaseName, fields.text(event, "phase"))


def phase_info(event: Mapping[str, Any]) -> PhaseInfo:
    """The phase a ``phase_start`` opens."""
    return PhaseInfo(
        name=phase_name(event),
        epoch=fields.integer(event, "epoch"),
        total=fields.optional_integer(event, "total"),
        start_time=fields.number(event, "time"),
        training_step=fields.optional_integer(event, "training_step"),
    )


def snapshot(phase: PhaseInfo) -> PhaseInfo:
    """A copy of ``phase`` for a reporter to keep, as the session hands them."""
    copied = copy.copy(phase)
    copied.metrics = dict(phase.metrics)
    copied.interval_metrics = dict(phase.interval_metrics)
    return copied


def throughput(event: Mapping[str, Any]) -> Throughput | None:
    """The event's ``throughput``, or None when it has none."""
    if event.get("throughput") is None:
        return None
    figures = fields.throughput(event)
    memory = figures.get("peak_memory_bytes")
    return Throughput(
        examples_per_second=figures.get("examples_per_second"),
        flops_per_second=figures.get("flops_per_second"),
        mfu=figures.get("mfu"),
        peak_memory_bytes=None if memory is None else int(memory),
    )


def health(event: Mapping[str, Any]) -> PhaseHealth | None:
    """The event's ``health`` (schema 3), or None when it has none."""
    figures = fields.health(event)
    return None if figures is None else PhaseHealth.from_dict(figures)


def _ended(event: Mapping[str, Any]) -> dict[str, Any]:
    """What an ``epoch_end`` and an ``evaluation_end`` both hold, as their summaries name it."""
    return {
        "train": fields.optional_metrics(event, "train"),
        "validation": fields.optional_metrics(event, "validation"),
        "duration": fields.number(event, "duration"),
        "throughput": throughput(event),
        "health": health(event),
        "run_elapsed": fields.optional_number(event, "run_elapsed"),
        "run_eta": fields.optional_number(event, "run_eta"),
    }


def epoch_summary(event: Mapping[str, Any]) -> EpochSummary:
    """The summary of an ``epoch_end``."""
    return EpochSummary(epoch=fields.integer(event, "epoch"), **_ended(event))


def evaluation_summary(event: Mapping[str, Any]) -> EvaluationSummary:
    """The summary of an ``evaluation_end``."""
    return EvaluationSummary(
        epoch=fields.optional_integer(event, "epoch"),
        step=fields.integer(event, "step"),
        total_steps=fields.optional_integer(event, "total_steps"),
        **_ended(event),
    )


def alert(event: Mapping[str, Any]) -> Alert:
    """The alert of an ``alert`` event."""
    return Alert(
        kind=cast(Any, fields.text(event, "kind")),
        metric=fields.text(event, "metric"),
        phase=fields.text(event, "phase"),
        epoch=fields.integer(event, "epoch"),
        step=fields.integer(event, "step"),
        value=fields.number(event, "value"),
        median=fields.optional_number(event, "median"),
    )


def step_time(event: Mapping[str, Any]) -> float:
    """A ``step`` event's time."""
    when = event.get("time")
    return when if when.__class__ is float else fields.number(event, "time")


def step_records(events: Sequence[Mapping[str, Any]], times: list[float] | None = None) -> StepRecords:
    """The ``step`` events of one phase as the records of one ``trainscope_progress`` call
    (``times``: theirs, when already read)."""
    steps = [
        step if (step := event.get("step")).__class__ is int else fields.integer(event, "step")
        for event in events
    ]
    if times is None:
        times = [step_time(event) for event in events]
    maps: list[Any] = [event.get("metrics") for event in events]
    names = maps[0].keys() if isinstance(maps[0], dict) else None
    if names is not None and all(isinstance(values, dict) and values.keys() == names for values in maps):
        columns: dict[str, list[float | None]] = {name: [values[name] for values in maps] for name in names}
        if all(value.__class__ is float for column in columns.values() for value in column):
            return StepRecords(steps, times, columns)  # the usual batch: the same metrics, all floats
    columns = {}
    for index, event in enumerate(events):
        for name, value in fields.metrics(event, "metrics").items():
            column = columns.get(name)
            if column is None:
                column = columns[name] = [None] * index
            column.append(value)
        for column in columns.values():
            if len(column) <= index:
                column.append(None)
    return StepRecords(steps, times, columns)


class Means:
    """Running means of metrics, one value per step (the log holds no batch sizes)."""

    __slots__ = ("counts", "sums")

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def add(self, metrics: Mapping[str, float]) -> None:
        """Add one step's values."""
        sums, counts = self.sums, self.counts
        for name, value in metrics.items():
            sums[name] = sums.get(name, 0.0) + value
            counts[name] = counts.get(name, 0) + 1

    def add_columns(self, columns: Mapping[str, list[float | None]]) -> None:
        """Add the steps of a batch's columns (None: a step without that metric)."""
        for name, column in columns.items():
            present = [value for value in column if value is not None]
            self.sums[name] = self.sums.get(name, 0.0) + sum(present)
            self.counts[name] = self.counts.get(name, 0) + len(present)

    def merged_after(self, earlier: Means) -> Means:
        """The means of ``earlier``'s steps and then these, in that order of metric names."""
        merged = Means()
        for part in (earlier, self):
            for name, total in part.sums.items():
                merged.sums[name] = merged.sums.get(name, 0.0) + total
                merged.counts[name] = merged.counts.get(name, 0) + part.counts[name]
        return merged

    def means(self) -> dict[str, float]:
        """Each metric's mean."""
        return {name: total / self.counts[name] for name, total in self.sums.items() if self.counts[name]}

    def __bool__(self) -> bool:
        return any(self.counts.values())


__all__ = [
    "LoggedRunError",
    "Means",
    "alert",
    "epoch_summary",
    "evaluation_summary",
    "health",
    "phase_info",
    "phase_name",
    "planned_total",
    "run_info",
    "snapshot",
    "step_records",
    "step_time",
    "throughput",
]
