"""Bad input is refused where it enters, failures lose nothing, every reporter always closes."""

from __future__ import annotations

import math
import threading
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from trainscope import (
    MetricValueError,
    PhaseInfo,
    PluginFatalError,
    PluginWarning,
    RunEndedError,
    StepOrderWarning,
    StepRecord,
    TrainingSession,
    hookimpl,
)

from .conftest import Recorder


def session(*plugins: object, **kwargs: Any) -> TrainingSession:
    return TrainingSession("Net", 2, 3, 2, plugins=list(plugins), refresh_interval=0, **kwargs)


def train(s: TrainingSession, *values: Any) -> None:
    """One epoch with a step per value (loss), then the end of the run."""
    with s:
        s.start_epoch(1)
        for step, value in enumerate(values, 1):
            s.update_training_progress(step, value, 0.5)
        s.finish_training_epoch()


# -- arguments ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"epochs": None}, ValueError, r"steps_per_epoch was given without epochs"),
        ({"epochs": 2, "total_steps": 10}, ValueError, r"give either epochs .* or total_steps"),
        ({"epochs": "3"}, TypeError, r"epochs must be a whole number or None, got str '3'"),
        ({"epochs": 1.5}, TypeError, r"epochs must be a whole number or None, got float 1.5"),
        ({"epochs": True}, TypeError, r"epochs must be a whole number or None, got bool"),
        ({"epochs": None, "steps_per_epoch": None, "total_steps": 0}, ValueError, r"total_steps must be"),
        ({"epochs": 0}, ValueError, r"epochs must be between 1 and 2\*\*63-1, got 0"),
        ({"epochs": 10**30}, ValueError, r"epochs must be between 1 and 2\*\*63-1"),
        ({"steps_per_epoch": -5}, ValueError, r"steps_per_epoch must be between 1 and 2\*\*63-1, got -5"),
        ({"steps_per_epoch": "10"}, TypeError, r"steps_per_epoch must be a whole number or None"),
        ({"validation_steps": -1}, ValueError, r"validation_steps must be between 0"),
        ({"refresh_interval": math.nan}, ValueError, r"refresh_interval must be a finite number"),
        ({"refresh_interval": -1}, ValueError, r"refresh_interval must be a finite number of seconds >= 0"),
        ({"refresh_interval": "0.1"}, TypeError, r"refresh_interval must be a number of seconds"),
        ({"config": [1, 2]}, TypeError, r"config must be a mapping"),
        ({"model": "CNN"}, TypeError, r"model must be a trainscope.ModelSpec or None, got str"),
    ],
)
def test_bad_arguments_get_a_clear_error(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    arguments: dict[str, Any] = {"epochs": 2, "steps_per_epoch": 3, "validation_steps": 1, **kwargs}
    with pytest.raises(error, match=message):
        TrainingSession("Net", plugins=[], **arguments)


# -- metric values: refused at the call ------------------------------------------------------


class TorchLikeScalar:
    """What a 0-d torch tensor looks like to trainscope: a dtype without a numpy kind, ``item()``."""

    dtype = "torch.float32"
    shape = ()

    def item(self) -> float:
        return 0.5


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (10**400, r"metric 'loss' is an integer too large for a float"),
        (np.array("text"), r"metric 'loss' must be a number, got an array of dtype <U4"),
        (np.array(object(), dtype=object), r"metric 'loss' must be a number, got an array of dtype object"),
        (np.array(1 + 2j), r"must be a number, got an array of dtype complex128"),
        (TorchLikeScalar(), r"pass value.item\(\)"),
        ("0.5", r"metric 'loss' must be a number"),
    ],
)
def test_a_value_no_reporter_could_use_is_refused_at_the_call(value: Any, message: str) -> None:
    recorder = Recorder()
    with session(recorder) as s:
        s.start_epoch(1)
        s.update_training_progress(1, np.float32(0.25))  # a good numpy value first: checks are per value
        with pytest.raises(MetricValueError, match=message):
            s.update_training_progress(2, value)
        s.update_training_progress(2, 0.75)
    assert [record.metrics["loss"] for _, _, record in recorder.records] == [0.25, 0.75]


def test_a_metric_name_that_is_not_valid_text_is_refused() -> None:
    with session() as s:
        s.start_epoch(1)
        with pytest.raises(MetricValueError, match=r"not valid Unicode text"):
            s.update_training_progress(1, **{"loss\ud800": 0.5})


@pytest.mark.parametrize("step", [2**64, -(2**64)])
def test_a_step_beyond_64_bits_is_refused(step: int) -> None:
    with session() as s:
        s.start_epoch(1)
        with pytest.raises(ValueError, match=r"step must fit in 64 bits"):
            s.update_training_progress(step, 0.5)


class Unconvertible:
    """A number by its type that fails when converted (as a device array of a failed computation does)."""

    dtype = np.dtype("float32")
    shape = ()

    def item(self) -> float:
        raise RuntimeError("device lost")


def test_a_value_that_fails_at_the_flush_loses_no_good_step() -> None:
    recorder = Recorder()
    s = TrainingSession("Net", 1, None, plugins=[recorder], refresh_interval=3600)
    with pytest.raises(MetricValueError, match=r"metric 'loss' of step 3: it could not be converted"):
        train(s, 1.0, 2.0, Unconvertible(), 4.0, 5.0)
    losses = [record.metrics["loss"] for _, _, record in recorder.records]
    assert [record.step for _, _, record in recorder.records] == [1, 2, 3, 4, 5]
    assert losses[:2] == [1.0, 2.0]
    assert math.isnan(losses[2])
    assert losses[3:] == [4.0, 5.0]
    assert recorder.events[-1] == ("train_end", "failed")


# -- every reporter always closes ---------------------------------------------------------


class Fatal:
    def __init__(self, hook: str, error: BaseException) -> None:
        self.hook = hook
        self.error = error

    @hookimpl
    def trainscope_train_start(self) -> None:
        if self.hook == "train_start":
            raise self.error

    @hookimpl
    def trainscope_progress(self) -> None:
        if self.hook == "progress":
            raise self.error

    @hookimpl
    def trainscope_train_end(self) -> None:
        if self.hook == "train_end":
            raise self.error


@pytest.mark.parametrize(
    ("hook", "error", "status"),
    [
        ("train_start", PluginFatalError("no log"), "failed"),
        ("train_start", KeyboardInterrupt(), "interrupted"),
        ("train_start", SystemExit(1), "failed"),
        ("progress", PluginFatalError("disk full"), "failed"),
        ("progress", KeyboardInterrupt(), "interrupted"),
    ],
)
def test_every_reporter_that_started_gets_train_end(hook: str, error: BaseException, status: str) -> None:
    before, after = Recorder(), Recorder()
    s = TrainingSession("Net", 1, None, plugins=[before, Fatal(hook, error), after], refresh_interval=0)
    with pytest.raises(type(error)):
        train(s, 0.5)
    for recorder in (before, after):
        assert recorder.events[0] == ("train_start",)
        assert recorder.events[-1] == ("train_end", status)
        if hook == "progress":
            assert [record.step for _, _, record in recorder.records] == [1]  # the batch reached both


def test_a_fatal_error_in_train_end_still_reaches_the_other_reporters() -> None:
    before, after = Recorder(), Recorder()
    s = TrainingSession("Net", 1, None, plugins=[before, Fatal("train_end", PluginFatalError("x")), after])
    with pytest.raises(PluginFatalError):
        train(s, 0.5)
    assert before.events[-1] == after.events[-1] == ("train_end", "completed")


def test_under_strict_a_raising_reporter_does_not_stop_the_others_from_closing() -> None:
    before, after = Recorder(), Recorder()
    s = TrainingSession(
        "Net", 1, None, plugins=[before, Fatal("progress", ValueError("bug")), after], strict=True
    )
    with pytest.raises(ValueError, match="bug"):
        train(s, 0.5)
    assert before.events[-1] == after.events[-1] == ("train_end", "failed")


def test_a_plugin_warning_is_one_line_without_trainscope_source() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with session(Fatal("progress", ValueError("bug"))) as s:
            s.start_epoch(1)
            s.update_training_progress(1, 0.5)
    (warning,) = [w for w in caught if issubclass(w.category, PluginWarning)]
    shown = warnings.formatwarning(warning.message, warning.category, warning.filename, warning.lineno)
    assert shown.count("\n") == 1
    assert "raised in trainscope_progress and is disabled" in shown


# -- a slow reporter -------------------------------------------------------------------


class FakeClock:
    """A monotonic clock that moves only when told: the test measures flushes, not time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Slow:
    """A reporter that takes ``seconds`` of the fake clock per call."""

    def __init__(self, clock: FakeClock, seconds: float) -> None:
        self.clock = clock
        self.seconds = seconds
        self.calls = 0

    @hookimpl
    def trainscope_progress(self) -> None:
        self.calls += 1
        self.clock.now += self.seconds


def test_a_reporter_slower_than_the_refresh_interval_does_not_make_every_step_flush() -> None:
    clock = FakeClock()
    slow = Slow(clock, 0.1)  # as slow as the refresh interval
    with TrainingSession("Net", 1, None, plugins=[slow], refresh_interval=0.1, clock=clock) as s:
        s.start_epoch(1)
        for step in range(1, 2001):
            s.update_training_progress(step, 0.5)
            clock.now += 0.001  # a step of 1 ms
    # one flush per 100 ms of training (2 s of steps), plus the phase end: not one per step
    assert 19 <= slow.calls <= 21


# -- steps going backwards ----------------------------------------------------------------


def report_steps(s: TrainingSession, steps: tuple[int, ...]) -> None:
    with s:
        s.start_epoch(1)
        for step in steps:
            s.update_training_progress(step, 0.5)


def test_steps_going_backwards_warn_once() -> None:
    backwards = r"step numbers went backwards in the train phase of epoch 1"
    with pytest.warns(StepOrderWarning, match=backwards) as caught:
        report_steps(session(), (1, 2, 3, 2, 1, 5, 4))
    assert len([w for w in caught if issubclass(w.category, StepOrderWarning)]) == 1


def test_steps_restarting_in_a_new_epoch_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", StepOrderWarning)
        with session() as s:
            for epoch in (1, 2):
                s.start_epoch(epoch)
                for step in (1, 2, 3):
                    s.update_training_progress(step, 0.5)


# -- example-weighted means -----------------------------------------------------------------


def test_phase_means_weigh_steps_by_their_batch_size() -> None:
    recorder = Recorder()
    with session(recorder) as s:
        s.start_epoch(1)
        s.update_training_progress(1, 1.0, 0.5, batch_size=32)
        s.update_training_progress(2, 4.0, 1.0, batch_size=8)  # a short last batch
    (_, _, means), *_ = recorder.phase_means
    assert means == {"loss": (1.0 * 32 + 4.0 * 8) / 40, "accuracy": (0.5 * 32 + 1.0 * 8) / 40}
    assert recorder.summaries[0].train == means


@pytest.mark.parametrize("batch_size", [-1, 1.5, "8"])
def test_a_bad_batch_size_is_refused(batch_size: Any) -> None:
    with session() as s:
        s.start_epoch(1)
        with pytest.raises((TypeError, ValueError), match="batch_size must"):
            s.update_training_progress(1, 0.5, batch_size=batch_size)


def test_a_jax_array_of_several_elements_names_the_metric_and_step_and_loses_nothing() -> None:
    jnp = pytest.importorskip("jax.numpy")
    recorder = Recorder()
    s = TrainingSession("Net", 1, None, plugins=[recorder], refresh_interval=3600)
    values = [jnp.float32(1.0), jnp.float32(2.0), jnp.ones(3), jnp.float32(4.0)]
    with pytest.raises(MetricValueError, match=r"metric 'loss' of step 3: it is an array of shape \(3,\)"):
        train(s, *values)
    losses = [record.metrics["loss"] for _, _, record in recorder.records]
    assert losses[:2] == [1.0, 2.0]
    assert math.isnan(losses[2])
    assert losses[3] == 4.0


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (ValueError("bad \udc80 byte"), "ValueError: bad \ufffd byte"),  # encodes as UTF-8
        (KeyboardInterrupt(), "KeyboardInterrupt"),
        (RuntimeError("expected one of:"), "RuntimeError: expected one of:"),  # its own colon kept
    ],
)
def test_an_error_as_text_every_reporter_can_store(error: BaseException, text: str) -> None:
    from trainscope.values import error_text

    assert error_text(error) == text
    text.encode("utf-8")


# -- a run ended on another thread ------------------------------------------------------------


class SlowToClose(Recorder):
    """A reporter whose ``train_end`` takes a while (closing a file on a slow disk)."""

    def __init__(self) -> None:
        super().__init__()
        self.closing = threading.Event()
        self.closed = threading.Event()

    @hookimpl
    def trainscope_train_end(self, status: str, error: BaseException | None) -> None:
        self.closing.set()
        time.sleep(0.3)
        super().trainscope_train_end(status, error)
        self.closed.set()


def test_a_run_ended_on_another_thread_hears_nothing_after_and_its_own_end_waits() -> None:
    """A multi-process run's peer watcher ends the run on its thread while training goes on."""
    reporter = SlowToClose()
    s = TrainingSession("Net", 1, None, plugins=[reporter], refresh_interval=0)
    ended = pytest.raises(RunEndedError, match="ended as interrupted from another thread")
    with ended as raised, s:
        s.start_epoch(1)
        s.update_training_progress(1, 0.5)
        watcher = threading.Thread(target=s.end, args=("interrupted", KeyboardInterrupt()))
        watcher.start()
        assert reporter.closing.wait(10)
        s.update_training_progress(2, 0.5)  # refused, not silently dropped
    assert isinstance(raised.value.cause, KeyboardInterrupt)
    # leaving the block ended the run on this thread too: that waited for the watcher's end
    assert reporter.closed.is_set()
    watcher.join(10)
    assert reporter.hooks() == ["train_start", "epoch_start", "phase_start", "progress", "train_end"]
    assert reporter.events[-1] == ("train_end", "interrupted")
    assert [record.step for _, _, record in reporter.records] == [1]


class SlowToReport(Recorder):
    """A reporter still handling a batch of steps when another thread ends the run."""

    def __init__(self) -> None:
        super().__init__()
        self.reporting = threading.Event()
        self.go_on = threading.Event()

    @hookimpl
    def trainscope_progress(self, phase: PhaseInfo, records: Sequence[StepRecord]) -> None:
        self.reporting.set()
        assert self.go_on.wait(30)
        super().trainscope_progress(phase, records)


def test_an_end_from_another_thread_waits_for_the_hook_in_flight() -> None:
    reporter = SlowToReport()
    s = TrainingSession("Net", total_steps=10, plugins=[reporter], refresh_interval=0)

    def train() -> None:
        s.start_training()
        s.update_training_progress(1, 0.5)  # the run's thread, now inside the reporter's progress

    training = threading.Thread(target=train)
    training.start()
    assert reporter.reporting.wait(30)
    ending = threading.Thread(target=s.end, args=("failed", RuntimeError("process 1 was lost")))
    ending.start()
    ending.join(0.2)  # it waits for the batch in flight: train_end must not cut into it
    assert reporter.hooks() == ["train_start", "phase_start"]
    reporter.go_on.set()
    ending.join(30)
    training.join(30)
    assert reporter.hooks() == ["train_start", "phase_start", "progress", "train_end"]
    assert reporter.events[-1] == ("train_end", "failed")
