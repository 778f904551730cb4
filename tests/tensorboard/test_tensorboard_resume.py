"""A resumed run continues its TensorBoard run folder: the steps after the point are purged, so
TensorBoard shows every step once, the new values where the run did them again."""

from __future__ import annotations

from pathlib import Path

import pytest

import trainscope
from trainscope import environment_variables as core_env

from .conftest import assert_series, read_events, scalars

STEPS = 3


def loss_of(epoch: int, step: int, part: int) -> float:
    return 100.0 * part + 10 * epoch + step


def train(
    part: int, resume: Path | None = None, stop_in_epoch: int | None = None
) -> trainscope.TrainingSession:
    """A run of 3 epochs through the installed jsonl and tensorboard reporters, interrupted at
    step 2 of ``stop_in_epoch``; part ``part``'s losses are its own."""
    session = trainscope.TrainingSession(
        "Tiny", 3, STEPS, plugins=["jsonl", "tensorboard"], strict=True, resume=resume
    )
    try:
        with session:
            for epoch in session.epochs():
                for step in range(1, STEPS + 1):
                    if epoch == stop_in_epoch and step == 2:
                        raise KeyboardInterrupt
                    session.update_training_progress(step, loss_of(epoch, step, part), 0.5)
    except KeyboardInterrupt:
        pass
    return session


@pytest.fixture
def log_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "logs"
    monkeypatch.setenv(core_env.TRAINSCOPE_LOG_DIR, str(directory))
    return directory


def test_the_same_run_folder_goes_on_without_a_step_twice(tensorboard_dir: Path, log_dir: Path) -> None:
    first = train(1, stop_in_epoch=2)  # epoch 1 done, step 1 of epoch 2 left behind
    (log,) = log_dir.glob("*.jsonl")
    second = train(2, resume=log)

    assert second.run.run_id == first.run.run_id
    (folder,) = tensorboard_dir.iterdir()  # one run folder for both parts
    assert len(list(folder.glob("events.out.tfevents.*"))) == 2
    got = scalars(read_events(folder))
    expected = [(step, loss_of(1, step, 1)) for step in (1, 2, 3)]
    expected += [(3 * (epoch - 1) + step, loss_of(epoch, step, 2)) for epoch in (2, 3) for step in (1, 2, 3)]
    assert_series(got["train/loss"], expected)
    epoch_means = [step for step, _ in got["epoch/train/loss"]]
    assert epoch_means == [3, 6, 9]


def test_a_run_resumed_twice_keeps_one_value_per_step(tensorboard_dir: Path, log_dir: Path) -> None:
    train(1, stop_in_epoch=2)
    (log,) = log_dir.glob("*.jsonl")
    train(2, resume=log, stop_in_epoch=3)
    train(3, resume=log)
    (folder,) = tensorboard_dir.iterdir()
    got = scalars(read_events(folder))["train/loss"]
    assert [step for step, _ in got] == list(range(1, 10))
    parts = [int(value // 100) for _, value in got]
    assert parts == [1, 1, 1, 2, 2, 2, 3, 3, 3]
