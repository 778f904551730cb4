"""Scalar events encoded a batch at a time are the records protobuf and TFRecord framing make, byte for
byte, and a fast run reads back with every step."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import trainscope
from trainscope_tensorboard import events
from trainscope_tensorboard.event_file import record
from trainscope_tensorboard.scalar_records import Scalars, joined, scalar_records

from .conftest import read_events, scalars


def one_at_a_time(
    prefix: str, steps: list[int], times: list[float], metrics: dict[str, list[float]]
) -> bytes:
    return b"".join(
        record(event.SerializeToString()) for event in events.scalar_events(prefix, steps, times, metrics)
    )


@pytest.mark.parametrize(
    ("steps", "metrics"),
    [
        ([1, 2, 3], {"loss": [0.5, 0.25, 1e300], "accuracy": [math.nan, math.inf, -0.0]}),
        (list(range(120, 20_000, 7)), {"loss": [1.0 / n for n in range(120, 20_000, 7)]}),
        ([0, -5, 2**62, 2**63 - 1, 127, 128, 16_383, 16_384], {"a/b": [1.0] * 8, "c d": [-2.5] * 8}),
        ([5, 200, 5, 200], {"top-5 acc%": [0.1, 0.2, 0.3, 0.4], "é": [1e-40, -1e-45, 3.4e38, 1.0]}),
    ],
)
def test_a_batch_is_the_records_of_its_events_byte_for_byte(
    steps: list[int], metrics: dict[str, list[float]]
) -> None:
    times = [1_778_311_512.125 + i / 7 for i in range(len(steps))]
    assert scalar_records("train", steps, times, metrics) == one_at_a_time("train", steps, times, metrics)


def test_batches_it_does_not_cover_are_left_to_the_events() -> None:
    assert scalar_records("train", [1, 2], [1.0, 2.0], {"loss": [0.5, None]}) is None  # a missing value
    assert scalar_records("train", [1, 2], [0.0, 2.0], {"loss": [0.5, 0.4]}) is None  # a wall time of 0
    assert scalar_records("train", [], [], {"loss": []}) is None


def test_consecutive_batches_of_one_phase_are_joined() -> None:
    first = Scalars("train", [1, 2], [1.0, 2.0], {"loss": [0.5, 0.4]}, offset=10)
    second = Scalars("train", [3], [3.0], {"loss": [0.3]}, offset=10)
    other = Scalars("validation", [12, 12], [4.0, 5.0], {"loss": [0.9, 0.8]})
    joined_first, joined_other = joined([first, second, other])
    assert joined_first == Scalars("train", [11, 12, 13], [1.0, 2.0, 3.0], {"loss": [0.5, 0.4, 0.3]})
    assert joined_other is other


def test_a_fast_run_reads_back_with_every_step(tensorboard_dir: Path) -> None:
    steps = 60_000
    with trainscope.TrainingSession("Fast", 2, steps, 3, plugins=["tensorboard"], strict=True) as session:
        for epoch in (1, 2):
            session.start_epoch(epoch)
            for step in range(1, steps + 1):
                session.update_training_progress(step, 1.0 / step, 0.5)
            session.start_validation()
            for step in (1, 2, 3):
                session.update_validation_progress(step, float(epoch))
            session.print_epoch_summary()
    found = scalars(read_events(session.run.artifacts["tensorboard"]))
    assert [step for step, _ in found["train/loss"]] == list(range(1, 2 * steps + 1))
    assert found["train/loss"][steps - 1][1] == pytest.approx(1.0 / steps)
    assert found["validation/loss"] == [(steps, 1.0)] * 3 + [(2 * steps, 2.0)] * 3
