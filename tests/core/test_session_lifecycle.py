"""The session's hook order, run endings and out-of-order calls."""

from __future__ import annotations

from typing import Any

import pytest

from trainscope import SessionStateError, TrainingSession


def session(recorder: Any, **kwargs: Any) -> TrainingSession:
    kwargs.setdefault("refresh_interval", 60.0)
    return TrainingSession("Net", 2, 3, 2, plugins=[recorder], **kwargs)


def run_epoch(s: TrainingSession, epoch: int, *, validate: bool = True, summary: bool = True) -> None:
    s.start_epoch(epoch)
    for step in range(1, 4):
        s.update_training_progress(step, 1.0 / step, 0.5)
    s.finish_training_epoch()
    if validate:
        s.start_validation()
        for step in range(1, 3):
            s.update_validation_progress(step, 0.8, 0.75)
        s.finish_validation_epoch()
    if summary:
        s.print_epoch_summary()


def test_two_epochs_with_validation_call_hooks_in_exact_order(recorder: Any) -> None:
    s = session(recorder)
    s.start_training()
    run_epoch(s, 1)
    run_epoch(s, 2)
    s.finish_training()

    def expected(n: int) -> list[tuple[Any, ...]]:
        return [
            ("epoch_start", n),
            ("phase_start", "train", n),
            ("progress", "train", 3),
            ("phase_end", "train", n),
            ("phase_start", "validation", n),
            ("progress", "validation", 2),
            ("phase_end", "validation", n),
            ("epoch_end", n),
        ]

    assert recorder.events == [("train_start",), *expected(1), *expected(2), ("train_end", "completed")]


def test_context_manager_starts_and_completes_the_run(recorder: Any) -> None:
    with session(recorder) as s:
        run_epoch(s, 1, validate=False)
    assert recorder.hooks()[0] == "train_start"
    assert recorder.events[-1] == ("train_end", "completed")
    assert recorder.errors == [None]


def test_start_training_twice_and_inside_with_starts_once(recorder: Any) -> None:
    s = session(recorder)
    s.start_training()
    with s:
        s.start_training()
        run_epoch(s, 1)
    assert recorder.hooks().count("train_start") == 1
    assert recorder.hooks().count("train_end") == 1


def test_epoch_ends_at_next_start_epoch_or_finish_training(recorder: Any) -> None:
    with session(recorder) as s:
        run_epoch(s, 1, summary=False)
        run_epoch(s, 2, summary=False)
        s.finish_training()
    assert [e for e in recorder.events if e[0] == "epoch_end"] == [("epoch_end", 1), ("epoch_end", 2)]
    hooks = recorder.hooks()
    assert hooks.index("epoch_end") < hooks.index("epoch_start", hooks.index("epoch_start") + 1)
    assert hooks.count("train_end") == 1


def test_each_epoch_ends_once(recorder: Any) -> None:
    with session(recorder) as s:
        run_epoch(s, 1)
        with pytest.raises(SessionStateError, match="start_epoch"):
            s.print_epoch_summary()
    assert recorder.hooks().count("epoch_end") == 1


def test_failure_flushes_buffered_steps_then_ends_failed(recorder: Any) -> None:
    boom = ValueError("boom")
    with pytest.raises(ValueError, match="boom"), session(recorder) as s:  # noqa: PT012
        s.start_epoch(1)
        s.update_training_progress(1, 0.5, 0.1)
        s.update_training_progress(2, 0.4, 0.2)
        raise boom
    assert recorder.events[-2:] == [("progress", "train", 2), ("train_end", "failed")]
    assert recorder.errors == [boom]
    assert "epoch_end" not in recorder.hooks()


def test_keyboard_interrupt_ends_run_interrupted_and_is_reraised(recorder: Any) -> None:
    with pytest.raises(KeyboardInterrupt), session(recorder) as s:  # noqa: PT012
        s.start_epoch(1)
        s.update_training_progress(1, 0.5)
        raise KeyboardInterrupt
    assert recorder.events[-2:] == [("progress", "train", 1), ("train_end", "interrupted")]
    assert isinstance(recorder.errors[0], KeyboardInterrupt)


def test_finish_training_is_idempotent(recorder: Any) -> None:
    with session(recorder) as s:
        run_epoch(s, 1)
        s.finish_training()
        s.finish_training()
    assert recorder.hooks().count("train_end") == 1


@pytest.mark.parametrize(
    ("call", "missing"),
    [
        (lambda s: s.start_epoch(1), "start_training"),
    ],
)
def test_calls_before_start_training_name_the_missing_call(recorder: Any, call: Any, missing: str) -> None:
    with pytest.raises(SessionStateError, match=missing):
        call(session(recorder))


@pytest.mark.parametrize(
    ("call", "missing"),
    [
        (lambda s: s.update_training_progress(1, 0.5), r"start_epoch\(epoch\)"),
        (lambda s: s.update_validation_progress(1, 0.5), r"start_epoch\(epoch\)"),
        (lambda s: s.start_validation(), r"start_epoch\(epoch\)"),
        (lambda s: s.finish_validation_epoch(), r"start_validation\(\)"),
        (lambda s: s.print_epoch_summary(), r"start_epoch\(epoch\)"),
    ],
)
def test_out_of_order_calls_name_the_missing_call(recorder: Any, call: Any, missing: str) -> None:
    s = session(recorder)
    s.start_training()
    with pytest.raises(SessionStateError, match=missing):
        call(s)


def test_validation_update_during_training_phase_is_refused(recorder: Any) -> None:
    with session(recorder) as s:
        s.start_epoch(1)
        with pytest.raises(SessionStateError, match=r"start_validation\(\)"):
            s.update_validation_progress(1, 0.5)
        s.start_validation()
        with pytest.raises(
            SessionStateError,
            match=r"validation phase of epoch 1 is open: call finish_validation_epoch\(\) first",
        ):
            s.update_training_progress(1, 0.5)


def test_calls_after_the_run_ended_are_refused(recorder: Any) -> None:
    with session(recorder) as s:
        run_epoch(s, 1)
    with pytest.raises(SessionStateError, match="after the run ended"):
        s.start_epoch(2)


def test_steps_beyond_total_and_unknown_total_are_reported(recorder: Any) -> None:
    with TrainingSession("Net", 1, None, None, plugins=[recorder], refresh_interval=60) as s:
        s.start_epoch(1)
        for step in range(1, 8):
            s.update_training_progress(step, 0.1)
    steps = [record.step for _, _, record in recorder.records]
    assert steps == list(range(1, 8))
    s2 = TrainingSession("Net", 1, 2, plugins=[recorder], refresh_interval=60)
    with s2:
        s2.start_epoch(1)
        for step in range(1, 6):
            s2.update_training_progress(step, 0.1)
    assert [record.step for _, _, record in recorder.records][-5:] == [1, 2, 3, 4, 5]


def test_epoch_summary_holds_the_means_of_the_phases_that_ran(recorder: Any) -> None:
    with session(recorder) as s:
        run_epoch(s, 1)
        run_epoch(s, 2, validate=False)
    first, second = recorder.summaries
    assert first.train == pytest.approx({"loss": (1 + 1 / 2 + 1 / 3) / 3, "accuracy": 0.5})
    assert first.validation == pytest.approx({"loss": 0.8, "accuracy": 0.75})
    assert second.validation is None
    assert first.duration >= 0


def test_constructor_rejects_nonsense(recorder: Any) -> None:
    with pytest.raises(ValueError, match="epochs"):
        TrainingSession("Net", 0, 3, plugins=[recorder])
    with pytest.raises(ValueError, match="refresh_interval"):
        TrainingSession("Net", 1, 3, plugins=[recorder], refresh_interval=-1)
