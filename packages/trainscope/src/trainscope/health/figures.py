"""A phase's health figures, the verdicts drawn from them, and the words every reporter shows.

Thresholds (documented in the run-health guide):

- **input-bound**: the loop waited for its next batch for at least :data:`INPUT_BOUND` of the
  phase's time.
- **compute-bound**: it waited for the device (in the step call, or for the values of its
  steps) for at least :data:`COMPUTE_BOUND` of the phase's time.
- Neither is judged on a phase shorter than :data:`MIN_SECONDS` or with fewer than
  :data:`MIN_STEPS` steps, nor where the waits were not measured.
- **outliers**: steps over :data:`~trainscope.health.step_times.OUTLIER_FACTOR` times the
  phase's median step time; a finding, in a phase long enough to judge, when they are at
  least :data:`OUTLIER_SHARE` of the steps or one took over a second more than the median.
- **straggler**: in a run of several processes, a process whose own time per step (the
  time it did not wait for the device) is over :data:`STRAGGLER_FACTOR` times the others'
  median and over :data:`STRAGGLER_MARGIN` seconds more.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from trainscope.health.step_times import OUTLIER_FACTOR
from trainscope.text import format_seconds

Verdict = Literal["input-bound", "compute-bound"]
INPUT_BOUND = 0.5
COMPUTE_BOUND = 0.8
MIN_STEPS = 10
MIN_SECONDS = 1.0
OUTLIER_SHARE = 0.01
STRAGGLER_FACTOR = 1.5
STRAGGLER_MARGIN = 0.001


@dataclass(frozen=True)
class PhaseHealth:
    """What a phase's steps say about its speed: step times, waits and a verdict.

    Times are seconds. ``data_wait`` and ``device_wait`` are None where the loop's waits
    were not measured (see the run-health guide: ``fit``, ``trainscope train``, the loop
    helpers, and the seed API with ``session.timed_batches``/``timed_step``).
    """

    steps: int
    """Step times counted (the phase's steps after its first)."""
    step_time_median: float | None
    step_time_p90: float | None
    step_time_max: float | None
    outliers: int
    """Steps over ``OUTLIER_FACTOR`` x the median (estimated; see ``StepTimes``)."""
    elapsed: float
    """The phase's time the shares are of."""
    data_wait: float | None = None
    """Seconds the loop waited for its next batch."""
    device_wait: float | None = None
    """Seconds the loop waited for the device: in the step call, or for its steps' values."""
    processes: dict[int, float] = field(default_factory=dict)
    """In a run of several processes: each process's own time per step (not waiting for the device)."""
    step_time_mean: float | None = None

    @property
    def data_share(self) -> float | None:
        return (
            None if self.data_wait is None or self.elapsed <= 0 else min(1.0, self.data_wait / self.elapsed)
        )

    @property
    def device_share(self) -> float | None:
        if self.device_wait is None or self.elapsed <= 0:
            return None
        return min(1.0, self.device_wait / self.elapsed)

    @property
    def judged(self) -> bool:
        """True for a phase long enough to judge (:data:`MIN_STEPS`, :data:`MIN_SECONDS`)."""
        return self.steps + 1 >= MIN_STEPS and self.elapsed >= MIN_SECONDS

    @property
    def verdict(self) -> Verdict | None:
        """``input-bound``, ``compute-bound`` or None (balanced, too short, or not measured)."""
        if not self.judged:
            return None
        data, device = self.data_share, self.device_share
        if data is not None and data >= INPUT_BOUND:
            return "input-bound"
        if device is not None and device >= COMPUTE_BOUND:
            return "compute-bound"
        return None

    @property
    def straggler(self) -> tuple[int, float, float] | None:
        """``(process, its own time per step, the others' median)`` for a straggling process."""
        if len(self.processes) < 2:
            return None
        process, slowest = max(self.processes.items(), key=lambda item: item[1])
        others = statistics.median(v for p, v in self.processes.items() if p != process)
        if slowest > others * STRAGGLER_FACTOR and slowest - others > STRAGGLER_MARGIN:
            return process, slowest, others
        return None

    def has_outliers(self) -> bool:
        median, longest = self.step_time_median, self.step_time_max
        if not self.outliers or median is None or not self.judged:
            return False
        return self.outliers >= OUTLIER_SHARE * self.steps or (longest is not None and longest - median > 1.0)

    def findings(self) -> list[str]:
        """The phase's findings as plain sentences (none for a healthy phase)."""
        found = []
        verdict = self.verdict
        if verdict == "input-bound":
            share = self.data_share
            found.append(
                f"input-bound: {share:.0%} of step time waiting for data (see docs: prefetch, workers)"
            )
        elif verdict == "compute-bound":
            found.append(f"compute-bound: {self.device_share:.0%} of step time waiting for the device")
        if self.has_outliers():
            steps = f"{self.outliers} slow step{'s' if self.outliers != 1 else ''}"
            found.append(
                f"{steps} over {OUTLIER_FACTOR:g}x the median {format_seconds(self.step_time_median)} "
                f"(p90 {format_seconds(self.step_time_p90)}, max {format_seconds(self.step_time_max)})"
            )
        straggler = self.straggler
        if straggler is not None:
            process, own, others = straggler
            found.append(
                f"straggler: process {process} takes {format_seconds(own)} per step of its own "
                f"(the others {format_seconds(others)}): the others wait for it"
            )
        return found

    def as_dict(self) -> dict[str, Any]:
        """The figures as the run log stores them."""
        return {
            "steps": self.steps,
            "step_time_median": self.step_time_median,
            "step_time_p90": self.step_time_p90,
            "step_time_max": self.step_time_max,
            "step_time_mean": self.step_time_mean,
            "outliers": self.outliers,
            "elapsed": self.elapsed,
            "data_wait": self.data_wait,
            "device_wait": self.device_wait,
            "data_share": self.data_share,
            "device_share": self.device_share,
            "verdict": self.verdict,
            "processes": {str(p): v for p, v in self.processes.items()} or None,
            "straggler": None if self.straggler is None else self.straggler[0],
            "findings": self.findings(),
        }

    @classmethod
    def from_dict(cls, figures: Mapping[str, Any]) -> PhaseHealth:
        """The figures back from the log (``as_dict``)."""
        return cls(
            steps=int(figures.get("steps") or 0),
            step_time_median=figures.get("step_time_median"),
            step_time_p90=figures.get("step_time_p90"),
            step_time_max=figures.get("step_time_max"),
            step_time_mean=figures.get("step_time_mean"),
            outliers=int(figures.get("outliers") or 0),
            elapsed=float(figures.get("elapsed") or 0.0),
            data_wait=figures.get("data_wait"),
            device_wait=figures.get("device_wait"),
            processes={int(p): float(v) for p, v in (figures.get("processes") or {}).items()},
        )


__all__ = [
    "COMPUTE_BOUND",
    "INPUT_BOUND",
    "MIN_SECONDS",
    "MIN_STEPS",
    "OUTLIER_SHARE",
    "STRAGGLER_FACTOR",
    "STRAGGLER_MARGIN",
    "PhaseHealth",
    "Verdict",
]
