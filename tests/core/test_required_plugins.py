"""A required plugin (``trainscope_required = True``) that raises stops the run instead of being disabled."""

from __future__ import annotations

from typing import Any

import pytest

from trainscope import PluginFatalError, RequiredPluginError, TrainingSession, hookimpl


class RequiredLog:
    trainscope_required = True

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.events: list[str] = []

    @hookimpl
    def trainscope_progress(self, records: Any) -> None:
        self.events.append(f"progress:{list(records.steps)}")
        if records.steps[-1] == 2:
            raise self.error

    @hookimpl
    def trainscope_train_end(self, status: str, error: BaseException | None) -> None:
        self.events.append(f"end:{status}:{type(error).__name__}")


def train(*plugins: object, steps: int = 400) -> int:
    """Train until the run stops; the last step reported."""
    step = 0
    with TrainingSession("Net", 1, steps, plugins=list(plugins), refresh_interval=0) as session:
        session.start_epoch(1)
        for step in range(1, steps + 1):
            session.update_training_progress(step, 0.5)
    return step


@pytest.mark.parametrize("error", [MemoryError(), RecursionError("maximum recursion depth exceeded")])
def test_any_exception_of_a_required_plugin_stops_the_run_and_its_train_end_still_runs(
    error: Exception, recorder: Any
) -> None:
    required = RequiredLog(error)
    with pytest.raises(RequiredPluginError) as caught:
        train(required, recorder)
    assert isinstance(caught.value, PluginFatalError)
    assert caught.value.__cause__ is error
    assert str(caught.value).startswith(
        "trainscope: the required plugin 'RequiredLog' raised in trainscope_progress, so the run is stopped: "
        f"{type(error).__name__}"
    )
    assert required.events == ["progress:[1]", "progress:[2]", "end:failed:RequiredPluginError"]
    assert recorder.hooks().count("progress") == 2  # the other reporters got the batch, then the end
    assert recorder.events[-1] == ("train_end", "failed")


def test_a_plugin_that_is_not_required_is_still_only_disabled(recorder: Any) -> None:
    optional = RequiredLog(MemoryError())
    optional.trainscope_required = False
    with pytest.warns(UserWarning, match="'RequiredLog' raised in trainscope_progress and is disabled"):
        assert train(optional, recorder, steps=5) == 5
    assert recorder.events[-1] == ("train_end", "completed")
