"""``TrainingSession``: the run > epoch > phase > step state machine reporters follow."""

from __future__ import annotations

import platform
import time
import uuid
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from trainscope import __version__
from trainscope.device_arrays import jax_array_type, ready_prefix
from trainscope.metrics import RunningMeans, StepBuffer, check_metric, convert_buffer
from trainscope.plugins import PluginManager, create_plugin_manager
from trainscope.run import EpochSummary, PhaseInfo, PhaseName, RunInfo, RunStatus
from trainscope.spec import ModelSpec

MAX_BATCH = 4096
"""Steps buffered at most before a flush: batches stay small enough for the CPU caches."""
_PLAIN_TYPES = frozenset({float, int, type(None)})
_monotonic = time.monotonic


class SessionStateError(RuntimeError):
    """A ``TrainingSession`` method was called out of order."""


def _default_environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "os": platform.platform(),
        "machine": platform.machine(),
        "trainscope": __version__,
    }


class TrainingSession:
    """One training run reported to every enabled plugin.

    ``update_*`` only buffers values (device arrays stay on the device); at most
    every ``refresh_interval`` seconds and at each phase end the buffer is
    converted in one batch and reporters receive ``trainscope_progress``.

    Use it as a context manager so that an exception ends the run as ``failed``
    (``interrupted`` for KeyboardInterrupt) and reporters still close cleanly.
    Not thread-safe: report from the training thread.
    """

    def __init__(
        self,
        model_name: str,
        epochs: int,
        steps_per_epoch: int | None,
        validation_steps: int | None = None,
        *,
        model: ModelSpec | None = None,
        plugins: Iterable[object] | None = None,
        disable: Iterable[str] = (),
        refresh_interval: float = 0.1,
        strict: bool | None = None,
        config: Mapping[str, Any] | None = None,
        environment: Mapping[str, Any] | None = None,
        plugin_manager: PluginManager | None = None,
    ) -> None:
        if epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {epochs}")
        if refresh_interval < 0:
            raise ValueError(f"refresh_interval must be >= 0 seconds, got {refresh_interval}")
        self.plugin_manager = plugin_manager or create_plugin_manager(
            plugins=plugins, disable=disable, strict=strict
        )
        self.run = RunInfo(
            name=model_name,
            run_id=uuid.uuid4().hex,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            validation_steps=validation_steps,
            model=model,
            config=dict(config or {}),
            environment={**_default_environment(), **(environment or {})},
        )
        self.refresh_interval = refresh_interval
        self._clock_offset = time.time() - time.monotonic()
        self._started = False
        self._ended = False
        self._epoch: int | None = None
        self._epoch_t0 = 0.0
        self._epoch_means: dict[PhaseName, dict[str, float] | None] = {}
        self._phase: PhaseInfo | None = None
        self._phase_t0 = 0.0
        self._means = RunningMeans()
        self._buffer = StepBuffer()
        self._last_flush = 0.0
        self._flush_size = MAX_BATCH

    # -- run -------------------------------------------------------------------

    def start_training(self) -> None:
        """Start the run (fires ``trainscope_train_start``); does nothing if started."""
        if self._started:
            return
        self._started = True
        self.run.start_time = time.time()
        try:
            self.plugin_manager.train_start(self.run)
        except Exception as exc:
            self._abort("failed", exc)  # reporters that did start close cleanly
            raise

    def finish_training(self) -> None:
        """End the open phase and epoch, then the run as ``completed``; idempotent."""
        if self._ended:
            return
        self._require_started("finish_training")
        self._end_epoch_if_open()
        self._ended = True
        self.plugin_manager.train_end(self.run, "completed", None)

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
            status: RunStatus = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            self._abort(status, exc)

    def _abort(self, status: RunStatus, error: BaseException) -> None:
        self._ended = True
        if self._phase is not None and not self._phase.ended:
            try:
                self._flush(_monotonic())
            except Exception:  # noqa: BLE001 - the run is already failing; report what we can
                self._buffer = StepBuffer()
        self.plugin_manager.train_end(self.run, status, error)

    # -- epoch -----------------------------------------------------------------

    def start_epoch(self, epoch: int) -> None:
        """Start an epoch and its training phase, ending the previous epoch if still open."""
        self._require_started("start_epoch")
        self._end_epoch_if_open()
        self._epoch = epoch
        self._epoch_t0 = _monotonic()
        self._epoch_means = {}
        self.plugin_manager.epoch_start(self.run, epoch)
        self._start_phase("train", self.run.steps_per_epoch)

    def print_epoch_summary(self) -> None:
        """End the epoch (fires ``trainscope_epoch_end``; the summary reporter prints then)."""
        if self._epoch is None:
            self._out_of_order("print_epoch_summary", "start_epoch(epoch)")
        self._end_epoch_if_open()

    def _end_epoch_if_open(self) -> None:
        if self._epoch is None:
            return
        self._end_phase_if_open()
        epoch, self._epoch = self._epoch, None
        summary = EpochSummary(
            epoch=epoch,
            train=self._epoch_means.get("train"),
            validation=self._epoch_means.get("validation"),
            duration=_monotonic() - self._epoch_t0,
        )
        self.plugin_manager.epoch_end(self.run, epoch, summary)

    # -- phases ----------------------------------------------------------------

    def finish_training_epoch(self) -> None:
        """End the training phase of the current epoch (a second call does nothing)."""
        if self._epoch is None:
            self._out_of_order("finish_training_epoch", "start_epoch(epoch)")
        if self._phase is not None and self._phase.name == "train":
            self._end_phase_if_open()

    def start_validation(self) -> None:
        """Start the validation phase, ending the training phase if still open."""
        if self._epoch is None:
            self._out_of_order("start_validation", "start_epoch(epoch)")
        if "validation" in self._epoch_means or (
            self._phase is not None and self._phase.name == "validation"
        ):
            raise SessionStateError(
                f"validation of epoch {self._epoch} already ran; call start_epoch() "
                "for the next epoch before start_validation()"
            )
        self._end_phase_if_open()
        self._start_phase("validation", self.run.validation_steps)

    def finish_validation_epoch(self) -> None:
        """End the validation phase (a second call does nothing)."""
        if self._phase is None or self._phase.name != "validation":
            if "validation" in self._epoch_means:
                return
            self._out_of_order("finish_validation_epoch", "start_validation()")
        self._end_phase_if_open()

    def _start_phase(self, name: PhaseName, total: int | None) -> None:
        now = _monotonic()
        self._phase = PhaseInfo(
            name=name, epoch=self._epoch or 0, total=total, start_time=now + self._clock_offset
        )
        self._phase_t0 = now
        self._last_flush = now
        self._means = RunningMeans()
        self.plugin_manager.phase_start(self.run, self._phase)

    def _end_phase_if_open(self) -> None:
        phase = self._phase
        if phase is None or phase.ended:
            return
        now = _monotonic()
        self._flush(now)
        phase.ended = True
        phase.elapsed = now - self._phase_t0
        self._epoch_means[phase.name] = dict(phase.metrics) if phase.steps else None
        self.plugin_manager.phase_end(self.run, phase)

    # -- steps -----------------------------------------------------------------

    def update_training_progress(
        self, step: int, loss: Any = None, accuracy: Any = None, /, **metrics: Any
    ) -> None:
        """Report one training step: ``(step, loss, accuracy, **metrics)`` or ``(step, {...})``.

        Values may be Python numbers, numpy scalars, 0-d arrays or JAX arrays; they
        are converted later, in a batch.
        """
        phase = self._phase
        if phase is None or phase.ended or phase.name != "train":
            self._out_of_order("update_training_progress", "start_epoch(epoch)")
        self._buffer_step(step, loss, accuracy, metrics)

    def update_validation_progress(
        self, step: int, loss: Any = None, accuracy: Any = None, /, **metrics: Any
    ) -> None:
        """Report one validation step; same forms as :meth:`update_training_progress`."""
        phase = self._phase
        if phase is None or phase.ended or phase.name != "validation":
            self._out_of_order("update_validation_progress", "start_validation()")
        self._buffer_step(step, loss, accuracy, metrics)

    def _buffer_step(self, step: int, loss: Any, accuracy: Any, metrics: dict[str, Any]) -> None:
        if type(step) is not int:
            step = _as_step(step)
        if metrics or type(loss) not in _PLAIN_TYPES or type(accuracy) not in _PLAIN_TYPES:
            loss, accuracy, metrics = _normalize_metrics(loss, accuracy, metrics)
        now = _monotonic()
        buffer = self._buffer
        if metrics:
            buffer.extras.append((len(buffer.steps), metrics))
        buffer.steps.append(step)
        buffer.losses.append(loss)
        buffer.accuracies.append(accuracy)
        buffer.times.append(now)
        if now - self._last_flush >= self.refresh_interval or len(buffer.steps) >= self._flush_size:
            self._flush(now, wait=False)

    def _flush(self, now: float, *, wait: bool = True) -> None:
        """Report the buffered steps; without ``wait``, only those the device has computed."""
        self._last_flush = now
        buffer = self._buffer
        count = len(buffer)
        if count and not wait and jax_array_type() is not None:
            count = ready_prefix(range(count), buffer.step_values)
        self._flush_size = len(buffer) - count + MAX_BATCH
        if not count:
            return
        phase = self._phase
        assert phase is not None
        if count == len(buffer):
            taken, self._buffer = buffer, StepBuffer()
        else:
            taken = buffer.split(count)
        records = convert_buffer(taken, self._clock_offset)
        self._means.add(records.metrics)
        phase.metrics = self._means.means()
        phase.step = records.steps[-1]
        phase.steps += count
        phase.elapsed = taken.times[-1] - self._phase_t0
        self.plugin_manager.progress(self.run, phase, records)

    # -- errors ----------------------------------------------------------------

    def _require_started(self, method: str) -> None:
        if not self._started:
            self._out_of_order(method, "start_training() (or `with TrainingSession(...)`)")
        if self._ended:
            raise SessionStateError(f"{method}() called after the run ended")

    def _out_of_order(self, method: str, missing: str) -> Any:
        if self._ended:
            raise SessionStateError(f"{method}() called after the run ended")
        raise SessionStateError(f"{method}() called before {missing}: call {missing} first")


def _as_step(step: Any) -> int:
    try:
        return int(step.__index__())
    except (AttributeError, TypeError):
        raise TypeError(f"step must be an integer, got {type(step).__name__}: {step!r:.40}") from None


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
        if not isinstance(key, str):
            raise TypeError(f"metric names must be strings, got {key!r}")
        check_metric(key, value)
    return loss, accuracy, metrics
