"""What one run's health is made of while it runs: each open phase's step times, the time the
loop waited for data and for the device, alerts, and the other processes' own step times.

The session feeds it each flushed batch (a fixed cost per flush, not per step) and the waits
the loop reports (:meth:`RunHealth.record_wait`); at a phase end it gives the phase's
:class:`~trainscope.health.figures.PhaseHealth`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from trainscope.health.alerts import Alert, AlertWatch
from trainscope.health.figures import PhaseHealth
from trainscope.health.step_times import StepTimes

WaitKind = Literal["data", "device"]
"""What the loop waited for: its next batch, or the device (a step call, its values)."""


class RunHealth:
    """The health figures of one run, by phase name (``train``, ``validation``)."""

    def __init__(self) -> None:
        self.waiting: str = "train"
        """The phase a wait reported now belongs to (the session keeps it current)."""
        self._waits: dict[WaitKind, dict[str, float]] = {"data": {}, "device": {}}
        self._measured: set[WaitKind] = set()
        self._at_start: dict[str, tuple[float, float]] = {}
        self._times: dict[str, StepTimes] = {}
        self._interval = StepTimes()
        """The training's step times since the last evaluation in the middle of it."""
        self._interval_start = (0.0, 0.0)
        self.alerts = AlertWatch()
        self.process_times: dict[int, tuple[int, float]] = {}
        """Each process's ``(epoch, own time per step)`` as the processes last shared them (set
        from another thread; a run in steps has epoch 1)."""
        self.validation_durations: list[float] = []
        """How long each validation in the middle of training took (for the run's ETA)."""
        self.training_so_far = (1, 0.0, 0)
        """The training phase's ``(epoch, elapsed, steps)`` at its last flush."""
        self._returned: tuple[float, str] | None = None

    def record_wait(self, kind: WaitKind, seconds: float, *, measured: bool = True) -> None:
        """The loop waited ``seconds`` for ``kind`` (``measured``: the loop times its waits)."""
        waits = self._waits[kind]
        waits[self.waiting] = waits.get(self.waiting, 0.0) + seconds
        if measured:
            self._measured.add(kind)

    def step_called(self, now: float) -> float:
        """A loop helper's step is called at ``now``: the time since the previous step of the same
        phase returned was the loop's own work, mostly fetching this batch (a data wait)."""
        returned = self._returned
        if returned is not None and returned[1] == self.waiting:
            self.record_wait("data", now - returned[0])
        return now

    def step_returned(self, called: float, now: float) -> None:
        """That step returned at ``now``: the call waited for the device (dispatch waits when the
        device is behind; reading its metrics waits for them)."""
        self.record_wait("device", now - called)
        self._returned = (now, self.waiting)

    def own_time_per_step(self) -> tuple[int, float] | None:
        """``(epoch, seconds)``: this process's own time per training step in the epoch so far,
        the time it did not wait for the device (what the processes compare to find a straggler)."""
        epoch, elapsed, steps = self.training_so_far
        own = self._own_time("train", elapsed, steps)
        return None if own is None else (epoch, own)

    def processes_of(self, epoch: int, count: int) -> dict[int, float]:
        """Every process's own time per step in ``epoch``, or nothing unless all ``count`` shared one."""
        times = {process: seconds for process, (at, seconds) in self.process_times.items() if at == epoch}
        return times if len(times) == count else {}

    def _wait(self, kind: WaitKind, phase: str) -> float:
        return self._waits[kind].get(phase, 0.0)

    def phase_started(self, phase: str) -> None:
        self._at_start[phase] = (self._wait("data", phase), self._wait("device", phase))
        self._times[phase] = StepTimes()
        if phase == "train":
            self._interval = StepTimes()
            self._interval_start = self._at_start[phase]

    def phase_resumed(self, phase: str) -> None:
        """Training resumed after a validation: its next step time starts from there."""
        times = self._times.get(phase)
        if times is not None:
            times.restart()
        self._interval.restart()

    def batch(
        self,
        phase: str,
        epoch: int,
        steps: Sequence[int],
        times: Sequence[float],
        metrics: Mapping[str, Sequence[float | None]],
        phase_key: object,
    ) -> list[Alert]:
        """Count one flushed batch of ``phase``; the alerts it raises."""
        step_times = self._times.get(phase)
        if step_times is not None:
            step_times.add(times)
            if phase == "train":
                self._interval.add(times)
        return list(self.alerts.check(phase, epoch, steps, metrics, phase_key))

    def _own_time(self, phase: str, elapsed: float, steps: int) -> float | None:
        if "device" not in self._measured or steps <= 0:
            return None
        start = self._at_start.get(phase, (0.0, 0.0))[1]
        return max(0.0, elapsed - (self._wait("device", phase) - start)) / steps

    def phase_health(
        self, phase: str, elapsed: float, *, processes: dict[int, float] | None = None
    ) -> PhaseHealth:
        """The figures of ``phase`` (ending now, after ``elapsed`` seconds)."""
        times = self._times.get(phase) or StepTimes()
        return self._health(phase, times, self._at_start.get(phase, (0.0, 0.0)), elapsed, processes)

    def interval_health(self, elapsed: float, *, processes: dict[int, float] | None = None) -> PhaseHealth:
        """The training's figures since the last evaluation (``elapsed`` seconds of training), and
        a new interval from now."""
        health = self._health("train", self._interval, self._interval_start, elapsed, processes)
        self._interval = StepTimes()
        self._interval_start = (self._wait("data", "train"), self._wait("device", "train"))
        return health

    def _health(
        self,
        phase: str,
        times: StepTimes,
        start: tuple[float, float],
        elapsed: float,
        processes: dict[int, float] | None,
    ) -> PhaseHealth:
        data0, device0 = start
        return PhaseHealth(
            steps=times.count,
            step_time_median=times.quantile(0.5),
            step_time_p90=times.quantile(0.9),
            step_time_max=times.maximum if times.count else None,
            step_time_mean=times.mean(),
            outliers=times.outliers(),
            elapsed=elapsed,
            data_wait=self._wait("data", phase) - data0 if "data" in self._measured else None,
            device_wait=self._wait("device", phase) - device0 if "device" in self._measured else None,
            processes=dict(processes or {}),
        )


__all__ = ["RunHealth", "WaitKind"]
