"""A run ended from another thread while the training thread still writes: the log ends with ``run_end``.

This is what a multi-process run's peer watcher does when another process fails: it calls
``train_end`` on its own thread while the training thread may be in the middle of a flush.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import trainscope_jsonl.plugin as jsonl_plugin
from trainscope import RunInfo, RunStatus, TrainingSession

from .conftest import StrictLines

End = Callable[[TrainingSession, RunStatus], None]

ROUNDS = 40
STEPS = 1000


@pytest.fixture
def frequent_thread_switches() -> Iterator[None]:
    """Switch threads as often as the interpreter allows, so that the two threads interleave."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def end_through_the_plugin_manager(session: TrainingSession, status: RunStatus) -> None:
    session.plugin_manager.train_end(session.run, status, KeyboardInterrupt())


def end_through_the_reporter_alone(session: TrainingSession, status: RunStatus) -> None:
    """The reporter's own guard: the plugin manager does not know, and goes on calling it."""
    run: RunInfo = session.run
    jsonl_plugin.trainscope_train_end(run, status, KeyboardInterrupt())


def train_until_ended_elsewhere(steps_before_end: int, end: End) -> None:
    """Flush every step on this thread; another thread ends the run after ``steps_before_end`` steps."""
    session = TrainingSession("Net", 1, None, plugins=["jsonl"], refresh_interval=0)
    reached = threading.Event()

    def end_when_reached() -> None:
        reached.wait(30)
        end(session, "interrupted")

    ender = threading.Thread(target=end_when_reached)
    ender.start()
    try:
        with session:
            session.start_epoch(1)
            for step in range(1, STEPS + 1):
                session.update_training_progress(step, 0.5, 0.25, lr=0.1)
                if step == steps_before_end:
                    reached.set()
    finally:
        reached.set()
        ender.join(30)


@pytest.mark.usefixtures("frequent_thread_switches")
@pytest.mark.parametrize("end", [end_through_the_plugin_manager, end_through_the_reporter_alone])
def test_nothing_is_written_after_run_end_written_by_another_thread(
    log_dir: Path, strict_lines: StrictLines, end: End
) -> None:
    for index in range(ROUNDS):
        train_until_ended_elsewhere(5 + 37 * index % (STEPS - 10), end)
    logs = sorted(log_dir.glob("*.jsonl"))
    assert len(logs) == ROUNDS
    for log in logs:
        events = strict_lines(log)  # every line whole
        assert log.read_bytes().endswith(b"\n")
        kinds = [event["event"] for event in events]
        assert kinds.count("run_end") == 1, log
        assert kinds[-1] == "run_end", kinds[-5:]
        assert events[-1]["status"] == "interrupted"
