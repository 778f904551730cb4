"""A training process killed or interrupted mid-run leaves a log whose complete lines all parse."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from trainscope import environment_variables as env_vars
from trainscope_jsonl import read_run

StrictLines = Callable[[Path], list[dict[str, Any]]]

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

TRAINING_SCRIPT = """
import math, signal, sys, time
import trainscope

signal.signal(signal.SIGINT, signal.default_int_handler)
session = trainscope.TrainingSession("Killed", 1000, 1000, plugins=["jsonl"], strict=True,
                                     refresh_interval=0.001)
with session:
    for epoch in range(1, 1001):
        session.start_epoch(epoch)
        for step in range(1, 1001):
            session.update_training_progress(step, math.nan if step % 7 == 0 else 1.0 / step, 0.5)
            time.sleep(0.0005)
        session.print_epoch_summary()
        if epoch == 1:
            print("epoch 1 done", flush=True)
"""


@pytest.fixture
def training(
    tmp_path: Path, signal_defaults: Callable[[], None]
) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """A training subprocess that has finished its first epoch, and its log directory."""
    log_dir = tmp_path / "logs"
    script = tmp_path / "train.py"
    script.write_text(TRAINING_SCRIPT)
    env = {**os.environ, env_vars.TRAINSCOPE_LOG_DIR: str(log_dir)}
    env.pop(env_vars.TRAINSCOPE_PLUGINS, None)
    process = subprocess.Popen(
        [sys.executable, str(script)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=signal_defaults,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line == "epoch 1 done\n", process.stderr.read() if process.stderr else ""
        yield process, log_dir
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=60)


def only_log(directory: Path) -> Path:
    (path,) = directory.iterdir()
    return path


def test_killed_process_leaves_complete_lines_that_parse(
    training: tuple[subprocess.Popen[str], Path], strict_lines: StrictLines
) -> None:
    process, log_dir = training
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    path = only_log(log_dir)
    events = strict_lines(path)
    kinds = [event["event"] for event in events]
    assert kinds[0] == "run_start"
    assert "epoch_end" in kinds
    assert "run_end" not in kinds
    assert any(event.get("metrics", {}).get("loss") == "NaN" for event in events)
    log = read_run(path)
    assert log.end is None
    assert log.status is None
    assert len(log.events) == len(events)


def test_reader_skips_a_cut_off_last_line(
    training: tuple[subprocess.Popen[str], Path], tmp_path: Path, strict_lines: StrictLines
) -> None:
    process, log_dir = training
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    data = only_log(log_dir).read_bytes()
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(data[: data.rstrip(b"\n").rfind(b"\n") + 20])  # 19 bytes of the last line
    complete = strict_lines(cut)
    log = read_run(cut)
    assert log.truncated
    assert [e["event"] for e in log.events] == [e["event"] for e in complete]
    assert len(log.events) == data.count(b"\n") - 1


def test_ctrl_c_writes_run_end_interrupted(
    training: tuple[subprocess.Popen[str], Path], strict_lines: StrictLines
) -> None:
    process, log_dir = training
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "KeyboardInterrupt" in stderr
    events = strict_lines(only_log(log_dir))
    assert events[-1]["event"] == "run_end"
    assert events[-1]["status"] == "interrupted"
    assert not read_run(only_log(log_dir)).truncated
