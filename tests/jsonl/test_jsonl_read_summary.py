"""``read_summary`` and the single-run ``trainscope log``: streaming, how a run ended, text safe to print."""

from __future__ import annotations

import dataclasses
import math
import tracemalloc
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result

import trainscope
from trainscope.cli import CliContext, build_cli
from trainscope_jsonl import SCHEMA_VERSION, EpochRecord, EvaluationRecord, RunEnd, read_run, read_summary

RUN_ID = "3ab1ac0a517746cbb87fbd9409408d54"
ESCAPES = "\x1b[2J\x1b]0;owned\x07\x1b]52;c;ZWNobyBoaQ==\x07\x9b31m\u2028"
SHOWN = "?[2J?]0;owned??]52;c;ZWNobyBoaQ==??31m?"
"""``ESCAPES`` as printed: each control character replaced by ``?``."""


def ev(event: str, /, **fields: Any) -> dict[str, Any]:
    return {"event": event, "run_id": RUN_ID, "time": 1778312112.0, **fields}


def start(name: str = "CatDogCNN", **fields: Any) -> dict[str, Any]:
    return ev("run_start", **{"schema_version": 1, "name": name, "epochs": 3, **fields})


def epoch(number: int, train_loss: float, validation_loss: float | None = None, steps: int = 2) -> list[dict]:
    """The events of one epoch; a NaN loss is written as the writer does, as the string "NaN"."""
    train_loss = "NaN" if math.isnan(train_loss) else train_loss  # type: ignore[assignment]
    train = {"loss": train_loss, "accuracy": 0.5}
    validation = None if validation_loss is None else {"loss": validation_loss, "accuracy": 0.75}
    events = [ev("epoch_start", epoch=number), ev("phase_start", epoch=number, phase="train", total=steps)]
    events += [
        ev("step", epoch=number, phase="train", step=step, metrics={"loss": train_loss, "accuracy": 0.5})
        for step in range(1, steps + 1)
    ]
    events.append(
        ev("phase_end", epoch=number, phase="train", steps=steps, means=train, duration=0.5, rate=4.0)
    )
    if validation is not None:
        events.append(ev("phase_start", epoch=number, phase="validation", total=1))
        events.append(ev("step", epoch=number, phase="validation", step=1, metrics=validation))
        events.append(
            ev(
                "phase_end",
                epoch=number,
                phase="validation",
                steps=1,
                means=validation,
                duration=0.1,
                rate=9.0,
            )
        )
    return [*events, ev("epoch_end", epoch=number, train=train, validation=validation, duration=0.75)]


def write_log(path: Path, events: list[dict[str, Any]], tail: bytes = b"") -> Path:
    path.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in events) + tail)
    return path


def run_log(*paths: Path) -> Result:
    manager = trainscope.create_plugin_manager(plugins=["jsonl"])
    return CliRunner().invoke(build_cli(manager), ["log", *map(str, paths)], obj=CliContext(manager))


def test_read_summary_keeps_epochs_phases_and_end_and_counts_steps(tmp_path: Path) -> None:
    events = [start(), *epoch(1, 1.0, 0.9), *epoch(2, 0.5, 0.7, steps=3)]
    path = write_log(
        tmp_path / "run.jsonl", [*events, ev("run_end", status="completed", error=None, duration=2)]
    )
    summary = read_summary(path)
    assert (summary.name, summary.run_id, summary.planned_epochs) == ("CatDogCNN", RUN_ID, 3)
    assert summary.epochs == [
        EpochRecord(1, {"loss": 1.0, "accuracy": 0.5}, {"loss": 0.9, "accuracy": 0.75}, 0.75, global_step=2),
        EpochRecord(2, {"loss": 0.5, "accuracy": 0.5}, {"loss": 0.7, "accuracy": 0.75}, 0.75, global_step=5),
    ]
    assert [(p.epoch, p.phase, p.steps, p.global_step) for p in summary.phases] == [
        (1, "train", 2, 2),
        (1, "validation", 1, 2),
        (2, "train", 3, 5),
        (2, "validation", 1, 5),
    ]
    assert summary.steps == 7
    assert summary.training_steps == 5
    assert summary.end == RunEnd("completed", None, 2.0)
    assert summary.status == "completed"
    assert summary.abandoned is None
    assert not summary.truncated


def test_best_epoch_is_the_lowest_validation_loss_else_training_loss(tmp_path: Path) -> None:
    validated = read_summary(
        write_log(tmp_path / "a.jsonl", [start(), *epoch(1, 0.2, 0.9), *epoch(2, 0.5, 0.7)])
    )
    best = validated.best
    assert best is not None
    assert best.record is validated.epochs[1]
    assert (best.phase, best.loss, best.record.global_step) == ("validation", 0.7, 4)
    trained = read_summary(write_log(tmp_path / "b.jsonl", [start(), *epoch(1, 0.2), *epoch(2, 0.5)]))
    best = trained.best
    assert best is not None
    assert (best.record.number, best.phase, best.loss) == (1, "train", 0.2)
    assert "Best epoch: 1/3 (Training Loss: 0.2000)" in run_log(tmp_path / "b.jsonl").output
    diverged = read_summary(write_log(tmp_path / "c.jsonl", [start(), *epoch(1, math.nan)]))
    assert diverged.best is None
    assert "Best" not in run_log(tmp_path / "c.jsonl").output


def test_non_finite_metrics_are_read_back_as_floats(tmp_path: Path) -> None:
    events = [start(), *epoch(1, 1.0, 0.5)]
    events[-1]["validation"] = {"loss": "NaN", "accuracy": "Infinity"}
    summary = read_summary(write_log(tmp_path / "run.jsonl", events))
    validation = summary.epochs[0].validation
    assert validation is not None
    assert math.isnan(validation["loss"])
    assert validation["accuracy"] == math.inf
    result = run_log(tmp_path / "run.jsonl")
    assert result.output.splitlines()[3].split()[3:5] == ["nan", "inf"]


def test_unknown_events_and_fields_are_ignored(tmp_path: Path) -> None:
    plain = [start(), *epoch(1, 1.0, 0.5), ev("run_end", status="completed", error=None, duration=1.0)]
    extended: list[dict[str, Any]] = []
    for event in plain:
        extended.append({**event, "host": {"gpu": "H100", "temperature": [61, 63]}, "note": None})
        if event["event"] == "epoch_end":
            extended.append(ev("checkpoint", path="ckpt/1", bytes=123))
    extended.insert(1, ev("throughput", examples_per_second=1000.0))
    expected = run_log(write_log(tmp_path / "plain.jsonl", plain)).output.splitlines()[1:]
    result = run_log(write_log(tmp_path / "extended.jsonl", extended))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1:] == expected


def test_a_log_without_run_end_says_the_process_stopped(tmp_path: Path) -> None:
    path = write_log(tmp_path / "run.jsonl", [start(), *epoch(1, 1.0, 0.5)], tail=b'{"event":"st')
    summary = read_summary(path)
    assert summary.end is None
    assert summary.truncated
    lines = run_log(path).output.splitlines()
    assert lines[1] == f"Run CatDogCNN ({RUN_ID}): no run_end: the process stopped before the run ended"
    assert lines[2] == "(the last line was cut off and is skipped)"
    assert lines[4].split()[0] == "1"


MESSAGE = "log write failed: [Errno 28] No space left on device"


@pytest.mark.parametrize(
    "marker",
    [
        ev("log_error", error=MESSAGE),
        ev("log_error", message=MESSAGE, errno=28),
        ev("run_end", status="failed", error=MESSAGE, duration=1.0),
    ],
)
def test_a_log_the_writer_abandoned_says_so(tmp_path: Path, marker: dict[str, Any]) -> None:
    path = write_log(tmp_path / "run.jsonl", [start(), *epoch(1, 1.0, 0.5), marker])
    summary = read_summary(path)
    assert summary.abandoned == MESSAGE
    output = run_log(path).output
    assert f"Run CatDogCNN ({RUN_ID}): log abandoned: {MESSAGE}" in output
    assert "the process stopped" not in output


def test_a_log_error_without_a_message_still_marks_the_log(tmp_path: Path) -> None:
    path = write_log(tmp_path / "run.jsonl", [start(), ev("log_error", error=None)])
    assert read_summary(path).abandoned == "the writer gave up on the log"


def test_a_run_end_after_a_log_error_is_the_end(tmp_path: Path) -> None:
    events = [
        start(),
        ev("log_error", error=MESSAGE),
        ev("run_end", status="completed", error=None, duration=2),
    ]
    summary = read_summary(write_log(tmp_path / "run.jsonl", events))
    assert summary.abandoned is None
    assert "completed after 2.00 s" in run_log(tmp_path / "run.jsonl").output


def test_a_failed_run_shows_its_error(tmp_path: Path) -> None:
    events = [
        start(),
        *epoch(1, 1.0),
        ev("run_end", status="failed", error="ValueError: bad batch", duration=3),
    ]
    output = run_log(write_log(tmp_path / "run.jsonl", events)).output
    assert f"Run CatDogCNN ({RUN_ID}): failed after 3.00 s (ValueError: bad batch)" in output


def test_text_from_the_file_reaches_the_terminal_without_control_characters(tmp_path: Path) -> None:
    events = [start(name=f"Cat{ESCAPES}Dog"), *epoch(1, 1.0, 0.5)]
    for event in events:
        for key in ("train", "validation", "means", "metrics"):
            if isinstance(event.get(key), dict):
                event[key] = {
                    f"loss{ESCAPES}" if name == "loss" else name: v for name, v in event[key].items()
                }
    events.append(ev("run_end", status=f"failed{ESCAPES}", error=f"Boom{ESCAPES}", duration=1.0))
    folder = tmp_path / f"runs{ESCAPES}"
    folder.mkdir()
    result = run_log(write_log(folder / "run.jsonl", events))
    assert result.exit_code == 0, result.output
    assert not any(char in result.output for char in "\x1b\x07\x9b\u2028")
    assert f"Log: {tmp_path}/runs{SHOWN}/run.jsonl" in result.output
    assert f"Run Cat{SHOWN}Dog ({RUN_ID}): failed{SHOWN} after 1.00 s (Boom{SHOWN})" in result.output
    assert f"Train loss{SHOWN}" in result.output


def test_control_characters_in_an_error_message_are_stripped(tmp_path: Path) -> None:
    events = [start(), *epoch(1, 1.0)]
    events[-1]["train"] = {f"x{ESCAPES}": "high"}
    result = run_log(write_log(tmp_path / "run.jsonl", events))
    assert result.exit_code == 1
    assert "\x1b" not in result.output
    assert f'"train" metric "x{SHOWN}" is a string, expected a number' in result.output


def test_a_newer_schema_version_is_noted(tmp_path: Path) -> None:
    path = write_log(tmp_path / "run.jsonl", [start(schema_version=SCHEMA_VERSION + 1), *epoch(1, 1.0)])
    output = run_log(path).output
    assert f"(schema version {SCHEMA_VERSION + 1} is newer than version {SCHEMA_VERSION}" in output
    assert (
        run_log(write_log(tmp_path / "v1.jsonl", [start(), *epoch(1, 1.0)])).output.count("schema version")
        == 0
    )


def long_log(path: Path, steps: int) -> Path:
    """A run of ``steps`` training steps (about 170 bytes each), written line by line."""
    with path.open("wb") as file:
        file.write(orjson.dumps(start()) + b"\n")
        prefix = b'{"event":"step","run_id":"%s","epoch":1,"phase":"train",' % RUN_ID.encode()
        for step in range(1, steps + 1):
            file.write(
                prefix + b'"step":%d,"time":1778312112.25,"metrics":{"loss":0.5,"accuracy":0.25}}\n' % step
            )
        file.write(orjson.dumps(epoch(1, 0.5)[-1]) + b"\n")
    return path


def test_read_summary_memory_is_flat_in_the_number_of_steps(tmp_path: Path) -> None:
    path = long_log(tmp_path / "long.jsonl", 40_000)
    assert path.stat().st_size > 5_000_000
    tracemalloc.start()
    try:
        summary = read_summary(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary.steps == 40_000
    assert summary.training_steps == 40_000
    assert peak < 500_000  # every step kept would be tens of MB


def test_read_run_still_returns_every_event(tmp_path: Path) -> None:
    events = [start(), *epoch(1, 1.0, 0.5), ev("run_end", status="completed", error=None, duration=1.0)]
    log = read_run(write_log(tmp_path / "run.jsonl", events))
    assert len(log.events) == len(events)
    assert len(log.steps) == 3
    assert log.status == "completed"


def train_in_steps(log_dir: Path, losses: list[float], every: int, validation: list[float]) -> Path:
    """A run declared in steps, validated every ``every`` steps; its log."""
    session = trainscope.TrainingSession("StepNet", total_steps=len(losses), plugins=["jsonl"], strict=True)
    with session:
        for step, loss in enumerate(losses, start=1):
            session.update_training_progress(step, loss, 0.5)
            if step % every == 0:
                session.start_validation()
                session.update_validation_progress(1, validation[step // every - 1], 0.75)
                session.finish_validation_epoch()
    return Path(session.run.artifacts["jsonl"])


def test_a_run_in_steps_has_a_row_per_evaluation(log_dir: Path) -> None:
    path = train_in_steps(log_dir, [1.0, 0.5, 0.5, 0.25, 0.25, 0.25], 2, [0.75, 0.25, 0.5])
    summary = read_summary(path)
    assert (summary.planned_epochs, summary.total_steps, summary.epochs) == (None, 6, [])
    assert all(e.health is not None and e.run_elapsed is not None for e in summary.evaluations)
    means = [dataclasses.replace(e, health=None, run_elapsed=None, run_eta=None) for e in summary.evaluations]
    assert means == [
        EvaluationRecord(
            None,
            2,
            6,
            {"loss": 0.75, "accuracy": 0.5},
            {"loss": 0.75, "accuracy": 0.75},
            summary.evaluations[0].duration,
            global_step=2,
        ),
        EvaluationRecord(
            None,
            4,
            6,
            {"loss": 0.375, "accuracy": 0.5},
            {"loss": 0.25, "accuracy": 0.75},
            summary.evaluations[1].duration,
            global_step=4,
        ),
        EvaluationRecord(
            None,
            6,
            6,
            {"loss": 0.25, "accuracy": 0.5},
            {"loss": 0.5, "accuracy": 0.75},
            summary.evaluations[2].duration,
            global_step=6,
        ),
    ]
    best = summary.best
    assert best is not None
    assert best.record is summary.evaluations[1]
    lines = run_log(path).output.splitlines()
    assert lines[2].split() == [
        "Step",
        "Train",
        "loss",
        "Train",
        "accuracy",
        "Validation",
        "loss",
        "Validation",
        "accuracy",
        "Time",
    ]
    assert [line.split()[:4] for line in lines[3:6]] == [
        ["2", "0.7500", "50.00%", "0.7500"],
        ["4", "0.3750", "50.00%", "0.2500"],
        ["6", "0.2500", "50.00%", "0.5000"],
    ]
    assert lines[6] == "Best evaluation: step 4/6 (Validation Loss: 0.2500)"


def test_a_run_in_steps_that_stopped_before_its_first_evaluation(tmp_path: Path) -> None:
    start_line = start(epochs=None, total_steps=1200, schema_version=2)
    path = write_log(
        tmp_path / "run.jsonl", [start_line, ev("step", epoch=1, phase="train", step=1, metrics={})]
    )
    lines = run_log(path).output.splitlines()
    assert lines[-1] == "No evaluation finished."


def test_trainscope_log_shows_the_throughput_figures_the_log_has(tmp_path: Path) -> None:
    events = [start(), *epoch(1, 0.9, 0.8), *epoch(2, 0.7, 0.6)]
    events[-1]["throughput"] = {
        "examples_per_second": 3812.4,
        "flops_per_second": 1.214e12,
        "mfu": 0.0231,
        "peak_memory_bytes": None,  # the CPU: not reported
    }
    result = run_log(write_log(tmp_path / "run.jsonl", events))
    assert result.exit_code == 0, result.output
    heading = next(line for line in result.output.splitlines() if line.lstrip().startswith("Epoch"))
    assert heading.split()[-4:] == ["Examples/s", "FLOP/s", "MFU", "Time"]  # no memory column: none known
    last = next(line for line in result.output.splitlines() if line.lstrip().startswith("2 "))
    assert "3,812" in last
    assert "1.21 TFLOP/s" in last
    assert "2.3%" in last
    first = next(line for line in result.output.splitlines() if line.lstrip().startswith("1 "))
    assert first.split().count("-") == 3  # epoch 1 has no figures
    assert read_summary(tmp_path / "run.jsonl").epochs[1].throughput == {
        "examples_per_second": 3812.4,
        "flops_per_second": 1.214e12,
        "mfu": 0.0231,
    }
