"""Alerts: the first non-finite value of a metric, and a training loss spike, found in each
flushed batch as it is reported (no extra pass over the steps).

Rules (documented in the run-health guide):

- **non-finite**: the first NaN or infinity of each metric in the run.
- **spike**: a training loss above :data:`SPIKE_FACTOR` times its running median, the median
  of the last :data:`WINDOW` training losses (once there are :data:`MIN_HISTORY`), when that
  median is positive; at most one per training phase.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

AlertKind = Literal["non-finite", "spike"]
SPIKE_FACTOR = 3.0
WINDOW = 256
MIN_HISTORY = 32


@dataclass(frozen=True)
class Alert:
    """Something in a run's metrics the user should see at once."""

    kind: AlertKind
    """``non-finite`` (NaN or infinity) or ``spike`` (a loss far above its running median)."""
    metric: str
    phase: str
    """``train`` or ``validation``."""
    epoch: int
    step: int
    value: float
    median: float | None = None
    """For a spike: the running median it was measured against."""

    @property
    def message(self) -> str:
        """One line, e.g. ``loss is NaN at step 412 (training, epoch 2)``."""
        where = (
            f"step {self.step} ({'training' if self.phase == 'train' else 'validation'}, epoch {self.epoch})"
        )
        if self.kind == "spike":
            times = self.value / (self.median or 1)
            spiked = f"{self.metric} spiked to {self.value:.4g} at {where}"
            return f"{spiked}, {times:.1f}x its running median {self.median:.4g}"
        shown = "NaN" if math.isnan(self.value) else ("+inf" if self.value > 0 else "-inf")
        return f"{self.metric} is {shown} at {where}"

    def as_dict(self) -> dict[str, object]:
        value = self.value if math.isfinite(self.value) else str(self.value)
        return {
            "kind": self.kind,
            "metric": self.metric,
            "phase": self.phase,
            "epoch": self.epoch,
            "step": self.step,
            "value": value,
            "median": self.median,
            "message": self.message,
        }


class MetricAlertError(RuntimeError):
    """The run stopped on an alert, as asked (``TrainingSession(stop_on_nan=True)``)."""

    def __init__(self, alert: Alert) -> None:
        super().__init__(f"stopped on a non-finite metric (stop_on_nan): {alert.message}")
        self.alert = alert


def _finite_total(column: Sequence[float | None]) -> bool:
    """True when every value of ``column`` is finite (one C-level sum for a column of floats)."""
    try:
        return math.isfinite(sum(column))  # type: ignore[arg-type]
    except TypeError:  # a metric some steps left out
        return math.isfinite(sum(value for value in column if value is not None))


def _first_non_finite(column: Sequence[float | None]) -> int | None:
    return next((i for i, value in enumerate(column) if value is not None and not math.isfinite(value)), None)


class AlertWatch:
    """What one run's batches have raised so far, and the training losses a spike is judged by."""

    def __init__(self) -> None:
        self._non_finite: set[str] = set()
        self._losses: deque[float] = deque(maxlen=WINDOW)
        self._spiked_phase: object = None

    def check(
        self,
        phase: str,
        epoch: int,
        steps: Sequence[int],
        metrics: Mapping[str, Sequence[float | None]],
        phase_key: object,
    ) -> Iterator[Alert]:
        """The alerts of one batch of ``phase`` (``phase_key``: the phase, for one spike each)."""
        for name, column in metrics.items():
            if name in self._non_finite or _finite_total(column):
                continue
            index = _first_non_finite(column)
            if index is None:  # the sum overflowed; every value is finite
                continue
            self._non_finite.add(name)
            value = column[index]
            assert value is not None
            yield Alert("non-finite", name, phase, epoch, steps[index], value)
        if phase != "train":
            return
        losses = metrics.get("loss")
        if losses is None:
            return
        history = self._losses
        if len(history) >= MIN_HISTORY and self._spiked_phase is not phase_key:
            median = sorted(history)[len(history) // 2]
            limit = median * SPIKE_FACTOR
            try:
                top = max(losses)  # type: ignore[type-var]
            except TypeError:  # some steps left the loss out
                top = max((v for v in losses if v is not None), default=0.0)
            if median > 0 and top is not None and top > limit:
                index = next(i for i, v in enumerate(losses) if v is not None and v > limit)
                self._spiked_phase = phase_key
                value = losses[index]
                assert value is not None
                yield Alert("spike", "loss", phase, epoch, steps[index], value, median)
        history.extend(v for v in losses[-WINDOW:] if v is not None and math.isfinite(v))


__all__ = ["MIN_HISTORY", "SPIKE_FACTOR", "WINDOW", "Alert", "AlertKind", "AlertWatch", "MetricAlertError"]
