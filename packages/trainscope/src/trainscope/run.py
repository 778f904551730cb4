"""The objects reporters receive: the run, a phase, a step record, an epoch summary."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, overload

from trainscope.health.figures import PhaseHealth
from trainscope.spec import ModelSpec
from trainscope.throughput import Throughput

if TYPE_CHECKING:
    from trainscope.resume import ResumePoint

RunStatus = Literal["completed", "interrupted", "failed"]
"""How a run ended: ``completed``, ``interrupted`` (Ctrl-C, SIGTERM or SIGHUP) or ``failed``
(any other exception)."""
PhaseName = Literal["train", "validation"]
"""The two kinds of phase: ``train`` and ``validation``."""


@dataclass
class RunInfo:
    """A training run, as every hook sees it.

    A run is declared in epochs (``epochs``, ``steps_per_epoch``) or in steps
    (``epochs`` is None; ``total_steps`` may be known). ``config`` holds the
    hyper-parameters a framework chose to report; ``environment`` the platform, device
    and versions.
    """

    name: str
    """The model or run name given to the session."""
    run_id: str
    """Unique id of this run (32 hex digits)."""
    epochs: int | None
    """The number of epochs; None for a run declared in steps."""
    steps_per_epoch: int | None
    """Training steps per epoch; None when unknown (and in a run declared in steps)."""
    validation_steps: int | None
    """Steps of each validation; None when unknown."""
    total_steps: int | None = None
    """Training steps of a run declared in steps (None when unknown, or in a run of epochs)."""
    model: ModelSpec | None = None
    """What the architecture printer prints, or None."""
    config: dict[str, Any] = field(default_factory=dict)
    """Hyper-parameters the framework or the loop reports, as plain JSON data."""
    environment: dict[str, Any] = field(default_factory=dict)
    """Platform, devices and versions."""
    start_time: float = field(default_factory=time.time)
    """Wall-clock start, seconds since the epoch."""
    start_monotonic: float = field(default_factory=time.monotonic)
    """The start on the monotonic clock: durations come from it, never from the wall clock
    (which may step back or forward during a run)."""
    process_index: int = 0
    """This process's index among the processes of the run (``jax.distributed``); 0 alone."""
    process_count: int = 1
    """How many processes train the run together; reporters run on process 0 only, unless a
    plugin opts in to every process (``trainscope_all_processes = True``)."""
    artifacts: dict[str, str] = field(default_factory=dict)
    """Files reporters write for this run, by name (the jsonl reporter adds ``"jsonl"``,
    its log's path), so that other reporters and the caller can find them."""
    resumed: ResumePoint | None = None
    """Where this run goes on from, when it resumes an earlier one (``TrainingSession(resume=...)``):
    a reporter continues that run's record (the same log, folder or tracking run) after the point."""

    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    """The monotonic clock the session times the run with (``time.monotonic`` unless the
    session was given another)."""

    def elapsed(self) -> float:
        """Seconds since the run started, from the monotonic clock."""
        return self.clock() - self.start_monotonic


class StepRecord(NamedTuple):
    """One step: its number, its metrics as floats, and its wall-clock time."""

    step: int
    """The step number as reported."""
    metrics: dict[str, float]
    """The step's metrics as floats, ``loss`` and ``accuracy`` first."""
    time: float
    """Wall-clock time the step's values were known (seconds since the Unix epoch): when it
    was reported for host values, when the device had computed it for device arrays."""


class StepRecords(Sequence[StepRecord]):
    """The steps of one ``trainscope_progress`` call: a sequence of :class:`StepRecord`.

    Stored column by column; the records are built on first use and kept. Reporters
    that handle many steps can read the columns instead:

    - ``steps``: the step numbers;
    - ``times``: wall-clock times, seconds since the epoch;
    - ``metrics``: metric name -> one float per step (None where that step did not
      report the metric), ``loss`` and ``accuracy`` first.
    """

    __slots__ = ("_dicts", "_records", "metrics", "steps", "times")

    def __init__(self, steps: list[int], times: list[float], metrics: dict[str, list[float | None]]) -> None:
        self.steps = steps
        self.times = times
        self.metrics = metrics
        self._dicts: list[dict[str, float]] | None = None
        self._records: list[StepRecord] | None = None

    def metric_dicts(self) -> list[dict[str, float]]:
        """One ``{name: value}`` dict per step (the records' ``metrics``)."""
        if self._dicts is None:
            dicts: list[dict[str, float]] = [{} for _ in self.steps]
            for name, column in self.metrics.items():
                if None in column:
                    for metrics, value in zip(dicts, column):
                        if value is not None:
                            metrics[name] = value
                else:
                    for metrics, value in zip(dicts, column):
                        metrics[name] = value  # type: ignore[assignment]
            self._dicts = dicts
        return self._dicts

    def records(self) -> list[StepRecord]:
        """The steps as :class:`StepRecord` named tuples."""
        if self._records is None:
            self._records = list(map(StepRecord._make, zip(self.steps, self.metric_dicts(), self.times)))
        return self._records

    def __len__(self) -> int:
        return len(self.steps)

    @overload
    def __getitem__(self, index: int) -> StepRecord: ...
    @overload
    def __getitem__(self, index: slice) -> list[StepRecord]: ...
    def __getitem__(self, index: int | slice) -> StepRecord | list[StepRecord]:
        return self.records()[index]

    def __iter__(self) -> Iterator[StepRecord]:
        return iter(self.records())

    def __repr__(self) -> str:
        return f"StepRecords({self.records()!r})"


@dataclass
class PhaseInfo:
    """A training or validation phase of one epoch, updated at every flush.

    ``metrics`` holds the running means over the steps reported so far; after
    ``trainscope_phase_end`` they are the phase means (or the exact results the loop
    handed with ``report_results``).

    A run declared in steps has one training phase (``epoch`` 1) that validations
    pause. While a validation runs in the middle of training, the training phase is
    ``paused``; the validation's ``training_step`` is the training step it follows.
    """

    name: PhaseName
    """``"train"`` or ``"validation"``."""
    epoch: int
    """The epoch it belongs to (1 in a run declared in steps)."""
    total: int | None
    """Expected number of steps; None when unknown."""
    step: int = 0
    """The last reported step number."""
    steps: int = 0
    """Number of step records reported so far."""
    metrics: dict[str, float] = field(default_factory=dict)
    """Running means of every metric so far; the phase means (the exact results handed with
    ``report_results`` merged in) once ended. A metric the session declares ``last_value_metrics``
    holds its last value."""
    interval_metrics: dict[str, float] = field(default_factory=dict)
    """For a training phase: the running means since the last evaluation in the middle of it
    (what that evaluation's summary shows, until training resumes); ``metrics`` before the
    first evaluation and in a validation phase. A run in steps shows these in its bar."""
    start_time: float = field(default_factory=time.time)
    """Wall-clock start, seconds since the Unix epoch."""
    elapsed: float = 0.0
    """Seconds from the phase start to its last flushed step (to its end once ended); the time
    a training phase spent paused by validations is not counted."""
    ended: bool = False
    """True after ``trainscope_phase_end``."""
    paused: bool = False
    """True for a training phase while a validation in the middle of it runs."""
    examples: int = 0
    """Examples reported so far: the sum of the steps' batch sizes (0 when none was given)."""
    throughput: Throughput | None = None
    """For an ended training phase: examples/s, FLOP/s, MFU and peak memory, where known."""
    training_step: int | None = None
    """For a validation in the middle of training: the last training step before it."""
    health: PhaseHealth | None = None
    """For an ended phase: its step times, what the loop waited for, and the verdict."""

    @property
    def rate(self) -> float | None:
        """Steps per second so far, or None before any time has passed."""
        return self.steps / self.elapsed if self.elapsed > 0 else None


@dataclass(frozen=True)
class EvaluationSummary:
    """A validation in the middle of training ended: the training means since the previous
    evaluation (or the start) and this validation's means (None for a phase with no steps)."""

    epoch: int | None
    """The epoch, or None in a run declared in steps."""
    step: int
    """The training step the validation followed."""
    total_steps: int | None
    """The training phase's total steps (the epoch's in a run of epochs), None when unknown."""
    train: dict[str, float] | None
    """Training means (or exact results) since the previous evaluation."""
    validation: dict[str, float] | None
    """This validation's means (or exact results); None if it had no steps."""
    duration: float
    """Seconds since the previous evaluation (or the start of the run)."""
    throughput: Throughput | None = None
    """The training since the previous evaluation: examples/s, FLOP/s, MFU, peak memory."""
    health: PhaseHealth | None = None
    """The training since the previous evaluation: step times, waits, verdict."""
    run_elapsed: float | None = None
    """Seconds since the run started."""
    run_eta: float | None = None
    """Seconds the whole run still has to go, validations included (None when its total is unknown)."""


@dataclass(frozen=True)
class EpochSummary:
    """What an epoch ended with: the means of each phase that ran (None if it did not)."""

    epoch: int
    """The epoch that ended."""
    train: dict[str, float] | None
    """The training means (or exact results); None if training did not run."""
    validation: dict[str, float] | None
    """The validation means (or exact results); None if validation did not run."""
    duration: float
    """Seconds the epoch took."""
    throughput: Throughput | None = None
    """The epoch's training: examples/s, FLOP/s, MFU and peak memory, where known."""
    health: PhaseHealth | None = None
    """The epoch's training: step times, what the loop waited for, and the verdict."""
    run_elapsed: float | None = None
    """Seconds since the run started."""
    run_eta: float | None = None
    """Seconds the whole run still has to go, validations included (None after the last epoch)."""
