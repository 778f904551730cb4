"""Exact results handed for part of the metrics: the summary keeps the others' means."""

from __future__ import annotations

import re

import pytest

import trainscope


def test_a_partial_result_adds_to_the_validation_means_and_best_epoch_keeps_the_validation_loss(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with trainscope.TrainingSession("Net", 2, 1, 1, plugins=["summary"], strict=True) as session:
        for epoch, loss in ((1, 0.9), (2, 0.7)):
            session.start_epoch(epoch)
            session.update_training_progress(1, 0.5, 0.8)
            session.finish_training_epoch()
            session.start_validation()
            session.update_validation_progress(1, loss, 0.75)
            session.report_results({"f1": 0.61})
            session.finish_validation_epoch()
            session.print_epoch_summary()
    lines = capsys.readouterr().out.splitlines()
    assert "  Validation - Loss: 0.7000, Accuracy: 75.00%, f1: 0.6100" in lines
    assert re.fullmatch(r"Best epoch: 2/2 \(Validation Loss: 0\.7000\), total time: .*", lines[-1])
