"""The ``jsonl`` reporter in-process, loaded through its entry point."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import trainscope
from trainscope import LayerSpec, ModelSpec, RunInfo
from trainscope.plugin_api import architecture_text
from trainscope_jsonl import SCHEMA_VERSION, LogDirectoryError, read_run

StrictLines = Callable[[Path], list[dict[str, Any]]]

SPEC = ModelSpec("Tiny", (4,), [LayerSpec("fc", "Linear", "4, 2", 10, output_shape=(2,))])


def only_log(directory: Path) -> Path:
    (path,) = directory.iterdir()
    return path


def session(**kwargs: Any) -> trainscope.TrainingSession:
    options: dict[str, Any] = {
        "model_name": "Tiny CNN",
        "epochs": 2,
        "steps_per_epoch": 3,
        "validation_steps": 2,
        "plugins": ["jsonl"],
        "strict": True,
    }
    options.update(kwargs)
    return trainscope.TrainingSession(**options)


def run_epochs(s: trainscope.TrainingSession, loss: Callable[[int], float] = lambda step: 1.0 / step) -> None:
    for epoch in (1, 2):
        s.start_epoch(epoch)
        for step in (1, 2, 3):
            s.update_training_progress(step, loss(step), 0.5)
        s.start_validation()
        for step in (1, 2):
            s.update_validation_progress(step, 0.25, 0.75)
        s.print_epoch_summary()


def test_normal_run_writes_every_event_in_order(log_dir: Path, strict_lines: StrictLines) -> None:
    s = session(model=SPEC, config={"learning_rate": 0.01, "path": Path("data")})
    with s:
        run_epochs(s)
    events = strict_lines(only_log(log_dir))
    per_epoch = [
        "epoch_start",
        "phase_start",
        *["step"] * 3,
        "phase_end",
        "phase_start",
        *["step"] * 2,
        "phase_end",
        "epoch_end",
    ]
    assert [e["event"] for e in events] == ["run_start", *per_epoch, *per_epoch, "run_end"]
    assert all(e["run_id"] == s.run.run_id and isinstance(e["time"], float) for e in events)
    start, end = events[0], events[-1]
    assert start["schema_version"] == SCHEMA_VERSION
    assert start["name"] == "Tiny CNN"
    assert start["config"] == {"learning_rate": 0.01, "path": "data"}
    assert start["model"]["total_params"] == 10
    assert start["model"]["total_bytes"] == SPEC.total_bytes
    # the model as the architecture printer (installed here) prints it, for readers of the log
    assert start["architecture"] == architecture_text("Tiny CNN", SPEC)
    assert "(fc): Linear(4, 2)" in start["architecture"]
    assert start["environment"]["trainscope"] == trainscope.__version__
    assert end["status"] == "completed"
    assert end["error"] is None
    assert end["duration"] >= 0


def test_step_lines_carry_every_step_of_every_phase(log_dir: Path, strict_lines: StrictLines) -> None:
    s = session(refresh_interval=0)
    with s:
        run_epochs(s)
    steps = [e for e in strict_lines(only_log(log_dir)) if e["event"] == "step"]
    assert [(e["epoch"], e["phase"], e["step"]) for e in steps] == [
        (epoch, phase, step)
        for epoch in (1, 2)
        for phase, count in (("train", 3), ("validation", 2))
        for step in range(1, count + 1)
    ]
    assert steps[1]["metrics"] == {"loss": 0.5, "accuracy": 0.5}


def test_phase_and_epoch_ends_carry_means(log_dir: Path, strict_lines: StrictLines) -> None:
    s = session()
    with s:
        run_epochs(s, loss=float)
    events = strict_lines(only_log(log_dir))
    phase_end = next(e for e in events if e["event"] == "phase_end")
    assert phase_end["phase"] == "train"
    assert phase_end["steps"] == 3
    assert phase_end["means"] == {"loss": 2.0, "accuracy": 0.5}
    assert phase_end["duration"] >= 0
    epoch_end = next(e for e in events if e["event"] == "epoch_end")
    assert epoch_end["train"] == {"loss": 2.0, "accuracy": 0.5}
    assert epoch_end["validation"] == {"loss": 0.25, "accuracy": 0.75}


def test_non_finite_metrics_are_strings_and_read_back_as_floats(
    log_dir: Path, strict_lines: StrictLines
) -> None:
    values = {1: math.nan, 2: math.inf, 3: -math.inf}
    s = session(config={"clip": math.inf})
    with s:
        run_epochs(s, loss=values.__getitem__)
    events = strict_lines(only_log(log_dir))
    assert events[0]["config"] == {"clip": "Infinity"}
    steps = [e for e in events if e["event"] == "step" and e["phase"] == "train"]
    assert [e["metrics"]["loss"] for e in steps[:3]] == ["NaN", "Infinity", "-Infinity"]
    assert next(e for e in events if e["event"] == "epoch_end")["train"]["loss"] == "NaN"

    log = read_run(only_log(log_dir))
    losses = [e["metrics"]["loss"] for e in log.steps[:3]]
    assert math.isnan(losses[0])
    assert losses[1:] == [math.inf, -math.inf]
    assert math.isnan(log.epochs[0]["train"]["loss"])


def test_exception_writes_run_end_failed(log_dir: Path, strict_lines: StrictLines) -> None:
    s = session()

    def fail() -> None:
        with s:
            s.start_epoch(1)
            s.update_training_progress(1, 0.5)
            _ = 1 / 0

    with pytest.raises(ZeroDivisionError):
        fail()
    events = strict_lines(only_log(log_dir))
    assert events[-1]["event"] == "run_end"
    assert events[-1]["status"] == "failed"
    assert events[-1]["error"] == "ZeroDivisionError: division by zero"
    assert [e["step"] for e in events if e["event"] == "step"] == [1]


def test_an_error_whose_text_is_not_valid_unicode_still_ends_the_log(
    log_dir: Path, strict_lines: StrictLines
) -> None:
    s = session()

    def fail() -> None:
        with s:
            s.start_epoch(1)
            raise ValueError("cannot read data/\udc80.png")  # an undecodable file name: a lone surrogate

    with pytest.raises(ValueError, match="cannot read"):
        fail()
    events = strict_lines(only_log(log_dir))
    assert events[-1]["event"] == "run_end"
    assert events[-1]["error"] == "ValueError: cannot read data/\ufffd.png"


def test_keyboard_interrupt_writes_run_end_interrupted(log_dir: Path, strict_lines: StrictLines) -> None:
    s = session()

    def interrupt() -> None:
        with s:
            s.start_epoch(1)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupt()
    end = strict_lines(only_log(log_dir))[-1]
    assert (end["event"], end["status"], end["error"]) == ("run_end", "interrupted", "KeyboardInterrupt")


def test_file_name_shows_the_run_name_and_sorts_by_start(log_dir: Path) -> None:
    for _ in range(3):
        with session(epochs=1):
            pass
    names = sorted(path.name for path in log_dir.iterdir())
    assert len(names) == 3
    assert all(name.endswith(".jsonl") and "-Tiny_CNN-" in name for name in names)
    starts = [read_run(log_dir / name).start for name in names]
    times = [start["time"] for start in starts if start is not None]
    assert times == sorted(times)


def test_default_directory_is_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(trainscope.environment_variables.TRAINSCOPE_LOG_DIR, raising=False)
    monkeypatch.chdir(tmp_path)
    with session(epochs=1):
        pass
    assert read_run(only_log(tmp_path / "runs")).status == "completed"


def test_data_reaches_the_disk_at_each_epoch_end_and_at_the_end(
    log_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        real_fsync(fd)
        synced.append(read_run(only_log(log_dir)).events[-1]["event"])

    monkeypatch.setattr(os, "fsync", fsync)
    s = session()
    with s:
        run_epochs(s)
    assert synced == ["epoch_end", "epoch_end", "run_end"]


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []

    @trainscope.hookimpl
    def trainscope_epoch_start(self, run: RunInfo, epoch: int) -> None:
        self.events.append(f"epoch {epoch}")


def test_unwritable_directory_is_an_error_before_the_first_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv(trainscope.environment_variables.TRAINSCOPE_LOG_DIR, str(blocker / "runs"))
    recorder = Recorder()
    s = session(plugins=["jsonl", recorder])
    with pytest.raises(LogDirectoryError) as caught:
        s.start_training()
    message = str(caught.value)
    assert str(blocker / "runs") in message
    assert "TRAINSCOPE_LOG_DIR" in message
    assert "TRAINSCOPE_DISABLE_PLUGINS=jsonl" in message
    assert recorder.events == []


def test_unwritable_directory_stops_the_run_before_training_without_strict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv(trainscope.environment_variables.TRAINSCOPE_LOG_DIR, str(blocker))
    recorder = EndRecorder()
    s = session(plugins=[recorder, "jsonl"], strict=False)
    with pytest.raises(LogDirectoryError, match="not-a-directory"), s:
        run_epochs(s)
    assert recorder.events == ["end failed"]


class EndRecorder(Recorder):
    @trainscope.hookimpl
    def trainscope_train_end(self, status: str) -> None:
        self.events.append(f"end {status}")


def test_concurrent_sessions_write_separate_logs(log_dir: Path) -> None:
    first, second = session(), session()
    with first, second:
        run_epochs(first)
        run_epochs(second)
    logs = [read_run(path) for path in sorted(log_dir.iterdir())]
    assert {log.events[0]["run_id"] for log in logs} == {first.run.run_id, second.run.run_id}
    assert all(len(log.steps) == 10 and log.status == "completed" for log in logs)


def test_awkward_metric_names_still_give_one_valid_line_per_step(
    log_dir: Path, strict_lines: StrictLines
) -> None:
    names = ['a},{"step":1', 'quote"d', "null", "back\\slash", "new\nline", "ünï"]
    s = session(refresh_interval=60)
    with s:
        s.start_epoch(1)
        for step in (1, 2, 3):
            s.update_training_progress(step, {name: float(step) for name in names})
    steps = [e for e in strict_lines(only_log(log_dir)) if e["event"] == "step"]
    assert [e["step"] for e in steps] == [1, 2, 3]
    assert steps[2]["metrics"] == dict.fromkeys(names, 3.0)


def test_a_large_batch_keeps_every_step_in_order(log_dir: Path, strict_lines: StrictLines) -> None:
    s = session(refresh_interval=3600, steps_per_epoch=1500)
    with s:
        s.start_epoch(1)
        for step in range(1, 1501):
            s.update_training_progress(step, math.nan if step == 700 else step / 10, 0.5)
    steps = [e for e in strict_lines(only_log(log_dir)) if e["event"] == "step"]
    assert [e["step"] for e in steps] == list(range(1, 1501))
    assert steps[699]["metrics"]["loss"] == "NaN"
    assert steps[1499]["metrics"] == {"loss": 150.0, "accuracy": 0.5}


def test_steps_that_leave_a_metric_out_have_no_key_for_it(log_dir: Path, strict_lines: StrictLines) -> None:
    s = session(refresh_interval=3600, steps_per_epoch=1200)
    with s:
        s.start_epoch(1)
        for step in range(1, 1201):
            if step <= 600:
                s.update_training_progress(step)  # no metric at all
            elif step % 3:
                s.update_training_progress(step, 1.0 / step)
            else:
                s.update_training_progress(step, 1.0 / step, grad_norm=float(step))
    steps = [e for e in strict_lines(only_log(log_dir)) if e["event"] == "step"]
    assert [e["step"] for e in steps] == list(range(1, 1201))
    assert steps[0]["metrics"] == {}
    assert steps[600]["metrics"] == {"loss": 1.0 / 601}
    assert steps[602]["metrics"] == {"loss": 1.0 / 603, "grad_norm": 603.0}


def test_a_run_without_metrics_has_an_empty_metrics_object_per_step(
    log_dir: Path, strict_lines: StrictLines
) -> None:
    s = session(refresh_interval=3600, steps_per_epoch=700)
    with s:
        s.start_epoch(1)
        for step in range(1, 701):  # more than one chunk of lines, none with a metric
            s.update_training_progress(step)
    steps = [e for e in strict_lines(only_log(log_dir)) if e["event"] == "step"]
    assert [e["step"] for e in steps] == list(range(1, 701))
    assert all(e["metrics"] == {} for e in steps)
