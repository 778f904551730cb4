"""The run's phases: which is open (a :class:`~trainscope.session.states.State` moved only
along the transition tables), its figures, and the hooks each change fires.

Reporters receive a snapshot of a phase at each hook (:func:`snapshot`), never the object
the session goes on updating.
"""

from __future__ import annotations

import operator
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from trainscope.health.alerts import MetricAlertError
from trainscope.health.tracker import RunHealth
from trainscope.metrics import RunningMeans, StepBuffer, convert_results
from trainscope.plugins import PluginManager
from trainscope.run import EpochSummary, EvaluationSummary, PhaseInfo, PhaseName, RunInfo, StepRecords
from trainscope.session.errors import SessionStateError, StepOrderWarning, refused
from trainscope.session.intervals import TrainingIntervals
from trainscope.session.pipeline import StepPipeline
from trainscope.session.resuming import check_first_epoch, check_first_step
from trainscope.session.states import ACCEPTS_STEPS, IN_EPOCHS, IN_STEPS, Event, State
from trainscope.session.summaries import epoch_summary, snapshot, with_run_figures

Tell = Callable[..., None]
"""Calls one plugin-manager hook with the given arguments (as the session's owner allows)."""


class Phases:
    """The state machine of one run: epochs, phases, pauses, and what each phase counted."""

    def __init__(
        self,
        run: RunInfo,
        plugin_manager: PluginManager,
        tell: Tell,
        refresh_interval: float,
        last_value_metrics: frozenset[str],
        stop_on_nan: bool = False,
    ) -> None:
        self.run = run
        self.in_steps = run.epochs is None
        self.hooks = plugin_manager
        self._tell = tell
        self.clock = clock = run.clock
        self.clock_offset = clock_offset = time.time() - clock()  # monotonic to wall-clock time
        self.last_value_metrics = last_value_metrics
        self.state = State.NEW
        self._table = IN_STEPS if self.in_steps else IN_EPOCHS
        self.health = RunHealth()
        self.stop_on_nan = stop_on_nan
        self.pipeline = StepPipeline(self.add_batch, clock, clock_offset, refresh_interval, self._device_wait)
        self.intervals = TrainingIntervals(clock)
        self.epoch: int | None = None
        self._epoch_t0 = 0.0
        self.epoch_means: dict[PhaseName, dict[str, float] | None] = {}
        self.phase: PhaseInfo | None = None
        """The phase steps are reported to (the open validation, or the training phase)."""
        self.train: PhaseInfo | None = None
        """The training phase: open, paused by a validation, or ended."""
        self._phase_t0 = 0.0
        self._train_t0 = 0.0
        self._validation_t0 = 0.0
        self._paused_at = 0.0
        self._pause_end: float | None = None
        """When the last validation of a pause ended (its reporters done): training time again."""
        self._means = RunningMeans(last_value_metrics)
        self._results: dict[PhaseName, Mapping[str, Any]] = {}
        """Exact results handed with ``report_results``, converted when they are used."""
        self._warned_step_order = False
        self.helper_steps: dict[PhaseName, int] = {"train": 0, "validation": 0}
        self.epoch_summaries: list[EpochSummary] = []
        self.evaluations: list[EvaluationSummary] = []
        self.ready_deferred = False
        """Whether ``train_ready`` waits for the loop (``TrainingSession.defer_ready``)."""
        self._ready = False

    # -- transitions -------------------------------------------------------------------

    def _next(self, event: Event, method: str) -> State:
        """The state ``event`` leads to, or the error that explains why not now."""
        target = self._table.get((self.state, event))
        if target is None:
            raise refused(method, self.state, in_steps=self.in_steps, epoch=self.epoch)
        return target

    def refuse(self, method: str) -> SessionStateError:
        """The error for ``method`` now (a call the current state does not allow)."""
        return refused(method, self.state, in_steps=self.in_steps, epoch=self.epoch)

    def start(self) -> None:
        self.state = self._next(Event.START, "start_training")
        self.intervals.started_at = self.clock()

    def ready(self) -> None:
        """Tell the reporters the first step is about to run (``train_ready``), once per run."""
        if not self._ready:
            self._ready = True
            self._tell(self.hooks.train_ready, self.run)

    def finish(self) -> None:
        """End what is open (the last flush included), then the run as completed."""
        if self.in_steps:
            self.end_validation()
            self.end_training()
        else:
            self.end_epoch()
        self.state = self._next(Event.FINISH, "finish_training")

    def start_epoch(self, epoch: int) -> None:
        if self.run.resumed is not None and not self.epoch_summaries and self.epoch is None:
            check_first_epoch(self.run.resumed, epoch)
        self.end_epoch()
        self.state = self._next(Event.START_EPOCH, "start_epoch")
        self.epoch = epoch
        self._epoch_t0 = self.clock()
        self.epoch_means = {}
        self._tell(self.hooks.epoch_start, self.run, epoch)
        self._start_training_phase()

    def end_epoch(self) -> None:
        """End the open epoch (its open phases first); nothing when none is open."""
        if self.epoch is None:
            return
        self.end_validation()
        self.end_training()
        self.state = self._next(Event.END_EPOCH, "print_epoch_summary")
        epoch, self.epoch = self.epoch, None
        summary = epoch_summary(
            self.run, epoch, self.epoch_means, self.clock() - self._epoch_t0, self.train, self.epoch_summaries
        )
        self.epoch_summaries.append(summary)
        self._tell(self.hooks.epoch_end, self.run, epoch, summary)

    def start_validation(self) -> None:
        """Start a validation, ending or pausing the training phase (see the facade's docs)."""
        train = self.train
        if self.state is State.TRAINING and train is not None:
            self.pipeline.flush()
            if not self.in_steps and (train.total is None or train.steps >= train.total):
                self.end_training()
        pausing = self.state in (State.TRAINING, State.PAUSED)
        target = self._next(Event.VALIDATE_PAUSING if pausing else Event.VALIDATE, "start_validation")
        if self.state is State.TRAINING:
            assert train is not None
            train.paused = True
            self._paused_at = self.clock()
            self._pause_end = None
        self.state = target
        self._validation_t0 = self.clock()
        training_step = train.step if train is not None and train.paused else None
        self._start_phase("validation", self.run.validation_steps, training_step=training_step)

    def end_validation(self) -> None:
        """End the open validation; nothing when none is open."""
        if self.state not in (State.VALIDATING, State.VALIDATING_PAUSED):
            return
        validation = self.phase
        assert validation is not None
        target = self._next(Event.END_VALIDATION, "finish_validation_epoch")
        self._end_phase(validation)
        self.state = target
        self.health.waiting = "train"  # the loop's next wait is for training
        if target is State.PAUSED:
            self.health.validation_durations.append(self.clock() - self._validation_t0)
            self._evaluation_end(validation)
            self._pause_end = self.clock()

    def end_training(self) -> None:
        """End the training phase (resuming it first when a validation paused it); nothing when
        it is not open or paused."""
        if self.state not in (State.TRAINING, State.PAUSED):
            return
        target = self._next(Event.END_TRAINING, "finish_training_epoch")
        if self.state is State.PAUSED:  # the run ended on a validation: its clock skips that one too
            self._resume(at_step=False)
        assert self.train is not None
        self._end_phase(self.train)
        self.state = target

    def enter_training(self) -> None:
        """Open (a run in steps) or resume (after a validation) training for a step, or explain why not."""
        if self.state is State.PAUSED:
            self.state = self._next(Event.RESUME, "update_training_progress")
            self._resume()
            return
        self.state = self._next(Event.OPEN_TRAINING, "update_training_progress")
        self._start_training_phase()

    def hand_results(self, results: dict[str, Any]) -> None:
        """The open phase's exact results (see ``TrainingSession.report_results``)."""
        name = ACCEPTS_STEPS.get(self.state)
        if name is None:
            raise SessionStateError(
                "report_results() called with no open phase: call it before the phase ends"
            )
        self._results[name] = results  # type: ignore[index]
        if name == "train":
            self.intervals.hand_results(results)

    # -- phases ------------------------------------------------------------------------

    def _start_training_phase(self) -> None:
        self._start_phase("train", self.run.total_steps if self.in_steps else self.run.steps_per_epoch)
        self.train = self.phase
        self._train_t0 = self._phase_t0
        if self.in_steps and self.run.resumed is not None:
            self.helper_steps["train"] = self.run.resumed.step or 0  # the loop helpers count on
        self.intervals.start_phase(self._means)
        self._results.pop("train", None)

    def _start_phase(self, name: PhaseName, total: int | None, *, training_step: int | None = None) -> None:
        now = self.clock()
        self.phase = PhaseInfo(
            name=name,
            epoch=self.epoch if self.epoch is not None else 1,
            total=total,
            start_time=now + self.clock_offset,
            training_step=training_step,
        )
        self._phase_t0 = now
        self.pipeline.restart_interval(now)
        self._means = RunningMeans(self.last_value_metrics)
        self.helper_steps[name] = 0
        self.health.phase_started(name)
        self.health.waiting = name
        if name == "validation":
            self._results.pop("validation", None)
        self._tell(self.hooks.phase_start, self.run, snapshot(self.phase))

    def _resume(self, *, at_step: bool = True) -> None:
        """Make the paused training phase current again; its clock skips the pause.

        The pause ends where the validation ended: the loop's work from there to the next
        training step (reading its batch, a step that computes before it is reported) is
        training. ``at_step=False`` (the phase ends paused): no training came after it.
        """
        train = self.train
        assert train is not None
        train.paused = False
        now = self.clock()
        pause_end = self._pause_end if at_step and self._pause_end is not None else now
        self._train_t0 += pause_end - self._paused_at
        self.phase, self._phase_t0, self._means = train, self._train_t0, self.intervals.means
        self.pipeline.restart_interval(now)
        self.health.phase_resumed("train")
        self.health.waiting = "train"

    def _end_phase(self, phase: PhaseInfo) -> None:
        self.pipeline.flush()
        now = self.clock()  # after the last values came back from the device
        phase.ended = True
        phase.elapsed = now - self._phase_t0
        if phase.name == "train":
            phase.throughput = self.intervals.phase_throughput(phase)
        results = self._results.get(phase.name)
        exact = None if results is None else convert_results(results)
        if exact is not None:  # the exact results replace the means of the same metrics
            phase.metrics = {**phase.metrics, **exact}
        if phase.name == "train":
            self.intervals.update_interval_metrics(phase, final=True, exact=exact)
        phase.health = self.health.phase_health(phase.name, phase.elapsed, processes=self._processes(phase))
        self.epoch_means[phase.name] = dict(phase.metrics) if phase.steps or results is not None else None
        self._tell(self.hooks.phase_end, self.run, snapshot(phase))

    def _evaluation_end(self, validation: PhaseInfo) -> None:
        train = self.train
        assert train is not None
        epoch = None if self.in_steps else validation.epoch
        summary = self.intervals.evaluation(train, self.epoch_means.get("validation"), epoch)
        health = self.health.interval_health(summary.duration, processes=self._processes(train))
        summary = with_run_figures(summary, health, self.run, train, self.health.validation_durations)
        self.evaluations.append(summary)
        self._tell(self.hooks.evaluation_end, self.run, summary)

    # -- steps -------------------------------------------------------------------------

    def add_batch(self, records: StepRecords, taken: StepBuffer, on_device: bool) -> None:
        """A flushed batch of the open phase: update its figures and hand it to the reporters."""
        if not self._ready:  # a loop that deferred it and reports steps without calling it
            self.ready()
        phase = self.phase
        assert phase is not None
        count = len(taken)
        if not self._warned_step_order:
            self._check_step_order(phase, records.steps)
        if self.run.resumed is not None and self.in_steps and phase is self.train and not phase.steps:
            check_first_step(self.run.resumed, records.steps[0])
        if phase.name == "train":  # a step with no batch size adds no examples
            phase.examples += self.intervals.tally.add(count, taken.weights)
        else:
            phase.examples += sum(size for _, size in taken.weights)
        self.intervals.saw_device = self.intervals.saw_device or on_device
        self._means.add(records.metrics, taken.weight_column())
        phase.metrics = self._means.means()
        if phase is self.train:
            self.intervals.update_interval_metrics(phase)
        else:
            phase.interval_metrics = phase.metrics
        phase.step = records.steps[-1]
        phase.steps += count
        phase.elapsed = records.times[-1] - self.clock_offset - self._phase_t0
        if phase is self.train:
            self.health.training_so_far = (phase.epoch, phase.elapsed, phase.steps)
        self._tell(self.hooks.progress, self.run, snapshot(phase), records)
        alerts = self.health.batch(
            phase.name, phase.epoch, records.steps, records.times, records.metrics, phase
        )
        for alert in alerts:
            self._tell(self.hooks.alert, self.run, alert)
            if self.stop_on_nan and alert.kind == "non-finite":
                raise MetricAlertError(alert)

    def _processes(self, phase: PhaseInfo) -> dict[int, float] | None:
        """The processes' own times per step for a training phase of a run of several, this
        one's as of now; none for a run's first epoch, where each process compiles."""
        if phase.name != "train" or self.run.process_count < 2 or (phase.epoch == 1 and not self.in_steps):
            return None
        times = self.health.processes_of(phase.epoch, self.run.process_count)
        own = self.health.own_time_per_step()
        if times and own is not None:
            times[self.run.process_index] = own[1]
        return times

    def _device_wait(self, seconds: float) -> None:
        """The session waited ``seconds`` for the device at a flush."""
        self.health.record_wait("device", seconds, measured=False)

    def _check_step_order(self, phase: PhaseInfo, steps: list[int]) -> None:
        backwards = (phase.steps and steps[0] < phase.step) or not all(map(operator.le, steps, steps[1:]))
        if backwards:
            self._warned_step_order = True
            warnings.warn(
                f"trainscope: step numbers went backwards in the {phase.name} phase of epoch "
                f"{phase.epoch} (after step {phase.step if phase.steps else steps[0]}); reporters plot "
                "and log steps in the order they were reported (shown once per run)",
                StepOrderWarning,
                stacklevel=7,  # the loop's call of update_*_progress, at a flush of the steps
            )


__all__ = ["Phases", "Tell", "snapshot"]
