"""Run durations come from the monotonic clock: a wall clock that steps back changes nothing."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from trainscope import TrainingSession


def test_run_end_duration_ignores_a_wall_clock_stepped_back_two_hours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRAINSCOPE_LOG_DIR", str(tmp_path))
    wall_clock = time.time
    with TrainingSession("Net", 1, 3, plugins=["jsonl", "summary"]) as session:
        session.start_epoch(1)
        monkeypatch.setattr(time, "time", lambda: wall_clock() - 7200.0)  # NTP steps the clock back
        for step in range(1, 4):
            session.update_training_progress(step, 0.5)
    monkeypatch.undo()
    (log,) = tmp_path.glob("*.jsonl")
    end = json.loads(log.read_text(encoding="utf-8").splitlines()[-1])
    assert end["event"] == "run_end"
    assert 0.0 <= end["duration"] < 600.0
    assert "total time: 0." in capsys.readouterr().out
