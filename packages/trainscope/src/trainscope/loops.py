"""Loop helpers: wrap the step functions a loop already has, and let the session number and report.

A training loop already calls a training step and an evaluation step. Wrapping each
once is all the instrumentation it needs::

    train_step = session.training_step(train_step, metrics=metrics)
    eval_step = session.validation_step(eval_step, metrics=metrics)

Each call of a wrapped function is one step: the session starts the run and the
phase when needed (a validation step after training steps starts a validation; the
next training step ends it and resumes training), numbers the step, and reports the
values of the step: ``metrics.compute()`` when ``metrics`` is given (for example an
``nnx.MultiMetric``; those are running means, so they also become the phase's exact
results), else what the function returned (``values`` picks them out when it returns
more). The wrapped function returns what the original returns; nothing waits for the
device.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar, cast

from trainscope.health.tracker import RunHealth
from trainscope.run import PhaseName, RunInfo

T = TypeVar("T")
R = TypeVar("R")
StepFunction = Callable[..., Any]
BatchSize = int | Callable[..., int | None] | None


class LoopSession(Protocol):
    """What the loop helpers need of a session (:class:`trainscope.TrainingSession` is one)."""

    run: RunInfo

    @property
    def health(self) -> RunHealth: ...
    @property
    def in_steps(self) -> bool: ...
    def start_training(self) -> None: ...
    def start_epoch(self, epoch: int) -> None: ...
    def print_epoch_summary(self) -> None: ...
    def enter_phase(self, phase: PhaseName) -> None: ...
    def next_step(self, phase: PhaseName) -> int: ...
    def report_results(self, results: Mapping[str, Any]) -> None: ...
    def update_training_progress(
        self,
        step: int,
        loss: Any = None,
        accuracy: Any = None,
        /,
        *,
        batch_size: int | None = None,
        **metrics: Any,
    ) -> None: ...
    def update_validation_progress(
        self,
        step: int,
        loss: Any = None,
        accuracy: Any = None,
        /,
        *,
        batch_size: int | None = None,
        **metrics: Any,
    ) -> None: ...


def epochs(session: LoopSession, start: int | None = None) -> Iterator[int]:
    """The epochs ``start``..``run.epochs`` of ``session``; see :meth:`TrainingSession.epochs`."""
    if session.in_steps:
        raise ValueError("epochs() called in a run declared in steps: loop over your batches instead")
    if start is None:
        resumed = session.run.resumed
        start = resumed.next_epoch or 1 if resumed is not None else 1
    session.start_training()
    total = session.run.epochs
    assert total is not None
    for epoch in range(start, total + 1):
        session.start_epoch(epoch)
        yield epoch
        session.print_epoch_summary()


def wrap_step(
    session: LoopSession,
    phase: PhaseName,
    step_function: StepFunction,
    metrics: Any,
    values: Callable[[Any], Any] | None,
    batch_size: BatchSize,
) -> StepFunction:
    """``step_function`` reporting each call as one step of ``phase``; see
    :meth:`TrainingSession.training_step <trainscope.TrainingSession.training_step>`."""
    if metrics is not None and not callable(getattr(metrics, "compute", None)):
        raise TypeError(
            f"metrics must have a compute() method (like nnx.MultiMetric), got {type(metrics).__name__}"
        )
    update = session.update_training_progress if phase == "train" else session.update_validation_progress

    clock, health = session.run.clock, session.health

    @functools.wraps(step_function)
    def step(*args: Any, **kwargs: Any) -> Any:
        session.enter_phase(phase)
        called = health.step_called(clock())  # the loop's work since the last step: a data wait
        result = step_function(*args, **kwargs)
        reported = metrics.compute() if metrics is not None else (values or _identity)(result)
        health.step_returned(called, clock())
        size = batch_size(*args, **kwargs) if callable(batch_size) else batch_size
        if size is None and batch_size is None:
            size = infer_batch_size(args)
        values_of_step = _as_metrics(reported)
        update(session.next_step(phase), values_of_step, batch_size=size)
        if metrics is not None:
            session.report_results(values_of_step)
        return result

    return step


class LoopHelpers:
    """The loop helpers as methods: :class:`trainscope.TrainingSession` has them (it inherits them
    from here, where the helpers live, so that they need nothing of the session's own)."""

    def training_step(
        self,
        step_function: StepFunction,
        *,
        metrics: Any = None,
        values: Callable[[Any], Any] | None = None,
        batch_size: BatchSize = None,
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
        return wrap_step(cast("LoopSession", self), "train", step_function, metrics, values, batch_size)

    def validation_step(
        self,
        step_function: StepFunction,
        *,
        metrics: Any = None,
        values: Callable[[Any], Any] | None = None,
        batch_size: BatchSize = None,
    ) -> StepFunction:
        """Wrap a validation step function so that each call reports one validation step;
        the arguments are those of :meth:`training_step`.

        The first call after training steps starts a validation (pausing training in the
        middle of an epoch, or in a run declared in steps); it ends at the next training
        step, at the epoch's end or when the run ends.
        """
        return wrap_step(cast("LoopSession", self), "validation", step_function, metrics, values, batch_size)

    def epochs(self, start: int | None = None) -> Iterator[int]:
        """The epoch numbers from ``start`` to ``epochs``: each one started before it is yielded
        and ended (with its summary) when the loop comes back for the next. ``start`` defaults to
        1, or in a resumed run to the epoch after its point (``run.resumed.next_epoch``)."""
        return epochs(cast("LoopSession", self), start)

    def timed_batches(self, batches: Iterable[T]) -> Iterator[T]:
        """``batches`` as they come, each wait for the next one counted as waiting for data: what
        tells an input-bound run (``fit`` and the loop helpers count it themselves)."""
        return timed_batches(cast("LoopSession", self), batches)

    def timed_step(self, step_function: Callable[..., R]) -> Callable[..., R]:
        """``step_function``, each call counted as waiting for the device (a dispatch waits when
        the device is behind): what tells a compute-bound run."""
        return timed_step(cast("LoopSession", self), step_function)


def timed_batches(session: LoopSession, batches: Iterable[T]) -> Iterator[T]:
    """``batches``, the time the loop waits for each one told to the session as a data wait."""
    clock, health = session.run.clock, session.health
    iterator = iter(batches)
    while True:
        started = clock()
        try:
            batch = next(iterator)
        except StopIteration:
            return
        health.record_wait("data", clock() - started)
        yield batch


def timed_step(session: LoopSession, step_function: Callable[..., R]) -> Callable[..., R]:
    """``step_function``, the time of each call told to the session as a device wait."""
    clock, health = session.run.clock, session.health

    @functools.wraps(step_function)
    def step(*args: Any, **kwargs: Any) -> R:
        started = clock()
        try:
            return step_function(*args, **kwargs)
        finally:
            health.record_wait("device", clock() - started)

    return step


def _identity(value: Any) -> Any:
    return value


def _as_metrics(value: Any) -> dict[str, Any]:
    """A step's reported value as metrics: a dict, a loss, ``(loss, accuracy)``, or nothing."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (tuple, list)) and 1 <= len(value) <= 2:
        _check_not_state(value)
        return dict(zip(("loss", "accuracy"), value))
    if hasattr(value, "shape") or isinstance(value, (int, float)):
        return {"loss": value}
    raise TypeError(
        f"the step function returned {type(value).__name__}: return the loss, (loss, accuracy) or a "
        "dict of metrics, or pass values=... to pick them out (or metrics=... with a compute() method)"
    )


def _is_scalar(value: Any) -> bool:
    """A Python number, None, or an array of one element."""
    if value is None or isinstance(value, (int, float)):
        return True
    shape = getattr(value, "shape", None)
    return shape is not None and math.prod(shape) == 1


def _check_not_state(items: Sequence[Any]) -> None:
    """Refuse a ``(state, loss)``-like result taken as ``(loss, accuracy)``, naming the fix."""
    for index, item in enumerate(items):
        if _is_scalar(item):
            continue
        shape = getattr(item, "shape", None)
        what = f"an array of shape {tuple(shape)}" if shape is not None else f"a {type(item).__name__}"
        others = [i for i in range(len(items)) if i != index and _is_scalar(items[i])]
        pick = f"lambda out: {{'loss': out[{others[0]}]}}" if others else "lambda out: {'loss': ...}"
        raise TypeError(
            f"the step function returned a {type(items).__name__} whose item {index} is {what}, not a "
            "metric: it looks like the step returns its new state (weights, optimizer state) with "
            f"the metrics. Pass values={pick} to report only the metrics"
        )


def infer_batch_size(args: Sequence[Any]) -> int | None:
    """The leading dimension of the batch: the last positional argument, or the first array in it."""
    if not args:
        return None
    batch = args[-1]
    candidates: list[Any] = [batch]
    if isinstance(batch, Mapping):
        candidates = list(batch.values())
    elif isinstance(batch, (tuple, list)):
        candidates = list(batch)
    for candidate in candidates:
        shape = getattr(candidate, "shape", None)
        if shape is not None and len(shape) >= 1:
            return int(shape[0])
    return None


__all__ = [
    "LoopHelpers",
    "LoopSession",
    "epochs",
    "infer_batch_size",
    "timed_batches",
    "timed_step",
    "wrap_step",
]
