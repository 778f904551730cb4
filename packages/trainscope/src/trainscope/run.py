"""The objects reporters receive: the run, a phase, a step record, an epoch summary."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from trainscope.spec import ModelSpec

RunStatus = Literal["completed", "interrupted", "failed"]
PhaseName = Literal["train", "validation"]


@dataclass
class RunInfo:
    """A training run, as every hook sees it.

    ``config`` holds the hyper-parameters a framework chose to report;
    ``environment`` the platform, device and versions.
    """

    name: str
    run_id: str
    epochs: int
    steps_per_epoch: int | None
    validation_steps: int | None
    model: ModelSpec | None = None
    config: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    start_time: float = field(default_factory=time.time)
    """Wall-clock start, seconds since the epoch."""


class StepRecord(NamedTuple):
    """One step: its number, its metrics as floats, and its wall-clock time."""

    step: int
    metrics: dict[str, float]
    time: float
    """Wall-clock time the step was reported, seconds since the epoch."""


@dataclass
class PhaseInfo:
    """A training or validation phase of one epoch, updated at every flush.

    ``metrics`` holds the running means over the steps reported so far; after
    ``trainscope_phase_end`` they are the phase means.
    """

    name: PhaseName
    epoch: int
    total: int | None
    step: int = 0
    steps: int = 0
    """Number of step records reported so far."""
    metrics: dict[str, float] = field(default_factory=dict)
    start_time: float = field(default_factory=time.time)
    elapsed: float = 0.0
    """Seconds from the phase start to its last flushed step (to its end once ended)."""
    ended: bool = False

    @property
    def rate(self) -> float | None:
        """Steps per second so far, or None before any time has passed."""
        return self.steps / self.elapsed if self.elapsed > 0 else None


@dataclass(frozen=True)
class EpochSummary:
    """What an epoch ended with: the means of each phase that ran (None if it did not)."""

    epoch: int
    train: dict[str, float] | None
    validation: dict[str, float] | None
    duration: float
