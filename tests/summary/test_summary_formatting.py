"""The summary's text, piece by piece."""

from __future__ import annotations

import math

import pytest

from trainscope import EpochSummary
from trainscope_summary import (
    BestEpoch,
    best_epoch,
    format_duration,
    format_epoch_summary,
    format_metrics,
    format_run_end,
    format_value,
    is_accuracy_like,
)


def epoch(n: int, train: float | None, validation: float | None) -> EpochSummary:
    return EpochSummary(
        epoch=n,
        train=None if train is None else {"loss": train},
        validation=None if validation is None else {"loss": validation},
        duration=1.0,
    )


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        ("loss", 1.30871, "1.3087"),
        ("loss", 12.0, "12.0000"),
        ("loss", 0.0, "0.0000"),
        ("loss", 1.23456e-5, "1.2346e-05"),
        ("accuracy", 0.65234, "65.23%"),
        ("top5_acc", 0.9, "90.00%"),
        ("loss", math.nan, "nan"),
        ("accuracy", -math.inf, "-inf"),
    ],
)
def test_values(name: str, value: float, text: str) -> None:
    assert format_value(name, value) == text


def test_loss_and_accuracy_first_then_the_rest_as_given() -> None:
    metrics = {"f1_score": 0.5, "accuracy": 0.5, "val_acc": 0.25, "loss": 1.0}
    assert format_metrics(metrics) == "Loss: 1.0000, Accuracy: 50.00%, f1_score: 0.5000, val_acc: 25.00%"
    assert format_metrics({}) == "no metrics"
    assert is_accuracy_like("train/acc")
    assert not is_accuracy_like("accel")


def test_epoch_block_matches_the_seed() -> None:
    summary = EpochSummary(
        epoch=1,
        train={"loss": 1.3087, "accuracy": 0.6523},
        validation={"loss": 1.2834, "accuracy": 0.6651},
        duration=52.0,
    )
    assert format_epoch_summary(summary, 5) == (
        "Epoch 1/5 Summary:\n"
        "  Training   - Loss: 1.3087, Accuracy: 65.23%\n"
        "  Validation - Loss: 1.2834, Accuracy: 66.51%"
    )


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.04, "0.0s"), (52.34, "52.3s"), (261.4, "4m 21s"), (3723.0, "1h 02m 03s")]
)
def test_durations(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_best_epoch_prefers_validation_loss_and_skips_non_finite_values() -> None:
    summaries = [epoch(1, 0.1, 0.9), epoch(2, 0.5, math.nan), epoch(3, 0.4, 0.7), epoch(4, 0.2, 0.7)]
    assert best_epoch(summaries) == BestEpoch(epoch=3, phase="Validation", loss=0.7)


def test_best_epoch_falls_back_to_training_loss() -> None:
    assert best_epoch([epoch(1, 0.5, None), epoch(2, 0.3, None)]) == BestEpoch(2, "Training", 0.3)
    assert best_epoch([epoch(1, None, None)]) is None
    assert best_epoch([]) is None


def test_run_end_lines() -> None:
    summaries = [epoch(1, 0.5, 0.6), epoch(2, 0.3, 0.4)]
    assert format_run_end("completed", summaries, 2, 261.4) == (
        "Best epoch: 2/2 (Validation Loss: 0.4000), total time: 4m 21s"
    )
    assert format_run_end("interrupted", summaries[:1], 5, 3.0) == (
        "Training interrupted after 1/5 epochs. Best epoch: 1/5 (Validation Loss: 0.6000), total time: 3.0s"
    )
    assert format_run_end("failed", [], 5, 0.5) == "Training failed after 0/5 epochs. Total time: 0.5s"


def test_the_throughput_line_shows_the_known_figures_only() -> None:
    from trainscope import EpochSummary, Throughput
    from trainscope_summary import format_epoch_summary

    every = Throughput(3812.4, 1.214e12, 0.0231, 312_000_000)
    summary = EpochSummary(1, {"loss": 1.0}, None, 2.0, throughput=every)
    assert format_epoch_summary(summary, 5).splitlines()[-1] == (
        "  Throughput - 3,812 examples/s, 1.21 TFLOP/s, MFU 2.3%, peak memory 312 MB"
    )
    cpu = EpochSummary(1, {"loss": 1.0}, None, 2.0, throughput=Throughput(45.67, 4.56e9, None, None))
    assert format_epoch_summary(cpu, 5).splitlines()[-1] == "  Throughput - 45.7 examples/s, 4.56 GFLOP/s"
    assert "Throughput" not in format_epoch_summary(EpochSummary(1, {"loss": 1.0}, None, 2.0), 5)


def test_a_long_set_up_is_shown_apart_from_the_training_time() -> None:
    from trainscope_summary.formatting import format_run_end

    assert format_run_end("completed", [], 2, 33.4, setup=24.9) == (
        "Total time: 33.4s (set-up 24.9s, training 8.5s)"
    )
    assert format_run_end("completed", [], 2, 3.0, setup=0.2) == "Total time: 3.0s"


def test_the_run_files_are_listed_one_a_line() -> None:
    from trainscope_summary.formatting import format_run_files

    text = format_run_files({"jsonl": "runs/a.jsonl", "tensorboard": "runs/tensorboard/a", "custom": "x"})
    assert (
        text == "Run files:\n  log          runs/a.jsonl\n  TensorBoard  runs/tensorboard/a\n  custom       x"
    )
    assert format_run_files({}) is None
