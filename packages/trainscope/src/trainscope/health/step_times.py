"""Step times of a phase, from the times its steps' values were known: median, p90, max and
outliers, kept in a fixed histogram (memory stays the same whatever the number of steps).

A step's time runs from the previous step's values to its own: for device arrays, from one
completion to the next (what the device took); for host values, from one report to the next.
The first step of a phase has none (it may include compiling); steps whose values were found
computed together share the time since the one before them. Quantiles come from
logarithmic bins, 32 per decade (within 3.7% of the exact figure). Of each flushed batch at
most :data:`SAMPLED` step times are counted, evenly spread and each standing for its share
of the batch, plus always the batch's first and last: a stall that holds the loop for a
refresh interval ends a batch, so it is always counted, and the maximum is exact for it.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence

BINS_PER_DECADE = 32
SMALLEST = 1e-7
"""Seconds: step times below this (the clock's resolution) count in the first bin."""
DECADES = 12
SAMPLED = 64
"""Step times counted per flushed batch at most (a fixed cost per flush, not per step)."""
OUTLIER_FACTOR = 3.0
"""A step is an outlier when it took more than this many times the phase's median step time."""
_BINS = BINS_PER_DECADE * DECADES
_LOG_SMALLEST = math.log10(SMALLEST)


def _bin(seconds: float) -> int:
    if seconds <= SMALLEST:
        return 0
    return min(int((math.log10(seconds) - _LOG_SMALLEST) * BINS_PER_DECADE), _BINS - 1)


class StepTimes:
    """The step times of one phase."""

    __slots__ = ("_counts", "_last", "_total", "count", "maximum")

    def __init__(self) -> None:
        self._counts = [0.0] * _BINS
        self._last: float | None = None
        self.count = 0
        """Step times seen (the steps after the phase's first)."""
        self.maximum = 0.0
        """The longest step time counted."""
        self._total = 0.0

    def restart(self) -> None:
        """The next step's time does not run from the last one (the phase was paused)."""
        self._last = None

    def add(self, times: Sequence[float]) -> None:
        """Count the steps of one flushed batch, ``times`` in seconds (any one origin).

        Steps known at one instant (device values found computed together at a flush) share
        the time since the step before them: each is counted at their mean.
        """
        size = len(times)
        if not size:
            return
        last, self._last = self._last, times[-1]
        together = bisect_right(times, times[0])  # the steps known at the batch's first instant
        durations: list[tuple[float, float]] = []  # (seconds, steps it stands for)
        if last is not None:
            durations.append(((times[0] - last) / together, float(together)))
            self.count += together
        inner = size - together  # the steps after, each known at its own time
        if inner > 0:
            start = together
            picked = range(start, size, max(1, inner // SAMPLED))
            if picked[-1] == size - 1:
                weight = inner / len(picked)
                durations.extend((times[i] - times[i - 1], weight) for i in picked)
            else:  # and the batch's last step, where a stall ends a batch, for itself
                weight = (inner - 1) / len(picked)
                durations.extend((times[i] - times[i - 1], weight) for i in picked)
                durations.append((times[-1] - times[-2], 1.0))
            self.count += inner
        counts = self._counts
        for seconds, weight in durations:
            if seconds == seconds:  # not NaN
                counts[_bin(seconds)] += weight
                self._total += seconds * weight
                if seconds > self.maximum:
                    self.maximum = seconds

    def mean(self) -> float | None:
        """The mean step time (None before two steps)."""
        weights = sum(self._counts)
        return self._total / weights if self.count and weights > 0 else None

    def quantile(self, q: float) -> float | None:
        """The step time below which a fraction ``q`` of the steps fall (None before two steps)."""
        total = sum(self._counts)
        if not self.count or total <= 0:
            return None
        rank, seen = q * total, 0.0
        for index, count in enumerate(self._counts):
            seen += count
            if count and seen >= rank:
                middle = SMALLEST * 10 ** ((index + 0.5) / BINS_PER_DECADE)
                return min(middle, self.maximum)
        return self.maximum

    def outliers(self) -> int:
        """Steps (estimated from the counted ones) that took over :data:`OUTLIER_FACTOR` x the median."""
        median = self.quantile(0.5)
        if median is None:
            return 0
        first = _bin(median * OUTLIER_FACTOR) + 1  # whole bins above the limit
        return round(sum(self._counts[first:]))


__all__ = ["OUTLIER_FACTOR", "SAMPLED", "StepTimes"]
