"""``trainscope log`` and ``plot`` on files that are not good run logs: one clear line, no traceback."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result

import trainscope
from trainscope.cli import CliContext, build_cli
from trainscope_jsonl import MAX_LINE_BYTES, EventStream, LogFormatError, read_run, read_summary

RUN_ID = "3ab1ac0a517746cbb87fbd9409408d54"
DELETE: Any = object()


def ev(event: str, /, **fields: Any) -> dict[str, Any]:
    return {"event": event, "run_id": RUN_ID, "time": 1778312112.0, **fields}


def good_log() -> list[dict[str, Any]]:
    """A complete two-epoch log, as the writer writes it."""
    events = [
        ev("run_start", schema_version=1, name="CatDogCNN", epochs=2, steps_per_epoch=2, validation_steps=1)
    ]
    for epoch in (1, 2):
        train, validation = {"loss": 1.0 / epoch, "accuracy": 0.5}, {"loss": 0.75 / epoch, "accuracy": 0.6651}
        events += [
            ev("epoch_start", epoch=epoch),
            ev("phase_start", epoch=epoch, phase="train", total=2),
            ev("step", epoch=epoch, phase="train", step=1, metrics={"loss": 1.5, "accuracy": 0.25}),
            ev("step", epoch=epoch, phase="train", step=2, metrics={"loss": 0.5, "accuracy": "NaN"}),
            ev("phase_end", epoch=epoch, phase="train", steps=2, means=train, duration=0.5, rate=4.0),
            ev("phase_start", epoch=epoch, phase="validation", total=1),
            ev("step", epoch=epoch, phase="validation", step=1, metrics=validation),
            ev(
                "phase_end",
                epoch=epoch,
                phase="validation",
                steps=1,
                means=validation,
                duration=0.1,
                rate=None,
            ),
            ev(
                "evaluation_end",
                epoch=epoch,
                step=2,
                total_steps=2,
                train=train,
                validation=validation,
                duration=1,
            ),
            ev("epoch_end", epoch=epoch, train=train, validation=validation, duration=0.7),
        ]
    return [*events, ev("run_end", status="completed", error=None, duration=1.5)]


def write_log(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in events))
    return path


def run_cli(*args: str | Path) -> Result:
    manager = trainscope.create_plugin_manager(plugins=["jsonl"])
    return CliRunner().invoke(build_cli(manager), [str(arg) for arg in args], obj=CliContext(manager))


def assert_one_line_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # not an uncaught exception
    assert "Traceback" not in result.output
    (line,) = result.output.splitlines()
    assert line.startswith("Error: ")
    for fragment in fragments:
        assert fragment in line


BAD_FIELDS = [
    ("run_start", "name", None, '"run_start" event "name" is null, expected a string'),
    ("run_start", "name", ["CatDogCNN"], '"name" is a list, expected a string'),
    ("run_start", "run_id", DELETE, '"run_id" is missing, expected a string'),
    ("run_start", "epochs", "two", '"epochs" is a string, expected an integer'),
    ("run_start", "schema_version", 1.5, '"schema_version" is 1.5, expected an integer'),
    ("step", "step", "1", '"step" event "step" is a string, expected an integer'),
    ("step", "step", None, '"step" is null, expected an integer'),
    ("step", "phase", 3, '"phase" is 3, expected a string'),
    ("phase_end", "means", [1.0], '"means" is a list, expected an object of metric values'),
    ("phase_end", "means", {"loss": "low"}, '"means" metric "loss" is a string, expected a number'),
    ("phase_end", "duration", None, '"phase_end" event "duration" is null, expected a number'),
    ("phase_end", "steps", {"n": 2}, '"steps" is an object, expected an integer'),
    ("epoch_end", "duration", None, '"epoch_end" event "duration" is null, expected a number'),
    ("epoch_end", "duration", "0.7 s", '"duration" is a string, expected a number'),
    ("epoch_end", "epoch", "1", '"epoch" is a string, expected an integer'),
    ("epoch_end", "train", [0.5, 0.5], '"train" is a list, expected an object of metric values'),
    ("epoch_end", "validation", {"loss": None}, '"validation" metric "loss" is null, expected a number'),
    ("epoch_end", "validation", {"loss": True}, '"validation" metric "loss" is true, expected a number'),
    ("epoch_end", "train", {"loss": {"mean": 1}}, '"train" metric "loss" is an object, expected a number'),
    ("evaluation_end", "step", None, '"evaluation_end" event "step" is null, expected an integer'),
    ("evaluation_end", "epoch", "one", '"epoch" is a string, expected an integer'),
    ("evaluation_end", "total_steps", [2], '"total_steps" is a list, expected an integer'),
    ("evaluation_end", "validation", {"loss": "low"}, '"validation" metric "loss" is a string'),
    ("evaluation_end", "duration", DELETE, '"duration" is missing, expected a number'),
    ("run_start", "total_steps", "600", '"total_steps" is a string, expected an integer'),
    ("run_end", "status", None, '"run_end" event "status" is null, expected a string'),
    ("run_end", "error", 5, '"error" is 5, expected a string'),
    ("run_end", "duration", [], '"duration" is a list, expected a number'),
]


def with_bad_field(event_name: str, key: str, value: Any) -> tuple[list[dict[str, Any]], int]:
    """The good log with one field of the first ``event_name`` replaced; that event's line number."""
    events = good_log()
    index = next(i for i, event in enumerate(events) if event["event"] == event_name)
    if value is DELETE:
        del events[index][key]
    else:
        events[index][key] = value
    return events, index + 1


@pytest.mark.parametrize(("event_name", "key", "value", "message"), BAD_FIELDS)
@pytest.mark.parametrize("command", ["log", "plot"])
def test_a_field_of_the_wrong_type_is_one_clear_line(
    tmp_path: Path, command: str, event_name: str, key: str, value: Any, message: str
) -> None:
    events, line = with_bad_field(event_name, key, value)
    path = write_log(tmp_path / "run.jsonl", events)
    result = run_cli(command, path)
    assert_one_line_error(result, f"'{path}' line {line}: ", message)
    assert not (tmp_path / "run.png").exists()


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ([1.5], '"metrics" is a list'),
        ({"loss": "low"}, '"metrics" metric "loss" is a string'),
        (None, "null"),
    ],
)
def test_step_metrics_of_the_wrong_type_stop_the_plot_not_the_table(
    tmp_path: Path, metrics: Any, message: str
) -> None:
    events, line = with_bad_field("step", "metrics", metrics)
    path = write_log(tmp_path / "run.jsonl", events)
    assert run_cli("log", path).exit_code == 0  # the table does not read step metrics
    assert_one_line_error(run_cli("plot", path), f"line {line}: ", message)


def test_the_good_log_reads_cleanly(tmp_path: Path) -> None:
    path = write_log(tmp_path / "run.jsonl", good_log())
    result = run_cli("log", path)
    assert result.exit_code == 0, result.output
    assert "Run CatDogCNN (3ab1ac0a517746cbb87fbd9409408d54): completed after 1.50 s" in result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty: not a trainscope run log (no run_start)"),
        (b"\n\n  \n", "is empty: not a trainscope run log (no run_start)"),
        (
            b"\x7fELF\x02\x01\x01\x00\x00\x00\n\x00\xff\xfe\n",
            "line 1: not a JSON object: unexpected character",
        ),
        (
            b'{"event": "run_start", "name": "\xff\xfe"}\n',
            "line 1: not a JSON object: str is not valid UTF-8",
        ),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "line 1: not a JSON object"),
        (b"\x00\x01\x02\xff no newline", "holds no complete line: not a trainscope run log"),
        (b"[1, 2, 3]\n", "line 1: not a JSON object: expected a JSON object, got list"),
        (b'"run_start"\n', "line 1: not a JSON object: expected a JSON object, got str"),
        (
            b'{"event": "run_start", "name": NaN}\n',
            "line 1: not a JSON object: unexpected character, expected a JSON value at column 32",
        ),
        (b'{"name": "x"}\n', 'line 1: "event" is missing, expected a string'),
        (b'{"event": 5}\n', 'line 1: "event" is 5, expected a string'),
        (b'{"event": "step", "phase": "train", "step": 1}\n', 'line 1: "step" comes before any run_start'),
        (b"a,b,c\n1,2,3\n", "line 1: not a JSON object"),
    ],
)
def test_a_file_that_is_not_a_run_log_is_one_clear_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(content)
    for command in ("log", "plot"):
        assert_one_line_error(run_cli(command, path), message)
    with pytest.raises(LogFormatError, match=r"x\.jsonl"):
        read_summary(path)


def test_a_line_longer_than_the_bound_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    first = orjson.dumps(good_log()[0]) + b"\n"
    path.write_bytes(first + b'{"event":"step","pad":"' + b"a" * MAX_LINE_BYTES + b'"}\n')
    assert_one_line_error(run_cli("log", path), "line 2: longer than 16 MiB: not a run log line")
    with pytest.raises(LogFormatError, match="line 2: longer than 16 MiB"):
        read_run(path)  # the whole-log reader has the same bound


def test_the_line_bound_counts_the_line_without_its_newline(tmp_path: Path) -> None:
    path = tmp_path / "bound.jsonl"
    line = b'{"event":"x","pad":"' + b"a" * 78 + b'"}'
    assert len(line) == 100
    path.write_bytes(line + b"\n")
    assert [event["event"] for event in EventStream(path, max_line_bytes=100)] == ["x"]
    with pytest.raises(LogFormatError, match="line 1: longer than 99 bytes"):
        list(EventStream(path, max_line_bytes=99))


def test_a_folder_named_like_a_log(tmp_path: Path) -> None:
    folder = tmp_path / "x.jsonl"
    folder.mkdir()
    assert_one_line_error(run_cli("log", folder), f"no run logs (*.jsonl files) in the folder '{folder}'")
    with pytest.raises(LogFormatError, match=r"x.jsonl' is a folder, not a run log file"):
        read_summary(folder)
    with pytest.raises(LogFormatError, match="is a folder"):
        read_run(folder)


def test_a_folder_named_like_a_log_is_not_the_newest_run(tmp_path: Path) -> None:
    write_log(tmp_path / "20260101T000000.000Z-a.jsonl", good_log())
    (tmp_path / "20990101T000000.000Z-z.jsonl").mkdir()
    result = run_cli("log", tmp_path)
    assert result.exit_code == 0, result.output
    assert "20260101T000000.000Z-a.jsonl" in result.output


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    results: list[Result] = []
    thread = threading.Thread(target=lambda: results.append(run_cli("log", fifo)), daemon=True)
    thread.start()
    thread.join(timeout=20)
    assert results, "trainscope log waited on the pipe"
    assert_one_line_error(results[0], f"'{fifo}' is a named pipe (FIFO), not a run log file")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_device_is_refused(device: str) -> None:
    if not os.path.exists(device) or not stat.S_ISCHR(os.stat(device).st_mode):
        pytest.skip(f"no {device} here")
    for command in ("log", "plot"):
        assert_one_line_error(
            run_cli(command, device), f"'{device}' is a character device, not a run log file"
        )


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_one_clear_line(tmp_path: Path) -> None:
    path = write_log(tmp_path / "run.jsonl", good_log())
    path.chmod(0)
    assert_one_line_error(run_cli("log", path), f"cannot read '{path}': Permission denied")
