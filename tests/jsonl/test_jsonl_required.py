"""Any failure of the log writer stops the run, and the log still ends with ``run_end``."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import trainscope_jsonl.plugin as jsonl_plugin
import trainscope_jsonl.schema as jsonl_schema
import trainscope_jsonl.writer as jsonl_writer
from trainscope import RequiredPluginError, TrainingSession
from trainscope_jsonl import read_summary

from .conftest import StrictLines

STEPS = 400


def only_log(directory: Path) -> Path:
    (path,) = directory.iterdir()
    return path


def train() -> list[int]:
    """Train 400 steps with the log; the steps the loop got to."""
    done: list[int] = []
    with TrainingSession("Net", 1, STEPS, plugins=["jsonl"], refresh_interval=0) as session:
        session.start_epoch(1)
        for step in range(1, STEPS + 1):
            done.append(step)
            session.update_training_progress(step, 0.5, 0.25)
    return done


def failing_on_call(n: int, function: Callable[..., Any], error: BaseException) -> Callable[..., Any]:
    calls = 0

    def fail_once(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == n:
            raise error
        return function(*args)

    return fail_once


@pytest.mark.usefixtures("log_dir")
@pytest.mark.parametrize("error", [MemoryError(), RecursionError("maximum recursion depth exceeded")])
def test_an_error_while_encoding_steps_stops_the_run_and_the_log_ends_failed(
    error: Exception, monkeypatch: pytest.MonkeyPatch, log_dir: Path, strict_lines: StrictLines
) -> None:
    monkeypatch.setattr(jsonl_plugin, "encode_steps", failing_on_call(3, jsonl_plugin.encode_steps, error))
    done: list[int] = []
    with pytest.raises(
        RequiredPluginError, match=f"'jsonl' raised in trainscope_progress.*{type(error).__name__}"
    ):
        done = train()
    assert done == []  # the loop never got past the failing step
    events = strict_lines(only_log(log_dir))
    assert [e["step"] for e in events if e["event"] == "step"] == [1, 2]
    end = events[-1]
    assert end["event"] == "run_end"
    assert end["status"] == "failed"
    stopped = "required plugin 'jsonl' raised in trainscope_progress, so the run is stopped"
    assert f"{stopped}: {type(error).__name__}" in end["error"]


@pytest.mark.usefixtures("log_dir")
def test_an_error_half_way_through_a_write_takes_the_cut_line_back(
    monkeypatch: pytest.MonkeyPatch, log_dir: Path, strict_lines: StrictLines
) -> None:
    def half_then_no_memory(fd: int, data: bytes) -> None:
        os.write(fd, data[: len(data) // 2])
        raise MemoryError

    original = jsonl_writer._write_fully
    calls = 0

    def fourth_write_cut(fd: int, data: bytes) -> None:
        nonlocal calls
        calls += 1
        (half_then_no_memory if calls == 4 else original)(fd, data)

    monkeypatch.setattr(jsonl_writer, "_write_fully", fourth_write_cut)
    with pytest.raises(RequiredPluginError, match="MemoryError"):
        train()
    path = only_log(log_dir)
    events = strict_lines(path)  # every line whole: the half line was cut off again
    assert path.read_bytes().endswith(b"\n")
    assert [e["event"] for e in events] == ["run_start", "epoch_start", "phase_start", "run_end"]
    assert events[-1]["status"] == "failed"
    assert read_summary(path).status == "failed"


@pytest.mark.usefixtures("log_dir")
def test_an_error_whose_text_cannot_be_made_is_logged_by_its_name(
    log_dir: Path, strict_lines: StrictLines
) -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no text")

    def train() -> None:
        with TrainingSession("Net", 1, 2, plugins=["jsonl"]) as session:
            session.start_epoch(1)
            raise Unprintable

    with pytest.raises(Unprintable):
        train()
    end = strict_lines(only_log(log_dir))[-1]
    assert (end["event"], end["status"], end["error"]) == ("run_end", "failed", "Unprintable")


@pytest.mark.usefixtures("log_dir")
def test_a_run_start_that_cannot_be_built_still_gives_a_log_that_reads(
    monkeypatch: pytest.MonkeyPatch, log_dir: Path, strict_lines: StrictLines
) -> None:
    def no_memory(run: Any) -> Any:
        raise MemoryError

    monkeypatch.setattr(jsonl_schema, "run_start", no_memory)
    with pytest.raises(RequiredPluginError, match="trainscope_train_start"):
        train()
    events = strict_lines(only_log(log_dir))
    assert [e["event"] for e in events] == ["run_start", "run_end"]
    assert events[0]["name"] == "Net"
    assert events[-1]["status"] == "failed"
    assert read_summary(only_log(log_dir)).status == "failed"
