"""Who may call a session: the thread that started the run, and never a reporter's hook.

A second thread's steps or a reporter driving the session from inside a hook are refused
with a clear error; the log keeps every step of the training thread once and tells the truth.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from trainscope import PhaseInfo, PluginWarning, RunEndedError, SessionStateError, TrainingSession, hookimpl


def log_events(directory: Path) -> list[dict[str, Any]]:
    (path,) = directory.glob("*.jsonl")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def log_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "logs"
    monkeypatch.setenv("TRAINSCOPE_LOG_DIR", str(directory))
    return directory


def test_steps_from_other_threads_are_refused_and_the_log_holds_each_step_once(log_dir: Path) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(9)

    with TrainingSession("Net", 1, 4000, plugins=["jsonl"], refresh_interval=0.0) as session:
        session.start_epoch(1)

        def report() -> None:
            barrier.wait()
            for step in range(1, 501):
                try:
                    session.update_training_progress(step, 0.5)
                except SessionStateError as exc:
                    errors.append(exc)

        threads = [threading.Thread(target=report, name=f"worker-{n}") for n in range(8)]
        for thread in threads:
            thread.start()
        barrier.wait()
        for step in range(1, 4001):
            session.update_training_progress(step, 0.25)
        for thread in threads:
            thread.join()

    assert len(errors) == 8 * 500
    assert "called from thread 'worker-" in str(errors[0])
    assert "not thread-safe" in str(errors[0])
    events = log_events(log_dir)
    steps = [event["step"] for event in events if event["event"] == "step"]
    assert steps == list(range(1, 4001))
    assert {event["metrics"]["loss"] for event in events if event["event"] == "step"} == {0.25}
    assert events[-1]["event"] == "run_end"
    assert events[-1]["status"] == "completed"


def test_a_session_may_be_started_and_used_on_a_thread_of_its_own(log_dir: Path) -> None:
    def train() -> None:
        with TrainingSession("Net", 1, 10, plugins=["jsonl"]) as session:
            session.start_epoch(1)
            for step in range(1, 11):
                session.update_training_progress(step, 0.5)

    thread = threading.Thread(target=train)
    thread.start()
    thread.join()
    events = log_events(log_dir)
    assert len([event for event in events if event["event"] == "step"]) == 10
    assert events[-1]["status"] == "completed"


class DrivesTheSession:
    """A reporter that calls back into its session from a hook."""

    def __init__(self, call: str) -> None:
        self.call = call
        self.session: TrainingSession | None = None
        self.errors: list[SessionStateError] = []

    @hookimpl
    def trainscope_progress(self, phase: PhaseInfo) -> None:
        assert self.session is not None
        try:
            if self.call == "step":
                self.session.update_training_progress(phase.step + 1, 9.0)
            else:
                getattr(self.session, self.call)()
        except SessionStateError as exc:
            self.errors.append(exc)
            raise


def train_with(driver: DrivesTheSession, *, steps: int, **options: Any) -> None:
    """A run of ``steps`` training steps, logged, with ``driver`` among its reporters."""
    with TrainingSession("Net", 1, steps, plugins=["jsonl", driver], **options) as session:
        driver.session = session
        session.start_epoch(1)
        for step in range(1, steps + 1):
            session.update_training_progress(step, 0.5)


@pytest.mark.parametrize("call", ["step", "finish_training", "finish_training_epoch", "start_validation"])
def test_a_reporter_calling_back_into_the_session_is_refused_and_the_log_is_whole(
    log_dir: Path, call: str
) -> None:
    driver = DrivesTheSession(call)
    with pytest.warns(PluginWarning, match="raised in trainscope_progress and is disabled"):
        train_with(driver, steps=200, refresh_interval=0.0)

    (error,) = driver.errors  # refused once, then the reporter is disabled
    assert (
        f"{call if call != 'step' else 'update_training_progress'}() called from inside a reporter's hook"
        in str(error)
    )
    events = log_events(log_dir)
    assert [event["step"] for event in events if event["event"] == "step"] == list(range(1, 201))
    assert {event["metrics"]["loss"] for event in events if event["event"] == "step"} == {0.5}
    assert [event["event"] for event in events][-3:] == ["phase_end", "epoch_end", "run_end"]
    assert events[-1]["status"] == "completed"


def test_in_strict_mode_a_reporter_calling_back_ends_the_run_failed_with_that_error(log_dir: Path) -> None:
    driver = DrivesTheSession("finish_training")
    with pytest.raises(SessionStateError, match="inside a reporter's hook"):
        train_with(driver, steps=20, strict=True)
    end = log_events(log_dir)[-1]
    assert end["event"] == "run_end"
    assert end["status"] == "failed"
    assert end["error"].startswith(
        "SessionStateError: finish_training() called from inside a reporter's hook"
    )


def ended_by_another_thread(failure: Exception) -> None:
    """Ten steps, an end from another thread (twice), then one more step."""
    with TrainingSession("Net", 1, 100, plugins=["jsonl"], refresh_interval=0.0) as session:
        session.start_epoch(1)
        for step in range(1, 11):
            session.update_training_progress(step, 0.5)
        watcher = threading.Thread(target=session.end, args=("failed", failure))
        watcher.start()
        watcher.join()
        session.end("failed", failure)  # a second end does nothing
        session.update_training_progress(11, 0.5)


def test_a_run_ended_from_another_thread_refuses_every_later_step(log_dir: Path) -> None:
    failure = RuntimeError("process 1 of 2 failed")
    with pytest.raises(RunEndedError, match="ended as failed from another thread") as caught:
        ended_by_another_thread(failure)
    assert caught.value.cause is failure
    events = log_events(log_dir)
    assert [event["step"] for event in events if event["event"] == "step"] == list(range(1, 11))
    assert events[-1]["event"] == "run_end"
    assert events[-1]["status"] == "failed"
    assert events[-1]["error"] == "RuntimeError: process 1 of 2 failed"
