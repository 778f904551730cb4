"""A run in steps on a line writer: the training bar's metrics and rate around its evaluations."""

from __future__ import annotations

import io
import re

import pytest
import tqdm.std

import trainscope
from trainscope_tqdm import ProgressBar, TqdmReporter


@pytest.fixture(autouse=True)
def _default_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WIDTH", "SHOW_RATE", "SHOW_ETA", "REFRESH_INTERVAL", "LINE_INTERVAL"):
        monkeypatch.delenv(f"TRAINSCOPE_TQDM_{name}", raising=False)


def final_training_line(last_value_metrics: tuple[str, ...] = ()) -> str:
    """The last line of the training bar of an 8-step run validated after steps 4 and 8."""
    out = io.StringIO()
    session = trainscope.TrainingSession(
        "Net",
        total_steps=8,
        validation_steps=1,
        plugins=[TqdmReporter(file=out)],
        strict=True,
        last_value_metrics=last_value_metrics,
    )
    with session:
        for step in range(1, 9):
            session.update_training_progress(step, 1.0 if step <= 4 else 0.1, lr=0.1 / step)
            if step % 4 == 0:
                session.start_validation()
                session.update_validation_progress(1, 0.5)
                session.finish_validation()
    (line,) = [line for line in out.getvalue().splitlines() if line.startswith("Training") and "8/8" in line]
    return line


def test_the_training_bar_shows_the_means_since_the_last_evaluation() -> None:
    line = final_training_line()
    # as the last Step 8/8 summary: the steps after step 4 only (the run's mean is 0.55)
    assert re.search(r"loss=0\.1, lr=0\.0159\]$", line), line


def test_a_last_value_metric_shows_its_last_value() -> None:
    line = final_training_line(("lr",))
    assert re.search(r"loss=0\.1, lr=0\.0125\]$", line), line


def test_a_paused_line_writer_leaves_out_the_pause_and_keeps_the_training_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [0.0]
    monkeypatch.setattr(tqdm.std, "time", lambda: clock[0])
    out = io.StringIO()
    bar = ProgressBar("Training", 20, file=out, show_eta=False, line_interval=1000.0)
    clock[0] = 10.0
    bar.update(10)  # 10 steps in 10 s; no line written in between (the line interval)
    bar.pause()
    clock[0] = 110.0  # a validation of 100 s
    bar.resume()
    clock[0] = 120.0
    bar.update(20)
    bar.finish()
    # 20 steps in 20 s of training: the 100 s paused are left out, the 10 s before are not
    assert re.search(r"20/20 \[00:20, +1\.00batch/s\]$", out.getvalue().splitlines()[-1]), out.getvalue()
