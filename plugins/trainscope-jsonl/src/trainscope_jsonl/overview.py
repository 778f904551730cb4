"""Whole runs, as ``trainscope compare`` and ``trainscope report`` show them.

A log is read in one streaming pass (:func:`read_overview`): its summary (see
:func:`~trainscope_jsonl.read_summary`), what ``run_start`` says of the run besides its name
(config, environment, model, architecture) and, when asked, its curves (see
:func:`~trainscope_jsonl.read_curves`). The figures of whole runs (how each ended, config
values, final and best metrics, throughput) are then rows of text cells, one cell per run,
``-`` where a run lacks the figure; everything from the log goes through
:func:`trainscope.printable`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainscope.plugin_api import HyperParameter, flatten_config, is_accuracy_like, printable
from trainscope_jsonl import fields
from trainscope_jsonl.curves import MAX_POINTS, CurvesBuilder, RunCurves
from trainscope_jsonl.reader import EventStream
from trainscope_jsonl.summary import EpochRecord, RunSummary, SummaryBuilder
from trainscope_jsonl.table import THROUGHPUT_COLUMNS, format_metric, format_throughput_figure, metric_columns

MISSING_CELL = "-"
"""The cell of a figure a run does not have."""
CELL_LIMIT = 40
"""The longest cell (a config value, an error); longer text is cut with ``...``."""

Row = tuple[str, list[str]]
"""A row of figures: its label and one cell per run."""


@dataclass(frozen=True)
class RunStart:
    """What ``run_start`` says of the run besides its name and declaration."""

    config: dict[str, Any]
    """The hyper-parameters the framework reported (empty when none)."""
    environment: dict[str, Any]
    """Platform, device, versions (empty when none)."""
    model: dict[str, Any] | None
    """The model's totals and size estimates, None without a model."""
    architecture: str | None
    """The model as the architecture printer prints it, None without a model (or in older logs)."""
    started: float | None = None
    """When the run started, in seconds since the Unix epoch (``time``)."""


def _object(event: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    """The object ``event[key]``, or None when it is null or missing."""
    value = event.get(key)
    if value is not None and not isinstance(value, dict):
        raise fields.wrong_type(key, value, "an object")
    return value


def run_start_details(event: Mapping[str, Any]) -> RunStart:
    """The :class:`RunStart` of a ``run_start`` event; ``FieldError`` for a field of the wrong type."""
    return RunStart(
        config=_object(event, "config") or {},
        environment=_object(event, "environment") or {},
        model=_object(event, "model"),
        architecture=fields.optional_text(event, "architecture"),
        started=None if event.get("time") is None else fields.number(event, "time"),
    )


@dataclass(frozen=True)
class RunOverview:
    """A run log read by :func:`read_overview`."""

    summary: RunSummary
    start: RunStart
    curves: RunCurves | None = None
    """The metrics per training step, when asked for."""

    @property
    def path(self) -> Path:
        """The log."""
        return self.summary.path


class _OverviewBuilder(CurvesBuilder):
    """A :class:`CurvesBuilder` that keeps the details of ``run_start``, and the curves only when asked."""

    def __init__(self, stream: EventStream, *, with_curves: bool, max_points: int) -> None:
        super().__init__(stream, max_points)
        self.with_curves = with_curves
        self.start = RunStart({}, {}, None, None)

    def on_run_start(self, event: Mapping[str, Any]) -> RunSummary:
        summary = super().on_run_start(event)
        self.start = run_start_details(event)
        return summary

    def on_step(self, summary: RunSummary, event: Mapping[str, Any]) -> None:
        if self.with_curves:
            super().on_step(summary, event)
        else:  # counted only: no per-step values kept
            SummaryBuilder.on_step(self, summary, event)

    def overview(self) -> RunOverview:
        if self.with_curves:
            curves = self.curves()
            return RunOverview(curves.summary, self.start, curves)
        return RunOverview(self.read(), self.start)


def read_overview(
    path: str | os.PathLike[str], *, curves: bool = False, max_points: int = MAX_POINTS
) -> RunOverview:
    """Read a run log in one streaming pass: its summary, the details of its ``run_start``
    and, with ``curves``, each training metric per global step (see :func:`~trainscope_jsonl.read_curves`).

    Raises :class:`~trainscope_jsonl.LogFormatError` as :func:`~trainscope_jsonl.read_summary`
    does, and for a ``config``, ``environment`` or ``model`` that is not an object.
    """
    return _OverviewBuilder(EventStream(path), with_curves=curves, max_points=max_points).overview()


def cell(text: object) -> str:
    """``text`` safe to print on one line, cut to :data:`CELL_LIMIT` characters."""
    safe = printable(text)
    return safe if len(safe) <= CELL_LIMIT else safe[: CELL_LIMIT - 3] + "..."


def value_text(value: HyperParameter) -> str:
    """A config value as text: strings as they are, others as JSON writes them (``null``, ``0.001``)."""
    return value if isinstance(value, str) else json.dumps(value)


def flat_items(mapping: Mapping[str, Any]) -> dict[str, str]:
    """A nested mapping flattened (``{"optimizer": {"lr": 0.1}}`` -> ``optimizer.lr``), values as text."""
    return {key: value_text(value) for key, value in flatten_config(mapping).items()}


def config_differences(runs: Sequence[RunOverview]) -> list[Row]:
    """The config keys whose values differ between the runs, or that only some runs have."""
    configs = [flat_items(run.start.config) for run in runs]
    keys = dict.fromkeys(key for config in configs for key in config)
    return [
        (cell(key), [cell(config[key]) if key in config else MISSING_CELL for config in configs])
        for key in keys
        if len({config.get(key, MISSING_CELL) for config in configs}) > 1
        or any(key not in config for config in configs)
    ]


def status_text(summary: RunSummary) -> str:
    """``completed``, ``interrupted``, ``failed``; ``no run_end`` or ``log abandoned`` for a log cut short."""
    if summary.abandoned is not None:
        return "log abandoned"
    return "no run_end" if summary.end is None else printable(summary.end.status)


def _length(summary: RunSummary) -> str:
    """``2/10`` epochs finished of those planned, ``-`` in a run declared in steps."""
    done, planned = len(summary.epochs), summary.planned_epochs
    if planned:
        return f"{done}/{planned}"
    return str(done) if done else MISSING_CELL


def _best_where(summary: RunSummary) -> str:
    best = summary.best
    if best is None:
        return MISSING_CELL
    record = best.record
    return f"epoch {record.epoch}" if isinstance(record, EpochRecord) else f"step {record.step}"


def run_rows(runs: Sequence[RunOverview]) -> list[Row]:
    """How each run ended and how long it ran: status, error, time, epochs, training steps, best result."""
    summaries = [run.summary for run in runs]
    return [
        ("Status", [status_text(summary) for summary in summaries]),
        ("Error", [cell(_error(summary) or MISSING_CELL) for summary in summaries]),
        ("Time", [MISSING_CELL if s.end is None else f"{s.end.duration:.2f} s" for s in summaries]),
        ("Epochs", [_length(summary) for summary in summaries]),
        ("Training steps", [_steps(summary) for summary in summaries]),
        ("Best (lowest loss)", [_best_where(summary) for summary in summaries]),
    ]


def _error(summary: RunSummary) -> str | None:
    return summary.abandoned or (None if summary.end is None else summary.end.error)


def _steps(summary: RunSummary) -> str:
    total = summary.total_steps
    return f"{summary.training_steps}/{total}" if total else str(summary.training_steps)


@dataclass(frozen=True)
class MetricRow:
    """A metric's final and best value in each run (epoch or evaluation means)."""

    heading: str
    """``Train loss``, ``Validation accuracy``..."""
    better: str
    """``min`` for loss-like metrics, ``max`` for accuracy-like ones."""
    final: list[str]
    best: list[str]


def _final_and_best(summary: RunSummary, phase: str, metric: str) -> tuple[float | None, float | None]:
    """The metric's value in the last result that has it, and its best finite value."""
    values = [
        value
        for result in summary.results
        if (value := (getattr(result, phase) or {}).get(metric)) is not None
    ]
    finite = [value for value in values if math.isfinite(value)]
    better = max if is_accuracy_like(metric) else min
    return (values[-1] if values else None), (better(finite) if finite else None)


def metric_rows(runs: Sequence[RunOverview]) -> list[MetricRow]:
    """A row per phase and metric any run has, training first, ``loss`` and ``accuracy`` first."""
    rows = []
    for heading, phase, metric in metric_columns([run.summary for run in runs]):
        pairs = [_final_and_best(run.summary, phase, metric) for run in runs]
        rows.append(
            MetricRow(
                heading,
                "max" if is_accuracy_like(metric) else "min",
                [format_metric(metric, final) for final, _ in pairs],
                [format_metric(metric, best) for _, best in pairs],
            )
        )
    return rows


THROUGHPUT_FIGURES: tuple[tuple[str, str], ...] = (
    (THROUGHPUT_COLUMNS[0][0], THROUGHPUT_COLUMNS[0][2]),
    ("Steps/s", "steps_per_second"),
    *((heading, name) for heading, _, name in THROUGHPUT_COLUMNS[1:]),
)
"""(label, name) of each throughput figure of a whole run."""


def throughput_figures(summary: RunSummary) -> dict[str, float]:
    """The throughput of a run: each logged figure (examples/s, FLOP/s, MFU, peak memory) of
    the last epoch (or evaluation) that has it, which leaves out the compilation of the first,
    and ``steps_per_second``, the steps per second of the last training phase."""
    figures: dict[str, float] = {}
    for result in summary.results:
        figures.update(result.throughput)
    training = [phase for phase in summary.phases if phase.phase == "train" and phase.duration > 0]
    if training:
        figures["steps_per_second"] = training[-1].steps / training[-1].duration
    return figures


def throughput_rows(runs: Sequence[RunOverview]) -> list[Row]:
    """A row per throughput figure that some run has."""
    figures = [throughput_figures(run.summary) for run in runs]
    return [
        (
            label,
            [
                MISSING_CELL if name not in run else format_throughput_figure(name, run[name])
                for run in figures
            ],
        )
        for label, name in THROUGHPUT_FIGURES
        if any(name in run for run in figures)
    ]
