"""``TrainingSession``: the run > epoch > phase > step state machine reporters follow."""

from __future__ import annotations

import math
import operator
import platform
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any

from trainscope import __version__, device_arrays, loops
from trainscope.device_arrays import jax_array_type, ready_prefix
from trainscope.loops import StepFunction
from trainscope.metrics import (
    FAST_VALUE_TYPES,
    MetricValueError,
    RunningMeans,
    StepBuffer,
    check_metric,
    check_metric_name,
    convert_buffer,
    convert_results,
)
from trainscope.plugins import PluginManager, create_plugin_manager, warn_plugin
from trainscope.run import EpochSummary, EvaluationSummary, PhaseInfo, PhaseName, RunInfo, RunStatus
from trainscope.signals import SignalGuard, Terminated
from trainscope.spec import ModelSpec
from trainscope.throughput import BatchTally, DeviceCost, Throughput, peak_flops, step_cost
from trainscope.values import INT64_MAX, check_count, check_seconds, plain_text, plain_value

MAX_BATCH = 4096
"""Steps buffered at most before a flush: batches stay small enough for the CPU caches."""
_MIN_STEP = -INT64_MAX - 1
_monotonic = time.monotonic
_thread_id = threading.get_ident
_IN_REPORTERS = -1
"""The session's owner while reporters run: a call back into the session from a hook fails."""
_ENDED_ELSEWHERE = -2
"""The session's owner once another thread ended the run: every further call fails."""


class StepOrderWarning(UserWarning):
    """Step numbers went backwards within a phase (shown once per session)."""


class SessionStateError(RuntimeError):
    """A ``TrainingSession`` method was called out of order."""


class RunEndedError(SessionStateError):
    """A session was called after another thread ended its run (:meth:`TrainingSession.end`):
    a multi-process run's peer watcher, when another process failed. ``cause`` is that end's error."""

    def __init__(self, message: str, cause: BaseException | None) -> None:
        super().__init__(message)
        self.cause = cause


def _default_environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "os": platform.platform(),
        "machine": platform.machine(),
        "trainscope": __version__,
    }


class TrainingSession:
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
    ) -> None:
        epochs = check_count("epochs", epochs, minimum=1, allow_none=True)
        steps_per_epoch = check_count("steps_per_epoch", steps_per_epoch, minimum=1, allow_none=True)
        validation_steps = check_count("validation_steps", validation_steps, minimum=0, allow_none=True)
        total_steps = check_count("total_steps", total_steps, minimum=1, allow_none=True)
        refresh_interval = check_seconds("refresh_interval", refresh_interval)
        if epochs is not None and total_steps is not None:
            raise ValueError(
                "give either epochs (a run declared in epochs) or total_steps (a run declared "
                "in steps), not both"
            )
        if epochs is None and steps_per_epoch is not None:
            raise ValueError(
                "steps_per_epoch was given without epochs: declare the run in epochs "
                "(epochs=..., steps_per_epoch=...) or in steps (total_steps=...)"
            )
        if model is not None and not isinstance(model, ModelSpec):
            raise TypeError(
                f"model must be a trainscope.ModelSpec or None, got {type(model).__name__}; "
                "build one with trainscope_jax.model_spec(...) or pass it to the architecture printer"
            )
        index, count = _process(process_index, process_count)
        self.plugin_manager = plugin_manager or create_plugin_manager(
            plugins=plugins, disable=disable, strict=strict
        )
        self.plugin_manager.process_index = index
        self.run = RunInfo(
            name=plain_text(model_name),
            run_id=uuid.uuid4().hex,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            validation_steps=validation_steps,
            total_steps=total_steps,
            model=model,
            config=_plain_mapping("config", config),
            environment={**_default_environment(), **_plain_mapping("environment", environment)},
            process_index=index,
            process_count=count,
        )
        self.refresh_interval = refresh_interval
        self.last_value_metrics = _metric_names(last_value_metrics)
        """Metrics shown as their last value, not averaged (a learning rate, a step size)."""
        self._clock_offset = time.time() - time.monotonic()
        self._started = False
        self._ended = False
        self._end_lock = threading.Lock()
        self._ended_as: tuple[RunStatus, BaseException | None] | None = None
        """How another thread ended the run (:meth:`end`), or None."""
        self._thread: int | None = None
        """The thread that started the run: the only one that may call the session."""
        self._caller: int | None = None
        """``_thread``, or ``_IN_REPORTERS`` while a hook runs: what a step's caller is checked against."""
        self._epoch: int | None = None
        self._epoch_t0 = 0.0
        self._epoch_means: dict[PhaseName, dict[str, float] | None] = {}
        self._phase: PhaseInfo | None = None
        """The phase steps are reported to (the open validation, or the training phase)."""
        self._train: PhaseInfo | None = None
        """The epoch's training phase: open, paused by a validation, or ended."""
        self._paused_at = 0.0
        self._pause_end: float | None = None
        """When the last validation of a pause ended (its reporters done): training time again."""
        self._phase_t0 = 0.0
        self._train_t0 = 0.0
        self._means = RunningMeans(self.last_value_metrics)
        self._train_means = self._means
        self._interval_start_means = self._means.snapshot()
        """The training phase's sums and counts at the last evaluation (for ``trainscope_evaluation_end``)."""
        self._interval_t0 = 0.0
        self._results: dict[PhaseName, Mapping[str, Any]] = {}
        """Exact results handed with :meth:`report_results`, converted when they are used."""
        self._interval_results: Mapping[str, Any] | None = None
        self._buffer = StepBuffer()
        self._last_flush = 0.0
        self._flush_size = MAX_BATCH
        self._signals = SignalGuard()
        self._warned_step_order = False
        self._helper_steps: dict[PhaseName, int] = {"train": 0, "validation": 0}
        self._cost = DeviceCost()
        self._saw_device = False
        self._interval_start = (0, 0, 0.0)
        """The training phase's (steps, examples, elapsed) at the last evaluation."""
        self._tally = BatchTally()
        """The training phase's steps by batch size, to cost each step as it ran."""
        self._interval_tally: dict[int | None, int] = {}
        """``_tally`` at the last evaluation."""

    @property
    def in_steps(self) -> bool:
        """True for a run declared in steps (no epochs)."""
        return self.run.epochs is None

    # -- run -------------------------------------------------------------------

    def start_training(self) -> None:
        """Start the run (fires ``trainscope_train_start``); does nothing if started."""
        if self._started:
            self._check_caller("start_training")
            return
        self._started = True
        self._thread = self._caller = _thread_id()
        self.run.start_time = time.time()
        self.run.start_monotonic = time.monotonic()  # what run.elapsed() reads
        self._interval_t0 = _monotonic()
        self._signals.install()
        try:
            self._tell_reporters(self.plugin_manager.train_start)
        except BaseException as exc:  # a fatal reporter error, Ctrl-C during the printout...
            self._abort(_status_of(exc), exc)  # every reporter that started closes cleanly
            raise

    def finish_training(self) -> None:
        """End the open phases and epoch, then the run as ``completed``; idempotent."""
        if self._ended:
            return
        self._check_caller("finish_training")
        self._require_started("finish_training")
        try:
            if self.in_steps:
                self._end_validation_if_open()
                self._end_training_phase()
            else:
                self._end_epoch_if_open()
        except BaseException as exc:  # the last flush or a reporter failed: end the run as such
            self._abort(_status_of(exc), exc)
            raise
        self._ended = True
        try:
            self._tell_reporters(self.plugin_manager.train_end, "completed", None)
        finally:
            self._signals.restore()

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
            self.finish_training()
        elif not self._ended:
            self._abort(_status_of(exc), exc)

    def end(self, status: RunStatus, error: BaseException | None = None) -> None:
        """End the run now, once, from any thread: the one gate for "the run has ended".

        On the thread that started the run it is the end an exception brings (what is
        buffered is reported, then ``train_end``). From another thread (a multi-process run's
        peer watcher, when another process failed) the reporters get ``train_end`` at once,
        and every later call of the session, a step included, raises
        :class:`SessionStateError` naming that end: nothing reported after it is silently
        dropped. A second end does nothing.
        """
        if _thread_id() == self._thread or self._thread is None:
            if error is None and status == "completed":
                self.finish_training()
            else:
                self._abort(status, error or SessionStateError(f"the run was ended as {status}"))
            return
        with self._end_lock:
            if self._ended:
                return
            self._ended = True
            self._ended_as = (status, error)
            self._caller = _ENDED_ELSEWHERE
        try:
            self.plugin_manager.train_end(self.run, status, error)
        except BaseException as exc:  # noqa: BLE001 - the reporters were told; the other thread goes on ending
            warn_plugin(
                f"trainscope: while ending the run ({status}), a reporter raised {type(exc).__name__}: {exc}"
            )

    def _abort(self, status: RunStatus, error: BaseException) -> None:
        """End the run as ``status``: report what is buffered, then ``train_end`` to every reporter.

        The open phases get no ``phase_end``: an interrupted phase has no means to show.
        """
        with self._end_lock:
            if self._ended:
                return
            self._ended = True
        try:
            if self._phase is not None and not self._phase.ended:
                try:
                    self._flush(_monotonic())
                except BaseException:  # noqa: BLE001 - already ending; the good steps were reported
                    self._buffer = StepBuffer()
            try:
                self._tell_reporters(self.plugin_manager.train_end, status, error)
            except BaseException as exc:  # noqa: BLE001 - the run's own error is the one raised
                warn_plugin(
                    f"trainscope: while ending the run ({status}: {type(error).__name__}), a reporter "
                    f"raised {type(exc).__name__}: {exc}"
                )
        finally:
            self._signals.restore()

    # -- epoch -----------------------------------------------------------------

    def start_epoch(self, epoch: int) -> None:
        """Start an epoch and its training phase, ending the previous epoch if still open."""
        self._check_caller("start_epoch")
        self._require_started("start_epoch")
        if self.in_steps:
            raise SessionStateError(
                "start_epoch() called in a run declared in steps (total_steps, no epochs): report "
                "training steps directly, or declare the run with epochs=N"
            )
        epoch = check_count("epoch", epoch, minimum=0)  # type: ignore[assignment]
        self._end_epoch_if_open()
        self._epoch = epoch
        self._epoch_t0 = _monotonic()
        self._epoch_means = {}
        self._tell_reporters(self.plugin_manager.epoch_start, epoch)
        self._start_training_phase()

    def print_epoch_summary(self) -> None:
        """End the epoch (fires ``trainscope_epoch_end``; the summary reporter prints then)."""
        self._check_caller("print_epoch_summary")
        if self.in_steps:
            raise SessionStateError(
                "print_epoch_summary() called in a run declared in steps: a run in steps has no "
                "epochs; each validation ends with its own summary (finish_validation_epoch())"
            )
        if self._epoch is None:
            self._out_of_order("print_epoch_summary", "start_epoch(epoch)")
        self._end_epoch_if_open()

    def _end_epoch_if_open(self) -> None:
        if self._epoch is None:
            return
        self._end_validation_if_open()
        self._end_training_phase()
        epoch, self._epoch = self._epoch, None
        train = self._train
        summary = EpochSummary(
            epoch=epoch,
            train=self._epoch_means.get("train"),
            validation=self._epoch_means.get("validation"),
            duration=_monotonic() - self._epoch_t0,
            throughput=train.throughput if train is not None else None,
        )
        self._tell_reporters(self.plugin_manager.epoch_end, epoch, summary)

    # -- phases ----------------------------------------------------------------

    def finish_training_epoch(self) -> None:
        """End the training phase of the current epoch (a second call does nothing)."""
        self._check_caller("finish_training_epoch")
        if self.in_steps:
            raise SessionStateError(
                "finish_training_epoch() called in a run declared in steps: the training phase "
                "ends with finish_training()"
            )
        if self._epoch is None:
            self._out_of_order("finish_training_epoch", "start_epoch(epoch)")
        if self._phase is not None and self._phase.name == "validation" and not self._phase.ended:
            raise SessionStateError(
                "finish_training_epoch() called while the validation phase is open: "
                "call finish_validation_epoch() first"
            )
        self._end_training_phase()

    def start_validation(self) -> None:
        """Start a validation phase.

        In a run declared in epochs, a training phase that reached ``steps_per_epoch``
        (or has no known total) ends here, as an epoch's validation follows its
        training; with fewer steps it is paused, and resumes with the next training
        step. In a run declared in steps, training is always paused.
        """
        self._check_caller("start_validation")
        self._require_started("start_validation")
        if not self.in_steps and self._epoch is None:
            self._out_of_order("start_validation", "start_epoch(epoch)")
        phase = self._phase
        if phase is not None and phase.name == "validation" and not phase.ended:
            raise SessionStateError(
                "start_validation() called while a validation phase is open: "
                "call finish_validation_epoch() first"
            )
        train = self._train
        if train is not None and not train.ended and not train.paused:
            self._flush(_monotonic())
            finished = not self.in_steps and (train.total is None or train.steps >= train.total)
            if finished:
                self._end_training_phase()
            else:
                self._pause_training()
        elif train is not None and train.ended and "validation" in self._epoch_means:
            raise SessionStateError(
                f"validation of epoch {self._epoch} already ran; call start_epoch() "
                "for the next epoch before start_validation()"
            )
        training_step = train.step if train is not None and train.paused else None
        self._start_phase("validation", self.run.validation_steps, training_step=training_step)

    def finish_validation_epoch(self) -> None:
        """End the validation phase (a second call does nothing).

        A validation that paused training then fires ``trainscope_evaluation_end``
        with the training means since the previous evaluation and this validation's.
        """
        self._check_caller("finish_validation_epoch")
        phase = self._phase
        if phase is None or phase.name != "validation":
            if "validation" in self._epoch_means:
                return
            self._require_started("finish_validation_epoch")
            self._out_of_order("finish_validation_epoch", "start_validation()")
        self._end_validation_if_open()

    finish_validation = finish_validation_epoch

    def report_results(self, results: Mapping[str, Any]) -> None:
        """Hand the current phase its exact results, such as ``nnx.MultiMetric.compute()``.

        In a validation phase: that validation's results. In a training phase: the
        results of the training since the last evaluation (or since the phase began).
        Values may be JAX arrays; they are converted in one batch when used. The
        summary and the log then show them instead of the means of the step values;
        the step records keep their own values.
        """
        self._check_caller("report_results")
        phase = self._phase
        if phase is None or phase.ended:
            raise SessionStateError(
                "report_results() called with no open phase: call it before the phase ends"
            )
        checked = _checked_results(results)
        if phase.name == "validation":
            self._results["validation"] = checked
        else:
            self._interval_results = checked
            self._results["train"] = checked

    def _start_training_phase(self) -> None:
        self._start_phase("train", self.run.total_steps if self.in_steps else self.run.steps_per_epoch)
        self._train = self._phase
        self._train_t0 = self._phase_t0
        self._train_means = self._means
        self._interval_start_means = self._train_means.snapshot()
        self._interval_results = None
        self._interval_start = (0, 0, 0.0)
        self._tally = BatchTally()
        self._interval_tally = {}
        self._results.pop("train", None)

    def _start_phase(self, name: PhaseName, total: int | None, *, training_step: int | None = None) -> None:
        now = _monotonic()
        self._phase = PhaseInfo(
            name=name,
            epoch=self._epoch if self._epoch is not None else 1,
            total=total,
            start_time=now + self._clock_offset,
            training_step=training_step,
        )
        self._phase_t0 = now
        self._last_flush = now
        self._means = RunningMeans(self.last_value_metrics)
        self._helper_steps[name] = 0
        if name == "validation":
            self._results.pop("validation", None)
        self._tell_reporters(self.plugin_manager.phase_start, self._phase)

    def _pause_training(self) -> None:
        train = self._train
        assert train is not None
        train.paused = True
        self._paused_at = _monotonic()
        self._pause_end = None

    def _resume_training(self, *, at_step: bool = True) -> None:
        """Make the paused training phase current again; its clock skips the pause.

        The pause ends where the validation ended: the loop's work from there to the next
        training step (reading its batch, a step that computes before it is reported) is
        training. ``at_step=False`` (the phase ends paused): no training came after it.
        """
        train = self._train
        assert train is not None
        train.paused = False
        now = _monotonic()
        pause_end = self._pause_end if at_step and self._pause_end is not None else now
        self._train_t0 += pause_end - self._paused_at
        self._phase, self._phase_t0, self._means = train, self._train_t0, self._train_means
        self._last_flush = now

    def _end_training_phase(self) -> None:
        train = self._train
        if train is None or train.ended:
            return
        if train.paused:  # the run ended on a validation: its clock skips that validation too
            self._resume_training(at_step=False)
        self._end_phase(train)

    def _end_validation_if_open(self) -> None:
        phase = self._phase
        if phase is None or phase.name != "validation" or phase.ended:
            return
        self._end_phase(phase)
        train = self._train
        if train is not None and train.paused:
            self._evaluation_end(phase)
            self._pause_end = _monotonic()

    def _end_phase(self, phase: PhaseInfo) -> None:
        self._flush(_monotonic())
        now = _monotonic()  # after the last values came back from the device
        phase.ended = True
        phase.elapsed = now - self._phase_t0
        if phase.name == "train":
            phase.throughput = self._throughput(
                phase.steps, phase.examples, phase.elapsed, dict(self._tally.counts)
            )
        results = self._results.get(phase.name)
        exact = None if results is None else convert_results(results)
        if exact is not None:  # the exact results replace the means of the same metrics
            phase.metrics = {**phase.metrics, **exact}
        if phase.name == "train":
            self._update_interval_metrics(phase, final=True, exact=exact)
        self._epoch_means[phase.name] = dict(phase.metrics) if phase.steps or results is not None else None
        self._tell_reporters(self.plugin_manager.phase_end, phase)

    def _evaluation_end(self, validation: PhaseInfo) -> None:
        train = self._train
        assert train is not None
        now = _monotonic()
        train_means = self._interval_means()
        steps0, examples0, elapsed0 = self._interval_start
        self._interval_start = (train.steps, train.examples, train.elapsed)
        batch_sizes = self._tally.since(self._interval_tally)
        self._interval_tally = dict(self._tally.counts)
        summary = EvaluationSummary(
            throughput=self._throughput(
                train.steps - steps0, train.examples - examples0, train.elapsed - elapsed0, batch_sizes
            ),
            epoch=None if self.in_steps else validation.epoch,
            step=train.step,
            total_steps=train.total,
            train=train_means or None,
            validation=self._epoch_means.get("validation"),  # as _end_phase just stored them
            duration=now - self._interval_t0,
        )
        self._interval_start_means = self._train_means.snapshot()
        self._interval_results = None
        self._interval_t0 = now
        train.interval_metrics = dict(train_means)  # what the bar shows until training resumes
        self._tell_reporters(self.plugin_manager.evaluation_end, summary)

    def _interval_means(self) -> dict[str, float]:
        """The training means since the last evaluation, the exact results handed for them merged in."""
        means = self._train_means.means_since(self._interval_start_means)
        interval = self._interval_results
        return means if interval is None else {**means, **convert_results(interval)}

    def _update_interval_metrics(
        self, train: PhaseInfo, *, final: bool = False, exact: dict[str, float] | None = None
    ) -> None:
        """``train.interval_metrics``: its means since the last evaluation (all of them before one).

        At the phase end (``final``, ``exact``: the training results converted), the results
        handed since the last evaluation are merged in; with no step since that evaluation,
        they stay its figures.
        """
        if not self._interval_start_means[1]:  # no evaluation yet, or none after a step
            train.interval_metrics = train.metrics
        elif not final or train.steps > self._interval_start[0]:
            means = self._train_means.means_since(self._interval_start_means)
            if final and self._interval_results is not None:  # handed after the last evaluation
                means.update(exact if exact is not None else convert_results(self._interval_results))
            train.interval_metrics = means

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

        ``flops`` is a number, or a jitted step function with example arguments: its
        FLOPs then come from XLA's cost analysis of the compiled function (nothing runs),
        the program of one device times the devices that compute different parts of it
        (:func:`trainscope.throughput.step_cost`). The peak for MFU is looked up by
        ``device_kind`` (default: the first JAX device's) and ``dtype`` (the dtype the step
        computes in), times ``devices`` (default: the devices the compiled step runs on, 1
        for a number); or it comes from ``TRAINSCOPE_PEAK_TFLOPS``.

        ``batch_size``: the examples of the step these FLOPs are of (default: the leading
        dimension of the last example argument, as the loop helpers infer it; unknown for a
        number). Each step is then costed as it ran: a step of another batch size costs in
        proportion to its examples, or exactly when its own FLOPs were set by another call
        with that batch size (calls for other batch sizes add to each other; a call with
        no batch size replaces them all). Returns the FLOPs per step.
        """
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
        size = None if batch_size is None else _as_batch_size(batch_size) or None
        kind = device_kind if device_kind is not None else device_arrays.device_kind()
        by_batch: dict[int | None, float] = {}
        if size is not None:  # keep the FLOPs of the other batch sizes given
            by_batch = {known: f for known, f in self._cost.flops_by_batch.items() if known}
        by_batch[size] = float(flops)
        self._cost = DeviceCost(by_batch, peak_flops(kind, dtype), devices_count)
        return float(flops)

    def _throughput(
        self, steps: int, examples: int, seconds: float, batch_sizes: Mapping[int | None, int]
    ) -> Throughput | None:
        memory = device_arrays.peak_device_memory() if self._saw_device else None
        return self._cost.throughput(steps, examples, seconds, memory, batch_sizes)

    # -- loop helpers -----------------------------------------------------------

    def training_step(
        self,
        step_function: StepFunction,
        *,
        metrics: Any = None,
        values: Callable[[Any], Any] | None = None,
        batch_size: loops.BatchSize = None,
    ) -> StepFunction:
        """Wrap a training step function so that each call reports one training step.

        :param metrics: an object with ``compute()`` returning the running metrics (an
            ``nnx.MultiMetric``, a clu collection); read after each call.
        :param values: picks the metrics out of what the function returns (for example
            ``lambda out: {"loss": out[1]}``); by default the return value itself: a loss,
            ``(loss, accuracy)`` or a dict of metrics.
        :param batch_size: the number of examples of a step (an int, or a function of the
            step's arguments); by default the leading dimension of the batch, the last
            positional argument (or the first array in it). Weighs the step in the means.
        """
        return loops.wrap_step(self, "train", step_function, metrics, values, batch_size)

    def validation_step(
        self,
        step_function: StepFunction,
        *,
        metrics: Any = None,
        values: Callable[[Any], Any] | None = None,
        batch_size: loops.BatchSize = None,
    ) -> StepFunction:
        """Wrap a validation step function so that each call reports one validation step;
        the arguments are those of :meth:`training_step`.

        The first call after training steps starts a validation (pausing training in the
        middle of an epoch, or in a run declared in steps); it ends at the next training
        step, at the epoch's end or when the run ends.
        """
        return loops.wrap_step(self, "validation", step_function, metrics, values, batch_size)

    def _enter_phase_for_helper(self, phase: PhaseName) -> None:
        """Start the run, and start or resume ``phase``, as a loop helper's step needs."""
        self.start_training()
        current = self._phase
        is_open = current is not None and current.name == phase and not current.ended
        if is_open:
            return
        if phase == "validation":
            self.start_validation()
            return
        if current is not None and current.name == "validation" and not current.ended:
            self.finish_validation_epoch()
        self._training_phase_for_step()

    def epochs(self, start: int = 1) -> Iterator[int]:
        """The epoch numbers from ``start`` to ``epochs``: each one started before it is yielded
        and ended (with its summary) when the loop comes back for the next."""
        return loops.epochs(self, start)

    def next_step(self, phase: PhaseName) -> int:
        """The number the loop helpers give the next step of ``phase``: 1 after the phase starts,
        and counting on when a training phase resumes after a validation."""
        self._helper_steps[phase] += 1
        return self._helper_steps[phase]

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
        if _thread_id() != self._caller:
            self._check_caller("update_training_progress")
        phase = self._phase
        if phase is None or phase.ended or phase.name != "train":
            self._training_phase_for_step()
        self._buffer_step(step, loss, accuracy, batch_size, metrics)

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
        if _thread_id() != self._caller:
            self._check_caller("update_validation_progress")
        phase = self._phase
        if phase is None or phase.ended or phase.name != "validation":
            self._step_out_of_order("update_validation_progress")
        self._buffer_step(step, loss, accuracy, batch_size, metrics)

    def _training_phase_for_step(self) -> None:
        """Open (run in steps) or resume (after a validation) the training phase, or explain why not."""
        if self._started and not self._ended:
            train, phase = self._train, self._phase
            validation_open = phase is not None and phase.name == "validation" and not phase.ended
            if not validation_open and train is not None and train.paused:
                self._resume_training()
                return
            if not validation_open and self.in_steps and train is None:
                self._start_training_phase()
                return
        self._step_out_of_order("update_training_progress")

    def _buffer_step(
        self, step: int, loss: Any, accuracy: Any, batch_size: int | None, metrics: dict[str, Any]
    ) -> None:
        if type(step) is not int:  # the range of an int is checked in bulk, when the batch is taken
            step = _as_step(step)
        fast = FAST_VALUE_TYPES
        if metrics or type(loss) not in fast or type(accuracy) not in fast:
            loss, accuracy, metrics = _normalize_metrics(loss, accuracy, metrics)
        now = _monotonic()
        buffer = self._buffer
        if metrics:
            buffer.extras.append((len(buffer.steps), metrics))
        if batch_size is not None:
            if type(batch_size) is not int or batch_size < 0:  # the common case costs one check
                batch_size = _as_batch_size(batch_size)
            buffer.weights.append((len(buffer.steps), batch_size))
        buffer.steps.append(step)
        buffer.losses.append(loss)
        buffer.accuracies.append(accuracy)
        buffer.times.append(now)
        if now - self._last_flush >= self.refresh_interval or len(buffer.steps) >= self._flush_size:
            self._flush(now, wait=False)

    def _flush(self, now: float, *, wait: bool = True) -> None:
        """Report the buffered steps; without ``wait``, only those the device has computed.

        Device values are timed when they were found computed: the steps already
        computed at the time of the check, the others one by one as they complete
        (with ``wait``). A value that cannot be converted is reported as NaN and raises
        :class:`MetricValueError` once the good steps have been reported: nothing
        already computed is lost.
        """
        self._last_flush = now
        buffer = self._buffer
        count = len(buffer)
        known: list[float] | None = None
        if count and jax_array_type() is not None and _on_device(buffer.step_values(0)):
            ready = ready_prefix(range(count), buffer.step_values)
            known = [_monotonic()] * ready
            if wait:
                known += _completion_times(buffer, ready, count)
            else:
                count = ready
        self._flush_size = len(buffer) - count + MAX_BATCH
        if not count:
            return
        phase = self._phase
        assert phase is not None
        steps = buffer.steps if count == len(buffer) else buffer.steps[:count]  # only the steps taken
        if max(steps) > INT64_MAX or min(steps) < _MIN_STEP:
            self._refuse_step(phase, buffer, known)
        if count == len(buffer):
            taken, self._buffer = buffer, StepBuffer()
        else:
            taken = buffer.split(count)
        self._report(phase, taken, known[:count] if known is not None else None)

    def _refuse_step(self, phase: PhaseInfo, buffer: StepBuffer, known: list[float] | None) -> None:
        """Report the steps before the first one beyond 64 bits, drop that one, and raise."""
        bad = next(i for i, step in enumerate(buffer.steps) if not _MIN_STEP <= step <= INT64_MAX)
        step = buffer.steps[bad]
        if bad:
            self._report(phase, buffer.split(bad), known[:bad] if known is not None else None)
        buffer.split(1)
        raise ValueError(f"step must fit in 64 bits (below 2**63), got {step}")

    def _report(self, phase: PhaseInfo, taken: StepBuffer, known: list[float] | None) -> None:
        """Convert ``taken`` in one batch, update the phase, and hand the records to the reporters."""
        count = len(taken)
        records, error = convert_buffer(taken, self._clock_offset, known)
        if not self._warned_step_order:
            self._check_step_order(phase, records.steps)
        weights = taken.weight_column()
        if phase.name == "train":  # a step with no batch size adds no examples
            phase.examples += self._tally.add(count, taken.weights)
        else:
            phase.examples += sum(size for _, size in taken.weights)
        self._saw_device = self._saw_device or known is not None
        self._means.add(records.metrics, weights)
        phase.metrics = self._means.means()
        if phase is self._train:
            self._update_interval_metrics(phase)
        else:
            phase.interval_metrics = phase.metrics
        phase.step = records.steps[-1]
        phase.steps += count
        phase.elapsed = records.times[-1] - self._clock_offset - self._phase_t0
        try:
            self._tell_reporters(self.plugin_manager.progress, phase, records)
        finally:
            # Measured after the reporters ran: a slow reporter never makes every step flush.
            self._last_flush = _monotonic()
        if error is not None:
            raise error

    def _check_step_order(self, phase: PhaseInfo, steps: list[int]) -> None:
        backwards = (phase.steps and steps[0] < phase.step) or not all(map(operator.le, steps, steps[1:]))
        if backwards:
            self._warned_step_order = True
            warnings.warn(
                f"trainscope: step numbers went backwards in the {phase.name} phase of epoch "
                f"{phase.epoch} (after step {phase.step if phase.steps else steps[0]}); reporters plot "
                "and log steps in the order they were reported (shown once per run)",
                StepOrderWarning,
                stacklevel=5,
            )

    # -- reporters and callers --------------------------------------------------

    def _tell_reporters(self, hook: Callable[..., None], *args: Any) -> None:
        """Call one plugin-manager hook with the run; a call back into the session from it fails."""
        if self._caller == _ENDED_ELSEWHERE:
            return  # another thread ended the run: the reporters hear nothing after its end
        self._caller = _IN_REPORTERS
        try:
            hook(self.run, *args)
        finally:
            with self._end_lock:  # an end from another thread meanwhile keeps its mark
                if self._caller == _IN_REPORTERS:
                    self._caller = self._thread

    def _check_caller(self, method: str) -> None:
        """Refuse a call from inside a reporter's hook, or from a thread other than the run's."""
        if self._thread is None or self._caller == _thread_id():
            return
        if self._ended_as is not None:
            status, error = self._ended_as
            because = f": {type(error).__name__}: {error}" if error is not None else ""
            raise RunEndedError(
                f"{method}() called after the run was ended as {status} from another thread{because}", error
            )
        if self._thread == _thread_id():
            raise SessionStateError(
                f"{method}() called from inside a reporter's hook: a reporter must not drive the "
                "session it reports on (steps and phases would reach the reporters while they are "
                "being reported); call it from the training loop"
            )
        raise SessionStateError(
            f"{method}() called from thread {threading.current_thread().name!r}, but this run "
            "started on another thread: a TrainingSession is not thread-safe; report every step "
            "from the thread that started the run (hand results to it, e.g. through a queue)"
        )

    # -- errors ----------------------------------------------------------------

    def _require_started(self, method: str) -> None:
        if not self._started:
            self._out_of_order(method, "start_training() (or `with TrainingSession(...)`)")
        if self._ended:
            raise SessionStateError(f"{method}() called after the run ended")

    def _step_out_of_order(self, method: str) -> Any:
        """The right error for a step reported when its phase is not open, for every state."""
        if not self._started:
            self._out_of_order(method, "start_training() (or `with TrainingSession(...)`)")
        if self._ended:
            raise SessionStateError(f"{method}() called after the run ended")
        phase, train = self._phase, self._train
        validation_open = phase is not None and phase.name == "validation" and not phase.ended
        where = "of the run" if self.in_steps else f"of epoch {self._epoch}"
        if method == "update_training_progress":
            if self._epoch is None and not self.in_steps:
                self._out_of_order(method, "start_epoch(epoch)")
            if validation_open:
                raise SessionStateError(
                    f"{method}() called while a validation phase {where} is open: "
                    "call finish_validation_epoch() first, then training resumes"
                )
            raise SessionStateError(
                f"{method}() called after the training phase {where} ended "
                "(finish_training_epoch(), or start_validation() after its last step): "
                "call start_epoch(epoch) for the next epoch"
            )
        if not self.in_steps and self._epoch is None:
            self._out_of_order(method, "start_epoch(epoch)")
        if phase is not None and phase.name == "validation" and phase.ended:
            raise SessionStateError(
                f"{method}() called after finish_validation_epoch(): that validation has ended; "
                "call start_validation() to start another"
            )
        state = "paused" if train is not None and train.paused else "open"
        raise SessionStateError(
            f"{method}() called while the training phase {where} is {state}: call start_validation() first"
        )

    def _out_of_order(self, method: str, missing: str) -> Any:
        if self._ended:
            raise SessionStateError(f"{method}() called after the run ended")
        raise SessionStateError(f"{method}() called before {missing}: call {missing} first")


def _process(index: int | None, count: int | None) -> tuple[int, int]:
    """``(process_index, process_count)``: as given, else JAX's multi-controller runtime's, else (0, 1)."""
    if index is None and count is None:
        return device_arrays.distributed_process() or (0, 1)
    checked_count = check_count("process_count", 1 if count is None else count, minimum=1)
    checked_index = check_count("process_index", 0 if index is None else index, minimum=0)
    assert checked_count is not None
    assert checked_index is not None
    if checked_index >= checked_count:
        raise ValueError(f"process_index must be below process_count ({checked_count}), got {checked_index}")
    return checked_index, checked_count


def _on_device(values: Iterable[Any]) -> bool:
    """True when a step's values include a device array (one with ``is_ready``)."""
    return any(hasattr(value, "is_ready") for value in values)


def _completion_times(buffer: StepBuffer, start: int, stop: int) -> list[float]:
    """Wait for the steps ``start..stop`` in order, noting when each one's values are computed."""
    times: list[float] = []
    for index in range(start, stop):
        for value in buffer.step_values(index):
            block = getattr(value, "block_until_ready", None)
            if block is not None:
                block()
        times.append(_monotonic())
    return times


def _plain_mapping(name: str, value: Mapping[str, Any] | None) -> dict[str, Any]:
    """``value`` as a dict of plain JSON data (see :func:`trainscope.values.plain_value`)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping (a dict), got {type(value).__name__}")
    plain: dict[str, Any] = plain_value(value)
    return plain


def _status_of(error: BaseException) -> RunStatus:
    """``interrupted`` for Ctrl-C and SIGTERM/SIGHUP, ``failed`` for anything else."""
    return "interrupted" if isinstance(error, (KeyboardInterrupt, Terminated)) else "failed"


def _as_step(step: Any) -> int:
    if isinstance(step, bool):
        raise TypeError(f"step must be an integer, got bool {step!r}")
    try:
        number = int(step.__index__())
    except (AttributeError, TypeError):
        raise TypeError(f"step must be an integer, got {type(step).__name__}: {step!r:.40}") from None
    if not _MIN_STEP <= number <= INT64_MAX:
        raise ValueError(f"step must fit in 64 bits (below 2**63), got {number}")
    return number


def _metric_names(names: Iterable[str]) -> frozenset[str]:
    """``names`` checked as metric names (a single string is refused: it would be its letters)."""
    if isinstance(names, str):
        raise TypeError(f"last_value_metrics must be a collection of metric names, got the string {names!r}")
    checked = frozenset(names)
    for name in checked:
        check_metric_name(name)
    return checked


def _checked_results(results: Mapping[str, Any]) -> dict[str, Any]:
    """``results`` as a dict of checked metric values (not converted yet)."""
    if not isinstance(results, Mapping):
        raise MetricValueError(
            f"results must be a mapping of metric names to values, got {type(results).__name__}"
        )
    checked = dict(results)
    for name, value in checked.items():
        check_metric_name(name)
        check_metric(name, value)
    return checked


def _as_batch_size(batch_size: Any) -> int:
    number = check_count("batch_size", batch_size, minimum=0)
    assert number is not None
    return number


def _normalize_metrics(loss: Any, accuracy: Any, metrics: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    """Accept ``(loss, accuracy, **metrics)`` or ``({...}, **metrics)``; check every value."""
    if isinstance(loss, Mapping):
        if accuracy is not None:
            raise TypeError("pass metrics either as a dict or as loss, accuracy, **metrics, not both")
        merged = dict(loss)
        for key in metrics:
            if key in merged:
                raise TypeError(f"metric {key!r} given twice")
        merged.update(metrics)
        loss, accuracy = merged.pop("loss", None), merged.pop("accuracy", None)
        metrics = merged
    else:
        for key, positional in (("loss", loss), ("accuracy", accuracy)):
            if key in metrics and positional is not None:
                raise TypeError(f"metric {key!r} given twice (positionally and by keyword)")
        if "loss" in metrics or "accuracy" in metrics:
            metrics = dict(metrics)
            loss = metrics.pop("loss", loss)
            accuracy = metrics.pop("accuracy", accuracy)
    check_metric("loss", loss)
    check_metric("accuracy", accuracy)
    for key, value in metrics.items():
        check_metric_name(key)
        check_metric(key, value)
    return loss, accuracy, metrics
