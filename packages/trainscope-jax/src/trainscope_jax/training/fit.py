"""The loop of ``ModelTrainer.fit``: epochs of prefetched batches reported to a session.

Owns ``FitHistory`` and ``EpochResult`` (built from the session's own epoch summaries, so
the history, the summary and the command's last line agree exactly), the batches of a fit
(``FitData``) and the loop over them (``fit_epochs``), which ends every process together
when one fails.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from trainscope import EpochSummary, RunEndedError, TrainingSession
from trainscope.values import check_count
from trainscope_jax.data.datasets import Dataset
from trainscope_jax.training.batching import BatchLoader, evaluation_batches, padded_batch, prefetch_to_device
from trainscope_jax.training.config import TrainerConfig
from trainscope_jax.training.peers import await_exit_by_watcher, watch_peers
from trainscope_jax.training.run_report import StepFlops
from trainscope_jax.training.sharding import DataParallel
from trainscope_jax.training.steps import TrainingSteps


@dataclass(frozen=True)
class EpochResult:
    """Exact means of one epoch (validation weighted by example, padding excluded)."""

    epoch: int
    train_loss: float
    train_accuracy: float
    validation_loss: float | None = None
    validation_accuracy: float | None = None
    train_metrics: dict[str, float] = field(default_factory=dict)
    """Every training mean of the epoch by name: loss, accuracy and the extra metrics."""
    validation_metrics: dict[str, float] | None = None
    """Every validation mean by name; None without validation."""


@dataclass
class FitHistory:
    """What :meth:`ModelTrainer.fit` returns: one :class:`EpochResult` per epoch."""

    epochs: list[EpochResult] = field(default_factory=list)

    @property
    def last(self) -> EpochResult:
        """The final epoch's results."""
        return self.epochs[-1]


class FitData:
    """The batches of one fit: the training loader (this process's rows) and the validation batches."""

    def __init__(
        self,
        train: Dataset,
        validation: Dataset | None,
        config: TrainerConfig,
        parallel: DataParallel,
        *,
        max_steps: int | None = None,
    ) -> None:
        self.train, self.validation, self.config, self.parallel = train, validation, config, parallel
        self.max_steps = check_count("max_steps", max_steps, minimum=1, allow_none=True)
        batch_size = config.batch_size
        self.loader = BatchLoader(
            train, batch_size, shuffle=config.shuffle, seed=config.seed, rows=parallel.rows(batch_size)
        )
        self.validation_batches: list[np.ndarray] = (
            [] if validation is None else evaluation_batches(validation, batch_size)
        )

    @property
    def train_steps(self) -> int:
        """Training steps of an epoch (fewer with a ``max_steps`` below one epoch)."""
        return len(self.loader) if self.max_steps is None else min(len(self.loader), self.max_steps)

    def epochs_within(self, epochs: int) -> int:
        """``epochs``, or fewer when ``max_steps`` ends the training sooner."""
        if self.max_steps is None:
            return epochs
        return min(epochs, -(-self.max_steps // self.train_steps))

    def steps_of(self, epoch: int) -> int:
        """The training steps epoch ``epoch`` takes: every batch, but no more than ``max_steps`` in all."""
        if self.max_steps is None:
            return len(self.loader)
        return max(0, min(self.train_steps, self.max_steps - (epoch - 1) * self.train_steps))

    @property
    def validation_steps(self) -> int | None:
        return None if self.validation is None else len(self.validation_batches)

    def background(self, dataset: Dataset, transfer: bool) -> bool:
        """Whether to read ``dataset``'s batches on a background thread."""
        if dataset.in_memory:
            return False
        if self.config.prefetch_thread is None:
            return transfer  # on the CPU, async dispatch already overlaps inline reading
        return self.config.prefetch_thread


WAITS_EVERY = 16
"""Training steps between two reports of the loop's waits to the session (a sum each time)."""


def fit_epochs(
    session: TrainingSession,
    steps: TrainingSteps,
    data: FitData,
    epochs: int,
    *,
    flops: StepFlops,
    on_end: Callable[[], None],
    start: int = 1,
    checkpoint: Callable[[int], None] | None = None,
) -> FitHistory:
    """Train epochs ``start`` to ``epochs`` on ``data``, validating after each, reporting every
    step to ``session``; ``checkpoint(epoch)`` runs after each epoch's validation, before its end
    is reported.

    ``on_end`` runs once the run has ended, however it ended.
    """
    history = FitHistory()
    watch = watch_peers(session)  # with several processes: one fails, all end, the log says so
    session.defer_ready()  # the reporters' start overlaps the first step's compilation
    try:
        with session:
            for epoch in range(start, epochs + 1):
                session.start_epoch(epoch)
                _train_epoch(session, steps, data, epoch, flops, first=epoch == start)
                session.finish_training_epoch()
                if data.validation is not None:
                    session.start_validation()
                    _validate(session, steps, data, data.validation, data.validation_batches)
                    session.finish_validation_epoch()
                if checkpoint is not None:
                    checkpoint(epoch)
                session.print_epoch_summary()
                history.epochs.append(_epoch_result(epoch, session.epoch_summaries[-1]))
    except RunEndedError:
        if watch.ends_process:  # returning would reach JAX's shutdown a second time: it aborts
            await_exit_by_watcher()
        raise
    finally:
        session.plugin_manager.unregister(watch)
        on_end()
    return history


def _train_epoch(
    session: TrainingSession,
    steps: TrainingSteps,
    data: FitData,
    epoch: int,
    flops: StepFlops,
    *,
    first: bool,
) -> None:
    """One epoch's training steps; ``first``: the first epoch of this fit (its first step compiles)."""
    batches = prefetch_to_device(
        data.loader.epoch(epoch),
        device=steps.placement,
        background=data.background(data.train, steps.transfer),
        transfer=steps.transfer,
    )
    batch_size = data.config.batch_size  # the global batch: every process's examples
    limit = data.steps_of(epoch)
    clock = session.run.clock
    data_wait = device_wait = 0.0  # summed here, told to the session once: nothing more per step
    with contextlib.closing(batches):
        fetched = clock()
        for step, (inputs, labels) in enumerate(batches, 1):
            if step > limit:  # max_steps reached; without it every batch is taken, as always
                break
            called = clock()
            data_wait += called - fetched
            if step == 1 and first:  # every fit has a session of its own
                flops.hand_to(session, steps, data.config, inputs, labels)  # compiles the step
                session.ready()  # the reporters' start is done (or stops the run) before it runs
            loss, accuracy, extras = steps.train(inputs, labels)
            if step > 1 or not first:  # the fit's first call compiles the step: no wait for the device
                device_wait += clock() - called  # dispatch waits when the device is behind
            session.update_training_progress(step, loss, accuracy, batch_size=batch_size, **extras)
            if step % WAITS_EVERY == 0:  # often enough for the processes' straggler check
                data_wait, device_wait = _tell_waits(session, data_wait, device_wait)
            fetched = clock()
    _tell_waits(session, data_wait, device_wait)


def _validate(
    session: TrainingSession,
    steps: TrainingSteps,
    data: FitData,
    dataset: Dataset,
    batches: Sequence[np.ndarray],
) -> None:
    size = data.parallel.padded_size(len(batches[0]))  # one shape, split evenly across devices
    rows = data.parallel.rows(size)
    host = (padded_batch(dataset, indices, size, rows) for indices in batches)
    state = steps.current
    device_batches = prefetch_to_device(
        host,
        device=steps.placement,
        background=data.background(dataset, steps.transfer),
        transfer=steps.transfer,
    )
    clock = session.run.clock
    data_wait = device_wait = 0.0
    with contextlib.closing(device_batches):
        fetched = clock()
        for step, (inputs, labels, mask) in enumerate(device_batches, 1):
            called = clock()
            data_wait += called - fetched
            loss, accuracy, extras = steps.eval_step(state.params, state.model_state, inputs, labels, mask)
            device_wait += clock() - called
            examples = len(batches[step - 1])
            session.update_validation_progress(step, loss, accuracy, batch_size=examples, **extras)
            fetched = clock()
    _tell_waits(session, data_wait, device_wait)


def _tell_waits(session: TrainingSession, data_wait: float, device_wait: float) -> tuple[float, float]:
    """Tell the session what the loop waited for since it last did; the sums start again."""
    session.health.record_wait("data", data_wait)
    session.health.record_wait("device", device_wait)
    return 0.0, 0.0


def _epoch_result(epoch: int, summary: EpochSummary) -> EpochResult:
    """The epoch's means over examples, as the session computed them for the summary."""
    train = summary.train or {}
    loss, accuracy = train.get("loss", math.nan), train.get("accuracy", math.nan)
    validation = summary.validation
    if validation is None:
        return EpochResult(epoch, loss, accuracy, train_metrics=dict(train))
    return EpochResult(
        epoch,
        loss,
        accuracy,
        validation.get("loss", math.nan),
        validation.get("accuracy", math.nan),
        train_metrics=dict(train),
        validation_metrics=dict(validation),
    )


__all__ = ["EpochResult", "FitData", "FitHistory", "fit_epochs"]
