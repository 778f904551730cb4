"""Run health in TensorBoard: the figures as ``health/`` scalars at each epoch's (each evaluation's)
step, alerts as ``alerts`` text at their own step; read back with TensorBoard's own reader."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import trainscope
from trainscope_tensorboard.health import ALERTS_TAG

from .conftest import read_events, scalars


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def losses(epoch: int, step: int) -> float:
    """A loss that spikes at epoch 1 step 38 and is NaN at epoch 2 step 12."""
    return {(1, 38): 9.0, (2, 12): math.nan}.get((epoch, step), 1.0)


def only_run_folder(directory: Path) -> Path:
    (folder,) = directory.iterdir()
    return folder


def alert_texts(folder: Path) -> list[tuple[int, str]]:
    """``(step, text)`` of every alert logged."""
    events = read_events(folder).Tensors(f"{ALERTS_TAG}/text_summary")
    return [(event.step, event.tensor_proto.string_val[0].decode()) for event in events]


def test_epoch_health_figures_are_scalars_at_the_epochs_step(tensorboard_dir: Path) -> None:
    """The loop helpers: each batch takes 0.01 s to come, each step 0.5 s on the device."""
    clock = FakeClock()
    session = trainscope.TrainingSession(
        "HeavyStep", 2, 40, 5, plugins=["tensorboard"], clock=clock, refresh_interval=0, strict=True
    )

    def train_step(batch: tuple[int, int]) -> float:
        clock.sleep(0.5)
        return losses(*batch)

    def validation_step(batch: tuple[int, int]) -> float:
        clock.sleep(0.05)
        return 0.4

    training, validation = (
        session.training_step(train_step, batch_size=1),
        session.validation_step(validation_step, batch_size=1),
    )
    with session:
        for epoch in session.epochs():
            for step in range(1, 41):
                clock.sleep(0.01)
                training((epoch, step))
            for step in range(1, 6):
                validation((epoch, step))
    folder = only_run_folder(tensorboard_dir)
    got = scalars(read_events(folder))
    assert [step for step, _ in got["epoch/train/loss"]] == [40, 80]
    step_time = pytest.approx(0.51, rel=0.04)
    for figure in ("step_time_median", "step_time_p90", "step_time_max", "step_time_mean"):
        assert got[f"health/{figure}"] == [(40, step_time), (80, step_time)]
    # 40 steps of 0.51 s: 40 device waits of 0.5 s, 39 data waits (the first batch came before the phase)
    device, data = pytest.approx(40 * 0.5 / 20.4, rel=1e-4), pytest.approx(39 * 0.01 / 20.4, rel=1e-4)
    assert got["health/device_share"] == [(40, device), (80, device)]
    assert got["health/data_share"] == [(40, data), (80, data)]
    assert got["health/outliers"] == [(40, 0.0), (80, 0.0)]
    assert got["health/steps"] == [(40, 39.0), (80, 39.0)]
    assert "health/straggler" not in got
    assert got["health/run_elapsed"][1] == (80, pytest.approx(2 * (40 * 0.51 + 5 * 0.05)))
    assert got["health/run_eta"][1] == (80, 0.0)
    assert alert_texts(folder) == [
        (38, "loss spiked to 9 at step 38 (training, epoch 1), 9.0x its running median 1"),
        (52, "loss is NaN at step 12 (training, epoch 2)"),
    ]


def test_a_run_in_steps_logs_each_evaluations_figures_and_a_validation_alert(tensorboard_dir: Path) -> None:
    clock = FakeClock()
    session = trainscope.TrainingSession(
        "StepNet", total_steps=40, validation_steps=2, plugins=["tensorboard"], clock=clock, strict=True
    )
    with session:
        for step in range(1, 41):
            clock.sleep(0.1)
            session.update_training_progress(step, 0.5)
            if step % 20 == 0:
                session.start_validation()
                for number in (1, 2):
                    session.update_validation_progress(number, math.inf if step == 20 else 0.4)
                session.finish_validation()
    folder = only_run_folder(tensorboard_dir)
    got = scalars(read_events(folder))
    assert [step for step, _ in got["health/step_time_median"]] == [20, 40]
    assert got["health/run_eta"][0] == (20, pytest.approx(20 * 0.1, rel=0.1))
    assert "health/data_share" not in got  # the seed API does not say what the loop waited for
    assert alert_texts(folder) == [(20, "loss is +inf at step 1 (validation, epoch 1)")]
