"""The step pipeline: buffer each step as given, flush on a policy, wait for the device only for
steps it has computed, convert a whole batch at once, and hand it on.

:meth:`StepPipeline.add` is the per-step path: a few type checks and list appends. A flush
comes at most every ``refresh_interval`` seconds (or every :data:`MAX_BATCH` steps), and
whenever the session asks (at every phase end).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from trainscope.device_arrays import jax_array_type, ready_prefix
from trainscope.metrics import FAST_VALUE_TYPES, StepBuffer, convert_buffer
from trainscope.run import StepRecords
from trainscope.session.arguments import MIN_STEP, as_batch_size, as_step, normalize_metrics
from trainscope.values import INT64_MAX

MAX_BATCH = 4096
"""Steps buffered at most before a flush: batches stay small enough for the CPU caches."""

Clock = Callable[[], float]
"""A monotonic clock, in seconds."""
Sink = Callable[[StepRecords, StepBuffer, bool], None]
"""What receives each converted batch: its records, the buffer they came from (batch sizes),
and whether the values were device arrays."""


class StepPipeline:
    """Steps buffered, then flushed to ``sink`` in converted batches.

    ``clock_offset`` turns the monotonic ``clock`` into wall-clock times for the records.
    """

    def __init__(
        self,
        sink: Sink,
        clock: Clock,
        clock_offset: float,
        refresh_interval: float,
        on_wait: Callable[[float], None] | None = None,
    ) -> None:
        self.sink = sink
        self.on_wait = on_wait
        """Told how long each flush took to get its steps' values (readiness, waiting, copying
        them from the device), before the reporters: time the loop waited for the device."""
        self.clock = clock
        self.clock_offset = clock_offset
        self.refresh_interval = refresh_interval
        self.buffer = StepBuffer()
        self.last_flush = 0.0
        self.flush_size = MAX_BATCH
        self._started = 0.0
        """When the flush under way began."""

    def add(
        self, step: Any, loss: Any, accuracy: Any, batch_size: int | None, metrics: dict[str, Any]
    ) -> None:
        """Buffer one step; flush when the refresh interval has passed or the buffer is full."""
        if type(step) is not int:  # the range of an int is checked in bulk, when the batch is taken
            step = as_step(step)
        fast = FAST_VALUE_TYPES
        if metrics or type(loss) not in fast or type(accuracy) not in fast:
            loss, accuracy, metrics = normalize_metrics(loss, accuracy, metrics)
        now = self.clock()
        buffer = self.buffer
        if metrics:
            buffer.extras.append((len(buffer.steps), metrics))
        if batch_size is not None:
            if type(batch_size) is not int or batch_size < 0:  # the common case costs one check
                batch_size = as_batch_size(batch_size)
            buffer.weights.append((len(buffer.steps), batch_size))
        buffer.steps.append(step)
        buffer.losses.append(loss)
        buffer.accuracies.append(accuracy)
        buffer.times.append(now)
        if now - self.last_flush >= self.refresh_interval or len(buffer.steps) >= self.flush_size:
            self.flush(now, wait=False)

    def restart_interval(self, now: float) -> None:
        """Count the refresh interval from ``now`` (a phase started or resumed)."""
        self.last_flush = now

    def discard(self) -> None:
        """Drop what is buffered (the run is ending after a flush failed)."""
        self.buffer = StepBuffer()

    def flush(self, now: float | None = None, *, wait: bool = True) -> None:
        """Hand the buffered steps on; without ``wait``, only those the device has computed.

        Device values are timed when they were found computed: the steps already
        computed at the time of the check, the others one by one as they complete
        (with ``wait``). A value that cannot be converted is reported as NaN and raises
        :class:`~trainscope.MetricValueError` once the good steps have been handed on:
        nothing already computed is lost.
        """
        self.last_flush = self.clock() if now is None else now
        self._started = self.last_flush
        buffer = self.buffer
        count = len(buffer)
        known: list[float] | None = None
        if count and jax_array_type() is not None and _on_device(buffer.step_values(0)):
            ready = ready_prefix(range(count), buffer.step_values)
            known = [self.clock()] * ready
            if not wait:
                count = ready
            elif ready < count:
                known += self._completion_times(buffer, ready, count)
        self.flush_size = len(buffer) - count + MAX_BATCH
        if not count:
            return
        steps = buffer.steps if count == len(buffer) else buffer.steps[:count]  # only the steps taken
        if max(steps) > INT64_MAX or min(steps) < MIN_STEP:
            self._refuse_step(buffer, known)
        if count == len(buffer):
            taken, self.buffer = buffer, StepBuffer()
        else:
            taken = buffer.split(count)
        self._hand_on(taken, known[:count] if known is not None else None)

    def _refuse_step(self, buffer: StepBuffer, known: list[float] | None) -> None:
        """Hand on the steps before the first one beyond 64 bits, drop that one, and raise."""
        bad = next(i for i, step in enumerate(buffer.steps) if not MIN_STEP <= step <= INT64_MAX)
        step = buffer.steps[bad]
        if bad:
            self._hand_on(buffer.split(bad), known[:bad] if known is not None else None)
        buffer.split(1)
        raise ValueError(f"step must fit in 64 bits (below 2**63), got {step}")

    def _hand_on(self, taken: StepBuffer, known: list[float] | None) -> None:
        """Convert ``taken`` in one batch and give it to the sink; raise a conversion error after."""
        records, error = convert_buffer(taken, self.clock_offset, known)
        if known is not None and self.on_wait is not None:  # device values: waited for and copied
            self.on_wait(self.clock() - self._started)
        try:
            self.sink(records, taken, known is not None)
        finally:
            # Measured after the reporters ran: a slow reporter never makes every step flush.
            self.last_flush = self.clock()
        if error is not None:
            raise error

    def _completion_times(self, buffer: StepBuffer, start: int, stop: int) -> list[float]:
        """Wait for the steps ``start..stop`` in order, noting when each one's values are computed."""
        times: list[float] = []
        for index in range(start, stop):
            for value in buffer.step_values(index):
                block = getattr(value, "block_until_ready", None)
                if block is not None:
                    block()
            times.append(self.clock())
        return times


def _on_device(values: Iterable[Any]) -> bool:
    """True when a step's values include a device array (one with ``is_ready``)."""
    return any(hasattr(value, "is_ready") for value in values)


__all__ = ["MAX_BATCH", "Clock", "Sink", "StepPipeline"]
