"""``TrainingSession``: the public face of a run, handing each call to the part that owns it
(see the package's docstring for the parts)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

import trainscope.session.arguments as arguments
from trainscope import loops
from trainscope.health.tracker import RunHealth
from trainscope.loops import StepFunction
from trainscope.plugins import PluginManager, create_plugin_manager
from trainscope.run import EpochSummary, EvaluationSummary, PhaseName, RunStatus
from trainscope.session.arguments import status_of
from trainscope.session.errors import called_before, not_in_steps
from trainscope.session.lifecycle import Lifecycle
from trainscope.session.ownership import Ownership, thread_id
from trainscope.session.phases import Phases
from trainscope.session.pipeline import Clock
from trainscope.session.resuming import resume_run
from trainscope.session.states import ACCEPTS_STEPS, State
from trainscope.spec import ModelSpec
from trainscope.values import check_count, check_seconds

_TRAINING = State.TRAINING
_VALIDATING = (State.VALIDATING, State.VALIDATING_PAUSED)


class TrainingSession(loops.LoopHelpers):
    """One training run reported to every enabled plugin.

    A run is declared in epochs (``epochs``, ``steps_per_epoch``) or in steps
    (``total_steps``, with ``epochs`` left out): see the session guide for both.
    ``update_*`` only buffers values (device arrays stay on the device); at most
    every ``refresh_interval`` seconds and at each phase end the buffer is
    converted in one batch and reporters receive ``trainscope_progress``.

    A validation phase may start in the middle of training (validation every N
    steps): the training phase is paused, not ended, and resumes with the next
    training step; each such validation ends with ``trainscope_evaluation_end``.

    Use it as a context manager so that an exception ends the run as ``failed``
    (``interrupted`` for KeyboardInterrupt, SIGTERM, SIGHUP) and reporters still
    close cleanly. Not thread-safe: every call comes from the thread that started the
    run; a call from another thread, or from inside a reporter's hook, raises
    :class:`SessionStateError` (nothing reaches the log twice or out of order).
    ``stop_on_nan`` ends the run as ``failed`` at the first NaN or infinity in a metric
    (:class:`~trainscope.health.alerts.MetricAlertError`); without it the run goes on after the
    alert. ``clock`` is the monotonic clock the run is timed with (a test's or a replay's).

    ``resume`` (a run log, or a run id or its first characters) continues a run that ended
    ``interrupted`` or ``failed`` after its last epoch or step, or after ``resume_at`` (what the
    loop's checkpoint holds): the loop goes on at ``run.resumed.next_epoch`` or ``next_step``.
    A run that cannot be resumed raises :class:`~trainscope.resume.ResumeError` here.
    """

    def __init__(
        self,
        model_name: str,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        validation_steps: int | None = None,
        *,
        total_steps: int | None = None,
        model: ModelSpec | None = None,
        plugins: Iterable[object] | None = None,
        disable: Iterable[str] = (),
        refresh_interval: float = 0.1,
        strict: bool | None = None,
        config: Mapping[str, Any] | None = None,
        environment: Mapping[str, Any] | None = None,
        plugin_manager: PluginManager | None = None,
        process_index: int | None = None,
        process_count: int | None = None,
        last_value_metrics: Iterable[str] = (),
        stop_on_nan: bool = False,
        clock: Clock = time.monotonic,
        resume: str | os.PathLike[str] | None = None,
        resume_at: int | None = None,
    ) -> None:
        self.run = arguments.declared_run(
            model_name,
            epochs,
            steps_per_epoch,
            validation_steps,
            total_steps=total_steps,
            model=model,
            config=config,
            environment=environment,
            process_index=process_index,
            process_count=process_count,
            clock=clock,
        )
        refresh_interval = check_seconds("refresh_interval", refresh_interval)
        self.plugin_manager = plugin_manager or create_plugin_manager(
            plugins=plugins, disable=disable, strict=strict
        )
        self.plugin_manager.process_index = self.run.process_index
        if resume is not None:
            resume_run(self.run, self.plugin_manager, resume, resume_at)
        self.last_value_metrics = arguments.metric_names(last_value_metrics)
        """Metrics shown as their last value, not averaged (a learning rate, a step size)."""
        self._owner = Ownership()
        self._phases = Phases(
            self.run,
            self.plugin_manager,
            self._owner.tell,
            refresh_interval,
            self.last_value_metrics,
            stop_on_nan,
        )
        self._add_step = self._phases.pipeline.add
        self._lifecycle = Lifecycle(self.run, self.plugin_manager, self._owner, self._phases)

    @property
    def in_steps(self) -> bool:
        """True for a run declared in steps (no epochs)."""
        return self.run.epochs is None

    @property
    def refresh_interval(self) -> float:
        """Seconds between two flushes of the steps at most (while steps keep coming)."""
        return self._phases.pipeline.refresh_interval

    @property
    def health(self) -> RunHealth:
        """The run's health as it builds up: ``health.record_wait("data" | "device", seconds)``
        tells it what the loop waited for (see the run-health guide)."""
        return self._phases.health

    @property
    def epoch_summaries(self) -> tuple[EpochSummary, ...]:
        """The summaries of the epochs ended so far, as reporters received them."""
        return tuple(self._phases.epoch_summaries)

    @property
    def evaluations(self) -> tuple[EvaluationSummary, ...]:
        """The summaries of the validations in the middle of training so far."""
        return tuple(self._phases.evaluations)

    # -- run -------------------------------------------------------------------

    def start_training(self) -> None:
        """Start the run (fires ``trainscope_train_start``); does nothing if started."""
        self._lifecycle.start()

    def defer_ready(self) -> None:
        """Let the loop say when its first step is about to run: :meth:`ready`, not the start.

        Call it before the run starts. The reporters' ``trainscope_train_ready`` (where a
        reporter that starts in the background, MLflow's import and connection, waits for
        that start) then runs at :meth:`ready`, so the start overlaps what the loop does first:
        compiling its step, say. Steps reported without :meth:`ready` call it first.
        """
        self._lifecycle.defer_ready()

    def ready(self) -> None:
        """The first step is about to run: wait for the reporters' start (``trainscope_train_ready``).

        Needed only after :meth:`defer_ready`; once per run, later calls do nothing. A
        reporter's start that failed (an MLflow store that cannot be reached) ends the run
        as ``failed`` here, before any step.
        """
        self._lifecycle.ready()

    def finish_training(self) -> None:
        """End the open phases and epoch, then the run as ``completed``; idempotent."""
        self._lifecycle.finish()

    def __enter__(self) -> TrainingSession:
        self.start_training()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is None:
            self._lifecycle.finish()
        else:
            self._lifecycle.abort(status_of(exc), exc)

    def end(self, status: RunStatus, error: BaseException | None = None) -> None:
        """End the run now, once, from any thread: the one gate for "the run has ended".

        On the thread that started the run it is the end an exception brings (what is
        buffered is reported, then ``train_end``). From another thread (a multi-process run's
        peer watcher, when another process failed) the reporters get ``train_end`` once the
        hook in flight on the run's thread returns, and every later call of the session, a
        step included, raises :class:`RunEndedError` naming that end: nothing reported after
        it is silently dropped. A second end does nothing.
        """
        self._lifecycle.end(status, error)

    # -- epochs and phases -------------------------------------------------------

    def start_epoch(self, epoch: int) -> None:
        """Start an epoch and its training phase, ending the previous epoch if still open."""
        self._owner.check("start_epoch")
        self._lifecycle.require_started("start_epoch")
        if self.in_steps:
            raise not_in_steps(
                "start_epoch", "report training steps directly, or declare the run with epochs=N"
            )
        checked = check_count("epoch", epoch, minimum=0)
        assert checked is not None
        self._phases.start_epoch(checked)

    def print_epoch_summary(self) -> None:
        """End the epoch (fires ``trainscope_epoch_end``; the summary reporter prints then)."""
        self._owner.check("print_epoch_summary")
        if self.in_steps:
            raise not_in_steps(
                "print_epoch_summary",
                "a run in steps has no epochs; each validation ends with its own summary "
                "(finish_validation_epoch())",
            )
        if self._phases.epoch is None:
            raise self._phases.refuse("print_epoch_summary")
        self._phases.end_epoch()

    def finish_training_epoch(self) -> None:
        """End the training phase of the current epoch (a second call does nothing)."""
        self._owner.check("finish_training_epoch")
        if self.in_steps:
            raise not_in_steps("finish_training_epoch", "the training phase ends with finish_training()")
        phases = self._phases
        if phases.epoch is None or phases.state in _VALIDATING:
            raise phases.refuse("finish_training_epoch")
        phases.end_training()

    def start_validation(self) -> None:
        """Start a validation phase.

        In a run declared in epochs, a training phase that reached ``steps_per_epoch``
        (or has no known total) ends here, as an epoch's validation follows its
        training; with fewer steps it is paused, and resumes with the next training
        step. In a run declared in steps, training is always paused.
        """
        self._owner.check("start_validation")
        self._phases.start_validation()

    def finish_validation_epoch(self) -> None:
        """End the validation phase (a second call does nothing).

        A validation that paused training then fires ``trainscope_evaluation_end``
        with the training means since the previous evaluation and this validation's.
        """
        self._owner.check("finish_validation_epoch")
        phases = self._phases
        if phases.state in _VALIDATING:
            phases.end_validation()
            return
        current = phases.phase
        if (current is not None and current.name == "validation") or "validation" in phases.epoch_means:
            return  # that validation has ended
        self._lifecycle.require_started("finish_validation_epoch")
        raise called_before("finish_validation_epoch", "start_validation()")

    finish_validation = finish_validation_epoch

    def report_results(self, results: Mapping[str, Any]) -> None:
        """Hand the current phase its exact results, such as ``nnx.MultiMetric.compute()``.

        In a validation phase: that validation's results. In a training phase: the
        results of the training since the last evaluation (or since the phase began).
        Values may be JAX arrays; they are converted in one batch when used. The
        summary and the log then show them instead of the means of the step values;
        the step records keep their own values.
        """
        self._owner.check("report_results")
        self._phases.hand_results(arguments.checked_results(results))

    def flush(self) -> None:
        """Report the buffered steps now, waiting for the device to compute them (the session
        flushes by itself at most every ``refresh_interval`` and at each phase end)."""
        self._owner.check("flush")
        self._phases.pipeline.flush()

    # -- throughput ------------------------------------------------------------

    def set_step_flops(
        self,
        flops: float | StepFunction,
        *example_args: Any,
        dtype: str = "float32",
        devices: int | None = None,
        device_kind: str | None = None,
        batch_size: int | None = None,
        **example_kwargs: Any,
    ) -> float:
        """Tell the session the FLOPs of one training step, once, for FLOP/s and MFU.

        ``flops``: a number, or a jitted step function with example arguments, whose FLOPs
        come from XLA's cost analysis (nothing runs; :func:`trainscope.throughput.step_cost`).
        The MFU peak is looked up by ``device_kind`` (default: the first JAX device's) and
        ``dtype`` (the step's compute dtype), times ``devices`` (default: the devices the step
        runs on, 1 for a number), or comes from ``TRAINSCOPE_PEAK_TFLOPS``. ``batch_size``: the
        examples of the step these FLOPs are of (default: the leading dimension of the last
        example argument); steps of other batch sizes cost in proportion, or exactly when set
        by another call with their batch size. Returns the FLOPs per step.
        """
        return self._phases.intervals.set_step_flops(
            flops,
            example_args,
            example_kwargs,
            dtype=dtype,
            devices=devices,
            device_kind=device_kind,
            batch_size=batch_size,
        )

    # -- loop helpers -----------------------------------------------------------

    def enter_phase(self, phase: PhaseName) -> None:
        """Start the run, and start or resume ``phase``, as a step of it needs (what the loop
        helpers call before each step): a validation step after training starts a validation,
        a training step after a validation ends it and resumes training."""
        self.start_training()
        self._owner.check("enter_phase")
        if ACCEPTS_STEPS.get(self._phases.state) == phase:
            return
        if phase == "validation":
            self.start_validation()
            return
        if self._phases.state in _VALIDATING:
            self.finish_validation_epoch()
        self._phases.enter_training()

    def next_step(self, phase: PhaseName) -> int:
        """The number the loop helpers give the next step of ``phase``: 1 after the phase starts,
        and counting on when a training phase resumes after a validation."""
        self._phases.helper_steps[phase] += 1
        return self._phases.helper_steps[phase]

    # -- steps -----------------------------------------------------------------

    def update_training_progress(
        self,
        step: int,
        loss: Any = None,
        accuracy: Any = None,
        /,
        *,
        batch_size: int | None = None,
        **metrics: Any,
    ) -> None:
        """Report one training step: ``(step, loss, accuracy, **metrics)`` or ``(step, {...})``.

        Values may be Python numbers, numpy scalars, 0-d arrays or JAX arrays; they
        are converted later, in a batch. ``batch_size`` (the number of examples the
        step's values are means over) weights the step in the phase means, so that
        they are means over examples; without it every step weighs the same.
        After a validation that paused training, the first training step resumes it.
        """
        if thread_id() != self._owner.caller:
            self._owner.check("update_training_progress")
        if self._phases.state is not _TRAINING:
            self._phases.enter_training()
        self._add_step(step, loss, accuracy, batch_size, metrics)

    def update_validation_progress(
        self,
        step: int,
        loss: Any = None,
        accuracy: Any = None,
        /,
        *,
        batch_size: int | None = None,
        **metrics: Any,
    ) -> None:
        """Report one validation step; same forms as :meth:`update_training_progress`."""
        if thread_id() != self._owner.caller:
            self._owner.check("update_validation_progress")
        if self._phases.state not in _VALIDATING:
            raise self._phases.refuse("update_validation_progress")
        self._add_step(step, loss, accuracy, batch_size, metrics)
