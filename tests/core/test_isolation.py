"""A reporter that raises is disabled; training and the other reporters go on."""

from __future__ import annotations

from typing import Any

import pytest

from trainscope import PluginFatalError, PluginWarning, TrainingSession, hookimpl
from trainscope import environment_variables as env_vars


class Exploding:
    def __init__(self) -> None:
        self.calls = 0

    @hookimpl
    def trainscope_progress(self) -> None:
        self.calls += 1
        raise RuntimeError("reporter bug")


def run(*plugins: object, strict: bool | None = None) -> None:
    with TrainingSession("Net", 2, 2, plugins=list(plugins), refresh_interval=0, strict=strict) as s:
        for epoch in (1, 2):
            s.start_epoch(epoch)
            s.update_training_progress(1, 0.5)
            s.update_training_progress(2, 0.5)


def test_a_raising_reporter_is_disabled_with_one_warning(recorder: Any) -> None:
    exploding = Exploding()
    with pytest.warns(PluginWarning, match="'Exploding' raised in trainscope_progress") as caught:
        run(exploding, recorder)
    assert len(caught) == 1
    assert exploding.calls == 1
    assert recorder.hooks().count("progress") == 4
    assert recorder.events[-1] == ("train_end", "completed")


def test_strict_reraises(recorder: Any) -> None:
    with pytest.raises(RuntimeError, match="reporter bug"):
        run(Exploding(), recorder, strict=True)
    assert recorder.events[-1] == ("train_end", "failed")


def test_strict_from_environment(recorder: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env_vars.TRAINSCOPE_STRICT, "1")
    with pytest.raises(RuntimeError, match="reporter bug"):
        run(Exploding(), recorder)


def test_trace_prints_every_hook_call(recorder: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setenv(env_vars.TRAINSCOPE_TRACE_PLUGINS, "1")
    run(recorder)
    assert "trainscope: trainscope_train_start -> Recorder" in capsys.readouterr().err


class CannotStart:
    @hookimpl
    def trainscope_train_start(self) -> None:
        raise PluginFatalError("log folder 'x' is not writable")


def test_a_fatal_plugin_error_stops_the_run_before_training(recorder: Any) -> None:
    with (
        pytest.raises(PluginFatalError, match="not writable"),
        TrainingSession("Net", 1, 1, plugins=[CannotStart(), recorder]) as s,
    ):
        s.start_epoch(1)
    assert recorder.hooks() == ["train_start", "train_end"]
    assert recorder.events[-1] == ("train_end", "failed")
