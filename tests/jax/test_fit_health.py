"""Run health of real training, in real time: ``fit`` with a deliberately slow data set is
input-bound, ``fit`` with a deliberately heavy step is compute-bound, and a balanced loop of the
loop helpers gets neither verdict. ``--stop-on-nan`` ends ``trainscope train`` with one line."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from trainscope import EpochSummary, PhaseHealth, TrainingSession, hookimpl
from trainscope.health.figures import MIN_SECONDS
from trainscope_jax import ArrayDataset, Linear, ModelTrainer, Sequential, TrainerConfig, synthetic_dataset

pytestmark = pytest.mark.slow


class Summaries:
    def __init__(self) -> None:
        self.epochs: list[EpochSummary] = []

    @hookimpl
    def trainscope_epoch_end(self, summary: EpochSummary) -> None:
        self.epochs.append(summary)


class SlowReads:
    """A data set read from a slow disk: every batch takes ``seconds`` to read."""

    in_memory = False

    def __init__(self, data: ArrayDataset, seconds: float) -> None:
        self.data, self.seconds = data, seconds
        self.input_shape, self.num_classes = data.input_shape, data.num_classes

    def __len__(self) -> int:
        return len(self.data)

    def get_batch(self, indices: NDArray[np.intp]) -> Any:
        time.sleep(self.seconds)
        return self.data.get_batch(indices)


def last_health(summaries: Summaries) -> PhaseHealth:
    health = summaries.epochs[-1].health
    assert health is not None
    return health


def test_fit_on_a_slow_data_set_is_input_bound() -> None:
    data = synthetic_dataset(32 * 16, (8,), 2)
    model = Sequential([("fc1", Linear(8, 16)), ("fc2", Linear(16, 2))], input_shape=(8,), name="Small")
    summaries = Summaries()
    with ModelTrainer(model, TrainerConfig(batch_size=32, platform="cpu")) as trainer:
        trainer.fit(SlowReads(data, 0.1), epochs=2, plugins=[summaries])
    health = last_health(summaries)
    assert health.verdict == "input-bound", health
    assert health.data_share is not None
    assert health.data_share > 0.8
    assert health.findings()[0].startswith("input-bound: ")


def test_fit_with_a_heavy_step_is_compute_bound() -> None:
    layers = [("fc1", Linear(1024, 2048)), ("fc2", Linear(2048, 2048)), ("fc3", Linear(2048, 2))]
    model = Sequential(layers, input_shape=(1024,), name="Heavy")
    with ModelTrainer(model, TrainerConfig(batch_size=64, platform="cpu")) as trainer:
        probe = Summaries()  # how long a step takes on this machine, to size an epoch worth judging
        trainer.fit(synthetic_dataset(64 * 12, (1024,), 2), epochs=1, plugins=[probe])
        step_time = last_health(probe).step_time_median
        assert step_time is not None
        steps = max(30, int(3 * MIN_SECONDS / step_time))  # well over the shortest phase judged
        summaries = Summaries()
        trainer.fit(synthetic_dataset(64 * steps, (1024,), 2), epochs=2, plugins=[summaries])
    health = last_health(summaries)
    assert health.judged, health
    assert health.verdict == "compute-bound", health
    assert health.data_share is not None
    assert health.data_share < 0.1


def test_a_balanced_loop_gets_no_verdict() -> None:
    phases: list[Any] = []

    class Ended:
        @hookimpl
        def trainscope_phase_end(self, phase: Any) -> None:
            phases.append(phase)

    session = TrainingSession("Net", total_steps=30, plugins=[Ended()])

    def step(batch: int) -> float:
        time.sleep(0.06)  # the device computes for 60% of the time...
        return 0.5

    train_step = session.training_step(step)
    with session:
        for batch in range(30):
            time.sleep(0.04)  # ...and the loop reads its next batch for 40%
            train_step(batch)
    (train,) = phases
    assert train.health.verdict is None, train.health
    assert 0.25 < train.health.data_share < 0.5
    assert 0.5 < train.health.device_share < 0.75
