"""The training phase's intervals between evaluations and its throughput.

An evaluation in the middle of training (a validation that paused it) closes an interval:
its summary has the training means, throughput and duration since the previous one. The
phase's throughput costs each step by its batch size (:class:`~trainscope.throughput.BatchTally`)
with the FLOPs the loop gave (:meth:`set_step_flops`). Time comes from the clock passed in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from trainscope import device_arrays, loops
from trainscope.loops import StepFunction
from trainscope.metrics import RunningMeans, convert_results
from trainscope.run import EvaluationSummary, PhaseInfo
from trainscope.session.arguments import as_batch_size
from trainscope.session.pipeline import Clock
from trainscope.throughput import BatchTally, DeviceCost, Throughput, peak_flops, step_cost
from trainscope.values import check_count


class TrainingIntervals:
    """What the training phase counted at its last evaluation, and what it costs on the device."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.cost = DeviceCost()
        self.saw_device = False
        """True once a flushed step held device arrays: the peak device memory is then read."""
        self.started_at = 0.0
        """When the current interval began: the run's start, then each evaluation's end."""
        self.means = RunningMeans()
        """The training phase's running means."""
        self._start_means = self.means.snapshot()
        self._start = (0, 0, 0.0)
        """The training phase's (steps, examples, elapsed) at the last evaluation."""
        self._results: Mapping[str, Any] | None = None
        """The exact training results handed since the last evaluation."""
        self.tally = BatchTally()
        """The training phase's steps by batch size, to cost each step as it ran."""
        self._tally_start: dict[int | None, int] = {}

    def start_phase(self, means: RunningMeans) -> None:
        """A training phase started with ``means`` as its running means."""
        self.means = means
        self._start_means = means.snapshot()
        self._start = (0, 0, 0.0)
        self._results = None
        self.tally = BatchTally()
        self._tally_start = {}

    def hand_results(self, results: Mapping[str, Any]) -> None:
        """The loop handed the training's exact results since the last evaluation."""
        self._results = results

    def throughput(
        self, steps: int, examples: int, seconds: float, batch_sizes: Mapping[int | None, int]
    ) -> Throughput | None:
        memory = device_arrays.peak_device_memory() if self.saw_device else None
        return self.cost.throughput(steps, examples, seconds, memory, batch_sizes)

    def phase_throughput(self, train: PhaseInfo) -> Throughput | None:
        """The whole training phase's throughput."""
        return self.throughput(train.steps, train.examples, train.elapsed, dict(self.tally.counts))

    def means_since(self) -> dict[str, float]:
        """The training means since the last evaluation, the exact results handed for them merged in."""
        means = self.means.means_since(self._start_means)
        return means if self._results is None else {**means, **convert_results(self._results)}

    def update_interval_metrics(
        self, train: PhaseInfo, *, final: bool = False, exact: dict[str, float] | None = None
    ) -> None:
        """``train.interval_metrics``: its means since the last evaluation (all of them before one).

        At the phase end (``final``, ``exact``: the training results converted), the results
        handed since the last evaluation are merged in; with no step since that evaluation,
        they stay its figures.
        """
        if not self._start_means[1]:  # no evaluation yet, or none after a step
            train.interval_metrics = train.metrics
        elif not final or train.steps > self._start[0]:
            means = self.means.means_since(self._start_means)
            if final and self._results is not None:  # handed after the last evaluation
                means.update(exact if exact is not None else convert_results(self._results))
            train.interval_metrics = means

    def evaluation(
        self, train: PhaseInfo, validation: dict[str, float] | None, epoch: int | None
    ) -> EvaluationSummary:
        """Close the interval at a validation in the middle of ``train``; its summary."""
        now = self.clock()
        train_means = self.means_since()
        steps0, examples0, elapsed0 = self._start
        self._start = (train.steps, train.examples, train.elapsed)
        batch_sizes = self.tally.since(self._tally_start)
        self._tally_start = dict(self.tally.counts)
        summary = EvaluationSummary(
            throughput=self.throughput(
                train.steps - steps0, train.examples - examples0, train.elapsed - elapsed0, batch_sizes
            ),
            epoch=epoch,
            step=train.step,
            total_steps=train.total,
            train=train_means or None,
            validation=validation,
            duration=now - self.started_at,
        )
        self._start_means = self.means.snapshot()
        self._results = None
        self.started_at = now
        train.interval_metrics = dict(train_means)  # what the bar shows until training resumes
        return summary

    def set_step_flops(
        self,
        flops: float | StepFunction,
        example_args: tuple[Any, ...],
        example_kwargs: dict[str, Any],
        *,
        dtype: str,
        devices: int | None,
        device_kind: str | None,
        batch_size: int | None,
    ) -> float:
        """See :meth:`trainscope.TrainingSession.set_step_flops`."""
        program_devices = 1
        if callable(flops):
            cost = step_cost(flops, *example_args, **example_kwargs)
            flops, program_devices = cost.flops, cost.devices
            if batch_size is None:
                batch_size = loops.infer_batch_size(example_args)
        if (
            isinstance(flops, bool)
            or not isinstance(flops, (int, float))
            or not math.isfinite(flops)
            or flops <= 0
        ):
            raise ValueError(f"flops must be a positive number of FLOPs per step, got {flops!r}")
        devices_count = check_count("devices", program_devices if devices is None else devices, minimum=1)
        assert devices_count is not None
        size = None if batch_size is None else as_batch_size(batch_size) or None
        kind = device_kind if device_kind is not None else device_arrays.device_kind()
        by_batch: dict[int | None, float] = {}
        if size is not None:  # keep the FLOPs of the other batch sizes given
            by_batch = {known: f for known, f in self.cost.flops_by_batch.items() if known}
        by_batch[size] = float(flops)
        self.cost = DeviceCost(by_batch, peak_flops(kind, dtype), devices_count)
        return float(flops)


__all__ = ["TrainingIntervals"]
