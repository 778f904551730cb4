"""The records a run log is summed up in (see :func:`~trainscope_jsonl.read_summary`): one per
``phase_end``, ``evaluation_end``, ``epoch_end``, ``alert`` and ``run_end`` event kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_ALERTS = 100
"""Alerts a summary keeps, the first ones (:attr:`RunSummary.alert_count` counts them all)."""

Health = dict[str, Any]
"""A phase's health figures as the log holds them (``PhaseHealth.as_dict()``): ``steps``,
``step_time_median``, ``step_time_p90``, ``step_time_max``, ``step_time_mean``, ``outliers``,
``elapsed``, ``data_wait``, ``device_wait``, ``data_share``, ``device_share`` (numbers or None),
``verdict`` (``input-bound``, ``compute-bound`` or None), ``findings`` (sentences), ``processes``,
``straggler``. The numbers, ``verdict`` and ``findings`` are checked when read."""


@dataclass(frozen=True, kw_only=True)
class TrainingFigures:
    """What an epoch (or an evaluation) logs of its training besides the means, and of the run."""

    throughput: dict[str, float] = field(default_factory=dict)
    """The known throughput figures of the training (schema 2), by field name."""
    health: Health | None = None
    """The health figures of the training (schema 3; see :data:`Health`)."""
    run_elapsed: float | None = None
    """Seconds since the run started (schema 3)."""
    run_eta: float | None = None
    """Seconds the whole run still had to go (schema 3; None when its total is unknown)."""


@dataclass(frozen=True)
class EpochRecord(TrainingFigures):
    """An ``epoch_end`` event: the epoch's means; its training's :class:`TrainingFigures`."""

    epoch: int
    train: dict[str, float] | None
    validation: dict[str, float] | None
    duration: float
    global_step: int
    """The global training step at the epoch's end (see :class:`~trainscope_jsonl.GlobalStep`)."""

    @property
    def number(self) -> int:
        """The epoch."""
        return self.epoch


@dataclass(frozen=True)
class EvaluationRecord(TrainingFigures):
    """An ``evaluation_end`` event: a validation in the middle of training (schema 2); the
    :class:`TrainingFigures` are of the training since the previous evaluation."""

    epoch: int | None
    """The epoch, None in a run declared in steps."""
    step: int
    """The training step the validation followed, as logged."""
    total_steps: int | None
    train: dict[str, float] | None
    """The training means since the previous evaluation."""
    validation: dict[str, float] | None
    duration: float
    global_step: int
    """The global training step where the validation ran (see :class:`~trainscope_jsonl.GlobalStep`)."""

    @property
    def number(self) -> int:
        """The training step the validation followed."""
        return self.step


Result = EpochRecord | EvaluationRecord
"""An epoch's or an evaluation's means: what a run is judged by."""


@dataclass(frozen=True)
class PhaseRecord:
    """A ``phase_end`` event."""

    epoch: int
    phase: str
    steps: int
    means: dict[str, float]
    duration: float
    global_step: int
    """The global training step when the phase ended (a validation phase: where it ran)."""
    health: Health | None = None
    """The phase's health figures (schema 3)."""


@dataclass(frozen=True)
class RunEnd:
    """The ``run_end`` event."""

    status: str
    error: str | None
    duration: float


@dataclass(frozen=True)
class Best:
    """The epoch (or evaluation) with the lowest validation loss, else training loss."""

    record: Result
    phase: str
    """``validation`` or ``train``: whose loss chose it."""
    loss: float


@dataclass(frozen=True)
class AlertRecord:
    """An ``alert`` event (schema 3): the first non-finite value of a metric, or a loss spike."""

    kind: str
    """``non-finite`` or ``spike``."""
    metric: str
    phase: str
    epoch: int | None
    step: int
    value: float
    message: str
    """One line, e.g. ``loss is NaN at step 412 (training, epoch 2)``."""
    global_step: int
    """The global training step when it was logged."""


__all__ = [
    "MAX_ALERTS",
    "AlertRecord",
    "Best",
    "EpochRecord",
    "EvaluationRecord",
    "Health",
    "PhaseRecord",
    "Result",
    "RunEnd",
    "TrainingFigures",
]
