"""Runs declared in steps, validation in the middle of training, exact results, loop helpers."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pytest

from trainscope import SessionStateError, TrainingSession

from .conftest import Recorder


def steps_session(recorder: Recorder, total: int | None = 6, **kwargs: Any) -> TrainingSession:
    return TrainingSession("Net", total_steps=total, plugins=[recorder], refresh_interval=0, **kwargs)


def validate(session: TrainingSession, *losses: float) -> None:
    session.start_validation()
    for step, loss in enumerate(losses, 1):
        session.update_validation_progress(step, loss)
    session.finish_validation_epoch()


def test_a_run_in_steps_validated_every_n_steps(recorder: Recorder) -> None:
    with steps_session(recorder) as session:
        for step in range(1, 7):
            session.update_training_progress(step, float(step), batch_size=2)
            if step % 3 == 0:
                validate(session, 0.5, 1.5)
    assert recorder.events == [
        ("train_start",),
        ("phase_start", "train", 1),
        *[("progress", "train", 1)] * 3,
        ("phase_start", "validation", 1),
        *[("progress", "validation", 1)] * 2,
        ("phase_end", "validation", 1),
        ("evaluation_end", 3),
        *[("progress", "train", 1)] * 3,
        ("phase_start", "validation", 1),
        *[("progress", "validation", 1)] * 2,
        ("phase_end", "validation", 1),
        ("evaluation_end", 6),
        ("phase_end", "train", 1),
        ("train_end", "completed"),
    ]
    first, second = recorder.evaluations
    assert (first.step, first.total_steps, first.epoch) == (3, 6, None)
    assert first.train == {"loss": 2.0}  # steps 1..3 only
    assert second.train == {"loss": 5.0}  # steps 4..6: the means since the last evaluation
    assert first.validation == second.validation == {"loss": 1.0}
    train_steps = [record.step for phase, _, record in recorder.records if phase == "train"]
    assert train_steps == [1, 2, 3, 4, 5, 6]  # every step exactly once, in order
    assert recorder.phase_means[-1] == ("train", 1, {"loss": 3.5})  # the whole phase


def test_reporters_get_snapshots_of_the_training_phase_paused_and_resumed() -> None:
    seen: list[tuple[str, Any]] = []

    class Watcher:
        from trainscope import hookimpl

        @hookimpl
        def trainscope_phase_start(self, phase: Any) -> None:
            seen.append(("start", phase))

        @hookimpl
        def trainscope_phase_end(self, phase: Any) -> None:
            seen.append(("end", phase))

    with TrainingSession("Net", total_steps=4, plugins=[Watcher()], refresh_interval=0) as session:
        session.update_training_progress(1, 1.0)
        session.update_training_progress(2, 1.0)
        validate(session, 0.5)
        session.update_training_progress(3, 1.0)
    assert [(hook, phase.name) for hook, phase in seen] == [
        ("start", "train"),
        ("start", "validation"),
        ("end", "validation"),
        ("end", "train"),
    ]
    train_start, validation, train_end = seen[0][1], seen[1][1], seen[3][1]
    assert validation.training_step == 2  # the validation follows training step 2
    # a snapshot keeps what the phase was at its hook: the session's own state moved on
    assert (train_start.steps, train_start.ended) == (0, False)
    assert train_end is not train_start
    assert (train_end.steps, train_end.ended, train_end.paused) == (3, True, False)


def test_validation_within_an_epoch_pauses_training_and_the_epoch_ends_once(recorder: Recorder) -> None:
    with TrainingSession("Net", 1, 4, 1, plugins=[recorder], refresh_interval=0) as session:
        session.start_epoch(1)
        session.update_training_progress(1, 1.0)
        session.update_training_progress(2, 3.0)
        validate(session, 0.25)  # 2 of 4 steps: in the middle of the epoch
        session.update_training_progress(3, 5.0)
        session.update_training_progress(4, 7.0)
        validate(session, 0.75)  # the epoch's last validation, after its last step
        session.print_epoch_summary()
    hooks = [event for event in recorder.events if event[0] != "progress"]
    assert hooks == [
        ("train_start",),
        ("epoch_start", 1),
        ("phase_start", "train", 1),
        ("phase_start", "validation", 1),
        ("phase_end", "validation", 1),
        ("evaluation_end", 2),
        ("phase_end", "train", 1),
        ("phase_start", "validation", 1),
        ("phase_end", "validation", 1),
        ("epoch_end", 1),
        ("train_end", "completed"),
    ]
    (evaluation,) = recorder.evaluations
    assert (evaluation.epoch, evaluation.step, evaluation.total_steps) == (1, 2, 4)
    assert evaluation.train == {"loss": 2.0}
    (summary,) = recorder.summaries
    assert summary.train == {"loss": 4.0}
    assert summary.validation == {"loss": 0.75}  # the epoch's last validation


def test_an_epoch_run_keeps_its_hook_order_when_validation_follows_the_last_step(recorder: Recorder) -> None:
    with TrainingSession("Net", 1, 2, 1, plugins=[recorder], refresh_interval=0) as session:
        session.start_epoch(1)
        session.update_training_progress(1, 1.0)
        session.update_training_progress(2, 1.0)
        validate(session, 0.5)
        session.print_epoch_summary()
    hooks = [event[0] for event in recorder.events if event[0] != "progress"]
    assert hooks == [
        "train_start",
        "epoch_start",
        "phase_start",
        "phase_end",
        "phase_start",
        "phase_end",
        "epoch_end",
        "train_end",
    ]


def test_a_paused_phase_elapsed_time_leaves_out_the_validation(recorder: Recorder) -> None:
    with steps_session(recorder, total=2) as session:
        session.update_training_progress(1, 1.0)
        session.start_validation()
        time.sleep(0.3)
        session.update_validation_progress(1, 1.0)
        session.finish_validation_epoch()
        session.update_training_progress(2, 1.0)
    (train,) = [phase for phase in recorder.ended_phases if phase.name == "train"]
    assert train.elapsed < 0.2


def test_a_phase_that_ends_paused_leaves_out_its_last_validation(recorder: Recorder) -> None:
    with steps_session(recorder, total=2) as session:
        session.update_training_progress(1, 1.0)
        session.update_training_progress(2, 1.0)
        session.start_validation()
        time.sleep(0.3)
        session.update_validation_progress(1, 1.0)
        session.finish_validation_epoch()
    (train,) = [phase for phase in recorder.ended_phases if phase.name == "train"]
    assert train.ended
    assert train.elapsed < 0.2


def test_exact_results_replace_the_step_means_in_summaries(recorder: Recorder) -> None:
    with steps_session(recorder, total=2) as session:
        session.update_training_progress(1, 10.0)
        session.report_results({"loss": np.float32(0.75), "accuracy": 0.5})
        session.start_validation()
        session.update_validation_progress(1, 10.0)
        session.report_results({"loss": 0.25})
        session.finish_validation_epoch()
    (evaluation,) = recorder.evaluations
    assert evaluation.train == {"loss": 0.75, "accuracy": 0.5}
    assert evaluation.validation == {"loss": 0.25}
    assert [record.metrics for phase, _, record in recorder.records] == [{"loss": 10.0}, {"loss": 10.0}]


def test_exact_results_may_be_jax_arrays(recorder: Recorder) -> None:
    jnp = pytest.importorskip("jax.numpy")
    with TrainingSession("Net", 1, 1, plugins=[recorder], refresh_interval=0) as session:
        session.start_epoch(1)
        session.update_training_progress(1, jnp.float32(3.0))
        session.report_results({"loss": jnp.float32(0.5), "accuracy": jnp.float32(0.25)})
    assert recorder.summaries[0].train == {"loss": 0.5, "accuracy": 0.25}


# -- every out-of-order call names what is wrong in the state it happened ---------------


def started(total: int | None = 4) -> TrainingSession:
    session = TrainingSession("Net", total_steps=total, plugins=[], refresh_interval=0)
    session.start_training()
    return session


def epoch_run() -> TrainingSession:
    session = TrainingSession("Net", 2, 4, plugins=[], refresh_interval=0)
    session.start_training()
    return session


def in_validation(session: TrainingSession) -> TrainingSession:
    session.update_training_progress(1, 1.0)
    session.start_validation()
    return session


def after_validation_of_epoch(session: TrainingSession) -> TrainingSession:
    session.start_epoch(1)
    for step in range(1, 5):
        session.update_training_progress(step, 1.0)
    session.start_validation()
    session.finish_validation_epoch()
    return session


def ended(session: TrainingSession) -> TrainingSession:
    session.finish_training()
    return session


@pytest.mark.parametrize(
    ("make", "call", "message"),
    [
        (
            lambda: TrainingSession("Net", total_steps=2, plugins=[]),
            lambda s: s.update_training_progress(1, 1.0),
            r"update_training_progress\(\) called before start_training\(\)",
        ),
        (started, lambda s: s.start_epoch(1), r"start_epoch\(\) called in a run declared in steps"),
        (started, lambda s: s.print_epoch_summary(), r"a run in steps has no epochs"),
        (started, lambda s: s.finish_training_epoch(), r"ends with finish_training\(\)"),
        (
            started,
            lambda s: s.update_validation_progress(1, 1.0),
            r"update_validation_progress\(\) called while the training phase of the run is open: "
            r"call start_validation\(\) first",
        ),
        (
            lambda: in_validation(started()),
            lambda s: s.update_training_progress(2, 1.0),
            r"called while a validation phase of the run is open: call finish_validation_epoch\(\) first",
        ),
        (
            lambda: in_validation(started()),
            lambda s: s.start_validation(),
            r"start_validation\(\) called while a validation phase is open",
        ),
        (
            lambda: in_validation(started()),
            lambda s: s.finish_training_epoch(),
            r"ends with finish_training\(\)",
        ),
        (
            epoch_run,
            lambda s: s.update_training_progress(1, 1.0),
            r"update_training_progress\(\) called before start_epoch\(epoch\)",
        ),
        (
            lambda: after_validation_of_epoch(epoch_run()),
            lambda s: s.update_training_progress(5, 1.0),
            r"called after the training phase of epoch 1 ended .*: "
            r"call start_epoch\(epoch\) for the next epoch",
        ),
        (
            lambda: after_validation_of_epoch(epoch_run()),
            lambda s: s.update_validation_progress(2, 1.0),
            r"called after finish_validation_epoch\(\): that validation has ended",
        ),
        (
            lambda: after_validation_of_epoch(epoch_run()),
            lambda s: s.start_validation(),
            r"validation of epoch 1 already ran",
        ),
        (
            lambda: ended(started()),
            lambda s: s.update_training_progress(1, 1.0),
            r"update_training_progress\(\) called after the run ended",
        ),
        (
            lambda: ended(started()),
            lambda s: s.start_validation(),
            r"start_validation\(\) called after the run ended",
        ),
        (
            started,
            lambda s: s.report_results({"loss": 1.0}),
            r"report_results\(\) called with no open phase",
        ),
    ],
)
def test_each_state_error_names_the_state_and_the_fix(make: Any, call: Any, message: str) -> None:
    session = make()
    with pytest.raises(SessionStateError, match=message):
        call(session)


# -- loop helpers ----------------------------------------------------------------------------


class RunningMetrics:
    """What nnx.MultiMetric does: accumulate, compute running means, reset."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total = 0.0
        self.count = 0

    def update(self, loss: float, count: int) -> None:
        self.total += loss * count
        self.count += count

    def compute(self) -> dict[str, float]:
        return {"loss": self.total / self.count if self.count else math.nan}


def test_wrapped_step_functions_report_each_call(recorder: Recorder) -> None:
    session = steps_session(recorder, total=4)

    def train_step(batch: np.ndarray) -> tuple[float, float]:
        return float(batch.mean()), 0.5

    def eval_step(batch: np.ndarray) -> dict[str, float]:
        return {"loss": float(batch.mean())}

    train = session.training_step(train_step)
    evaluate = session.validation_step(eval_step)
    with session:
        for step in range(1, 5):
            assert train(np.full((4, 2), float(step))) == (float(step), 0.5)
            if step % 2 == 0:
                evaluate(np.zeros((3, 2)))
                evaluate(np.ones((1, 2)))
    assert [event for event in recorder.events if event[0] == "evaluation_end"] == [
        ("evaluation_end", 2),
        ("evaluation_end", 4),
    ]
    first, second = recorder.evaluations
    assert first.train == {"loss": 1.5, "accuracy": 0.5}
    assert second.train == {"loss": 3.5, "accuracy": 0.5}
    assert first.validation == {"loss": 0.25}  # weighted by the batch sizes 3 and 1
    assert [record.step for phase, _, record in recorder.records if phase == "train"] == [1, 2, 3, 4]
    validation_steps = [record.step for phase, _, record in recorder.records if phase == "validation"]
    assert validation_steps == [1, 2, 1, 2]


def test_wrapped_steps_with_running_metrics_show_the_exact_results(recorder: Recorder) -> None:
    metrics = RunningMetrics()
    session = steps_session(recorder, total=4)

    def train_step(loss: float) -> None:
        metrics.update(loss, 1)

    train = session.training_step(train_step, metrics=metrics, batch_size=1)
    evaluate = session.validation_step(train_step, metrics=metrics, batch_size=1)
    with session:
        for step, loss in enumerate([1.0, 3.0, 5.0, 7.0], 1):
            train(loss)
            if step == 2:
                metrics.reset()
                evaluate(10.0)
                evaluate(20.0)
                metrics.reset()
    (evaluation,) = recorder.evaluations
    assert evaluation.train == {"loss": 2.0}  # the running mean after step 2, not a mean of means
    assert evaluation.validation == {"loss": 15.0}
    assert recorder.phase_means[-1][2] == {"loss": 6.0}  # the last results: steps 3 and 4


def test_epochs_helper_starts_and_ends_each_epoch(recorder: Recorder) -> None:
    session = TrainingSession("Net", 2, 2, plugins=[recorder], refresh_interval=0)
    train = session.training_step(lambda batch: float(batch[0]))
    with session:
        for epoch in session.epochs():
            for value in (1.0, 3.0):
                train([value * epoch])
    assert [summary.train for summary in recorder.summaries] == [{"loss": 2.0}, {"loss": 4.0}]
