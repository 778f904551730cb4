"""``trainscope_train_ready``: when it runs, deferred by the loop or not, and a start that fails there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from trainscope import PluginFatalError, RunInfo, SessionStateError, TrainingSession, hookimpl


class Hooks:
    """Records the name of every hook of interest; ``fail_ready`` makes ``train_ready`` fatal."""

    def __init__(self, *, fail_ready: bool = False) -> None:
        self.calls: list[str] = []
        self.fail_ready = fail_ready

    @hookimpl
    def trainscope_train_start(self) -> None:
        self.calls.append("train_start")

    @hookimpl
    def trainscope_train_ready(self, run: RunInfo) -> None:
        self.calls.append("train_ready")
        if self.fail_ready:
            raise PluginFatalError("the store refused the run")

    @hookimpl
    def trainscope_phase_start(self) -> None:
        self.calls.append("phase_start")

    @hookimpl
    def trainscope_progress(self) -> None:
        self.calls.append("progress")

    @hookimpl
    def trainscope_train_end(self, status: str) -> None:
        self.calls.append(f"train_end {status}")


def session(hooks: Hooks, **kwargs: Any) -> TrainingSession:
    return TrainingSession("Net", 1, 2, plugins=[hooks], refresh_interval=60.0, **kwargs)


def ready_then_one_step(s: TrainingSession) -> None:
    with s:
        s.start_epoch(1)
        s.ready()
        s.update_training_progress(1, 0.5)


def test_without_deferring_it_follows_train_start() -> None:
    hooks = Hooks()
    with session(hooks) as s:
        s.start_epoch(1)
        s.update_training_progress(1, 0.5)
        s.ready()  # already told: nothing more
    assert hooks.calls == ["train_start", "train_ready", "phase_start", "progress", "train_end completed"]


def test_a_deferred_ready_comes_where_the_loop_calls_it_once() -> None:
    hooks = Hooks()
    s = session(hooks)
    s.defer_ready()
    with s:
        s.start_epoch(1)
        s.ready()
        s.ready()
        s.update_training_progress(1, 0.5)
    assert hooks.calls == ["train_start", "phase_start", "train_ready", "progress", "train_end completed"]


def test_a_loop_that_defers_and_never_calls_it_still_tells_it_before_any_step() -> None:
    hooks = Hooks()
    s = session(hooks)
    s.defer_ready()
    with s:
        s.start_epoch(1)
        s.update_training_progress(1, 0.5)
    assert hooks.calls == ["train_start", "phase_start", "train_ready", "progress", "train_end completed"]


def test_a_deferred_run_without_steps_tells_it_before_its_end() -> None:
    hooks = Hooks()
    s = session(hooks)
    s.defer_ready()
    with s:
        pass
    assert hooks.calls == ["train_start", "train_ready", "train_end completed"]


def test_deferring_after_the_start_is_refused() -> None:
    s = session(Hooks())
    with s, pytest.raises(SessionStateError, match=r"defer_ready\(\) called after the run started"):
        s.defer_ready()


def test_ready_before_the_start_is_refused() -> None:
    with pytest.raises(SessionStateError, match="ready"):
        session(Hooks()).ready()


def test_a_start_that_fails_at_ready_ends_the_run_failed_before_any_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAINSCOPE_LOG_DIR", str(tmp_path))
    hooks = Hooks(fail_ready=True)
    s = TrainingSession("Net", 1, 2, plugins=[hooks, "jsonl"], refresh_interval=60.0)
    s.defer_ready()
    with pytest.raises(PluginFatalError, match="refused the run"):
        ready_then_one_step(s)
    assert hooks.calls == ["train_start", "phase_start", "train_ready", "train_end failed"]
    (log,) = tmp_path.glob("*.jsonl")
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert events[-1]["event"] == "run_end"
    assert events[-1]["status"] == "failed"
    assert not [event for event in events if event["event"] == "step"]
