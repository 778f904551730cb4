"""A run's metrics against the global training step, read in one streaming pass, for plotting.

Per-step values are kept in a :class:`Series` of bounded size: past its limit,
neighbouring points are merged into means, so memory stays flat in the size of the log.
"""

from __future__ import annotations

import bisect
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trainscope_jsonl import fields
from trainscope_jsonl.reader import EventStream
from trainscope_jsonl.summary import EvaluationRecord, PhaseRecord, RunSummary, SummaryBuilder

MAX_POINTS = 5000
"""Per-step points a :class:`Series` keeps at least before merging neighbours (at most twice as many)."""

MAX_METRICS = 16
"""Metrics kept per run; further names are left out (:attr:`RunCurves.metrics_cut`)."""

Points = tuple[list[float], list[float]]
"""x values and y values."""


class Series:
    """Points added in order, kept as means over buckets of consecutive points.

    Buckets start with one point. When ``2 * max_points`` buckets are held, neighbours
    are merged pairwise and the bucket size doubles. A y value that is not finite (a NaN
    loss) is left out of its bucket's mean; a bucket with none finite has y NaN, drawn as
    a gap. Points are appended as they come and folded into buckets now and then, so
    :meth:`add` stays cheap.
    """

    def __init__(self, max_points: int = MAX_POINTS) -> None:
        if max_points < 1:
            raise ValueError(f"max_points must be at least 1, got {max_points}")
        self.max_points = max_points
        self.bucket = 1
        """Points added per kept point."""
        self._x_sums: list[float] = []
        self._y_sums: list[float] = []
        self._y_counts: list[int] = []
        self._new_x: list[float] = []  # not folded into buckets yet
        self._new_y: list[float] = []

    def add(self, x: float, y: float) -> None:
        """Add the point (x, y)."""
        self._new_x.append(x)
        self._new_y.append(y)
        if len(self._new_x) >= self.max_points and len(self._new_x) >= self.bucket:
            self._fold()

    def _fold(self) -> None:
        """Move every whole bucket of new points into the kept buckets."""
        new_x, new_y, start = self._new_x, self._new_y, 0
        while len(new_x) - start >= self.bucket:
            end = start + self.bucket
            finite = [y for y in new_y[start:end] if math.isfinite(y)]
            self._x_sums.append(sum(new_x[start:end]))
            self._y_sums.append(sum(finite))
            self._y_counts.append(len(finite))
            start = end
            if len(self._x_sums) >= 2 * self.max_points:
                self._merge()
        del new_x[:start], new_y[:start]

    def _merge(self) -> None:
        self._x_sums = [a + b for a, b in zip(self._x_sums[::2], self._x_sums[1::2])]
        self._y_sums = [a + b for a, b in zip(self._y_sums[::2], self._y_sums[1::2])]
        self._y_counts = [a + b for a, b in zip(self._y_counts[::2], self._y_counts[1::2])]
        self.bucket *= 2

    def drop_after(self, x: float) -> None:
        """Leave out the points past ``x`` (the steps a resumed run left behind); a bucket of
        merged points goes by its mean x."""
        kept = bisect.bisect_right(self._new_x, x)
        del self._new_x[kept:], self._new_y[kept:]
        while self._x_sums and self._x_sums[-1] / self.bucket > x:
            self._x_sums.pop(), self._y_sums.pop(), self._y_counts.pop()

    def __len__(self) -> int:
        """The points :meth:`points` returns."""
        return len(self._x_sums) + math.ceil(len(self._new_x) / self.bucket)

    def points(self) -> Points:
        """Each bucket's mean x and mean finite y, the last bucket possibly partial."""
        self._fold()
        xs = [total / self.bucket for total in self._x_sums]
        ys = [total / count if count else math.nan for total, count in zip(self._y_sums, self._y_counts)]
        if self._new_x:
            finite = [y for y in self._new_y if math.isfinite(y)]
            xs.append(sum(self._new_x) / len(self._new_x))
            ys.append(sum(finite) / len(finite) if finite else math.nan)
        return xs, ys


def _ordered(names: Iterable[str]) -> list[str]:
    """``loss`` first, then ``accuracy``, then the others in the order met."""
    unique = list(dict.fromkeys(names))
    first = [name for name in ("loss", "accuracy") if name in unique]
    return first + [name for name in unique if name not in first]


@dataclass
class RunCurves:
    """One run's metrics against the global training step (see :class:`~trainscope_jsonl.GlobalStep`)."""

    summary: RunSummary
    series: dict[str, Series] = field(default_factory=dict)
    """Each training metric per step, by name."""
    metrics: list[str] = field(default_factory=list)
    """Every metric with something to plot, ``loss`` and ``accuracy`` first (at most :data:`MAX_METRICS`)."""
    metrics_cut: bool = False
    """True when the run has more metrics than :data:`MAX_METRICS`: the others are left out."""

    def validation_phases(self) -> list[PhaseRecord]:
        """The ``validation`` phase ends, in order."""
        return [phase for phase in self.summary.phases if phase.phase == "validation"]

    def training_steps(self, metric: str) -> Points:
        """The metric at each training step (bucket means for long runs, see :class:`Series`)."""
        series = self.series.get(metric)
        return series.points() if series is not None else ([], [])

    @property
    def means_per(self) -> str:
        """``epoch``, or ``evaluation`` in a run without epochs (declared in steps)."""
        results = self.summary.results
        return "evaluation" if results and isinstance(results[0], EvaluationRecord) else "epoch"

    def training_means(self, metric: str) -> Points:
        """Each epoch's training mean at the global step of its end; in a run declared in
        steps, each evaluation's (the mean since the previous one) where it ran."""
        results = self.summary.results
        return _metric_points(((result.global_step, result.train) for result in results), metric)

    def validation(self, metric: str) -> Points:
        """The validation mean at the global training step where each validation phase ran."""
        phases = self.validation_phases()
        return _metric_points(((phase.global_step, phase.means) for phase in phases), metric)


def _metric_points(items: Iterable[tuple[int, Mapping[str, float] | None]], metric: str) -> Points:
    pairs = [(float(x), values[metric]) for x, values in items if values and metric in values]
    return [x for x, _ in pairs], [y if math.isfinite(y) else math.nan for _, y in pairs]


class CurvesBuilder(SummaryBuilder):
    """A :class:`SummaryBuilder` that also keeps each training metric per global step."""

    def __init__(self, stream: EventStream, max_points: int = MAX_POINTS) -> None:
        super().__init__(stream)
        self.max_points = max_points
        self.series: dict[str, Series] = {}
        self.metrics_cut = False

    def on_step(self, summary: RunSummary, event: Mapping[str, Any]) -> None:
        super().on_step(summary, event)
        if event.get("phase") != "train":
            return
        x = float(self.global_step.value)
        for name, value in fields.metrics(event, "metrics").items():
            series = self.series.get(name)
            if series is None:
                if len(self.series) >= MAX_METRICS:
                    self.metrics_cut = True
                    continue
                series = self.series[name] = Series(self.max_points)
            series.add(x, value)

    def on_run_resume(self, summary: RunSummary, event: Mapping[str, Any]) -> None:
        super().on_run_resume(summary, event)
        for series in self.series.values():
            series.drop_after(self.global_step.value)

    def curves(self) -> RunCurves:
        """Read the whole stream into a :class:`RunCurves`."""
        summary = self.read()
        names = list(self.series)
        for result in summary.results:
            names += [*(result.train or {}), *(result.validation or {})]
        for phase in summary.phases:
            names += phase.means if phase.phase == "validation" else ()
        ordered = _ordered(names)
        cut = self.metrics_cut or len(ordered) > MAX_METRICS
        return RunCurves(summary, self.series, ordered[:MAX_METRICS], cut)


def read_curves(path: str | os.PathLike[str], *, max_points: int = MAX_POINTS) -> RunCurves:
    """Read a run log in one streaming pass: its summary (see :func:`~trainscope_jsonl.read_summary`)
    and each training metric per global step, at most about ``2 * max_points`` points each.
    """
    return CurvesBuilder(EventStream(path), max_points).curves()
