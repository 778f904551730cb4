"""The figures of a run as users read them: training throughput against the evaluations',
each step costed as it ran, means since the last evaluation, last-value metrics, and exact
results merged with the step means."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from trainscope import PhaseInfo, Throughput, TrainingSession

from .conftest import Recorder


def steps_run(recorder: Recorder, **kwargs: object) -> TrainingSession:
    return TrainingSession("Net", total_steps=8, validation_steps=2, plugins=[recorder], **kwargs)  # type: ignore[arg-type]


def known(throughput: Throughput | None) -> tuple[float, float | None]:
    """``(examples_per_second, flops_per_second)`` of figures that must be there."""
    assert throughput is not None
    assert throughput.examples_per_second is not None
    return throughput.examples_per_second, throughput.flops_per_second


def flops_ran(phase: PhaseInfo) -> float:
    """The FLOPs the phase's figures stand for: FLOP/s x its training time."""
    assert phase.throughput is not None
    assert phase.throughput.flops_per_second is not None
    return phase.throughput.flops_per_second * phase.elapsed


class FakeClock:
    """A monotonic clock that moves only when the test sleeps on it: figures come out exact."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def validate(
    session: TrainingSession, pause: float = 0.0, sleep: Callable[[float], None] = time.sleep
) -> None:
    session.start_validation()
    sleep(pause)  # a slow validation: none of it is training time
    for step in (1, 2):
        session.update_validation_progress(step, 0.5, 0.5, batch_size=16)
    session.finish_validation()
    sleep(pause / 2)  # the loop's own work after the validation, before the next step


# -- throughput ----------------------------------------------------------------


@pytest.mark.parametrize("end_on_validation", [True, False])
def test_training_throughput_is_the_examples_over_the_evaluations_training_time(
    recorder: Recorder, end_on_validation: bool
) -> None:
    clock = FakeClock()
    session = steps_run(recorder, clock=clock)
    with session:
        for step in range(1, 9):
            clock.sleep(0.01)
            session.update_training_progress(step, 1.0, batch_size=32)
            if step % 4 == 0 and (step < 8 or end_on_validation):
                validate(session, pause=0.2, sleep=clock.sleep)
    (train,) = [phase for phase in recorder.ended_phases if phase.name == "train"]
    examples_per_second = known(train.throughput)[0]
    intervals = recorder.evaluations
    assert [evaluation.step for evaluation in intervals] == ([4, 8] if end_on_validation else [4])
    examples = [4 * 32] * len(intervals)
    seconds = [n / known(e.throughput)[0] for n, e in zip(examples, intervals)]
    if end_on_validation:
        # the evaluations cover the whole phase: one time base, the validations left out of both
        assert train.elapsed == pytest.approx(sum(seconds))
        assert examples_per_second == pytest.approx(sum(examples) / sum(seconds))
    assert train.examples == 8 * 32
    # the time of every step after the first (the phase opens at it) counts, including the
    # steps right after a validation, which computed before they were reported
    # and the loop's work after the validation at step 4 (not after one the phase ends on)
    assert train.elapsed == pytest.approx(7 * 0.01 + 0.1)
    assert examples_per_second == pytest.approx(train.examples / train.elapsed)
    assert train.rate == pytest.approx(train.steps / train.elapsed)
    validations = [phase.elapsed for phase in recorder.ended_phases if phase.name == "validation"]
    assert train.elapsed + sum(validations) < session.run.elapsed()


def test_a_short_last_batch_is_costed_by_its_examples(recorder: Recorder) -> None:
    with TrainingSession("Net", 1, 3, plugins=[recorder]) as session:
        session.set_step_flops(1e9, batch_size=32)
        session.start_epoch(1)
        for step, size in enumerate((32, 32, 8), 1):
            session.update_training_progress(step, 1.0, batch_size=size)
    (summary,) = recorder.summaries
    train = recorder.ended_phases[0]
    assert summary.throughput == train.throughput
    assert flops_ran(train) == pytest.approx(2.25e9)  # 2 full steps and a quarter of one


def test_each_batch_size_given_its_own_flops_is_costed_exactly(recorder: Recorder) -> None:
    with TrainingSession("Net", 1, 4, plugins=[recorder]) as session:
        session.set_step_flops(1e9, batch_size=32)
        session.set_step_flops(3e8, batch_size=8)  # the short batch's own figure
        session.start_epoch(1)
        for step, size in enumerate((32, 32, 8, 16), 1):
            session.update_training_progress(step, 1.0, batch_size=size)
    # 16 examples: in proportion to the nearest batch size given, 8
    assert flops_ran(recorder.ended_phases[0]) == pytest.approx(2e9 + 3e8 + 6e8)


def test_flops_without_a_batch_size_cost_every_step_alike(recorder: Recorder) -> None:
    with TrainingSession("Net", 1, 3, plugins=[recorder]) as session:
        session.set_step_flops(1e9, batch_size=32)
        session.set_step_flops(2e9)  # replaces every figure before it
        session.start_epoch(1)
        for step, size in enumerate((32, 32, 8), 1):
            session.update_training_progress(step, 1.0, batch_size=size)
    assert flops_ran(recorder.ended_phases[0]) == pytest.approx(6e9)


def test_the_evaluations_cost_their_own_steps(recorder: Recorder) -> None:
    session = steps_run(recorder)
    with session:
        session.set_step_flops(1e9, batch_size=32)
        for step, size in enumerate((32, 32, 32, 32, 32, 32, 32, 8), 1):
            session.update_training_progress(step, 1.0, batch_size=size)
            if step % 4 == 0:
                validate(session)
    throughputs = [evaluation.throughput for evaluation in recorder.evaluations]
    throughputs.append(recorder.ended_phases[-1].throughput)
    # FLOPs per example: 1e9 / 32 for every step, the short one included
    for examples_per_second, flops_per_second in map(known, throughputs):
        assert flops_per_second == pytest.approx(examples_per_second * 1e9 / 32)


# -- what the figures average ----------------------------------------------------


def test_a_run_in_steps_holds_the_means_since_the_last_evaluation(recorder: Recorder) -> None:
    session = steps_run(recorder)
    with session:
        for step in range(1, 9):
            session.update_training_progress(step, 1.0 if step <= 4 else 0.1)
            if step % 4 == 0:
                validate(session)
    train = recorder.ended_phases[-1]
    assert train.metrics["loss"] == pytest.approx(0.55)  # the whole phase's mean
    # what the last summary shows: the training since the previous evaluation
    last = recorder.evaluations[-1].train
    assert last is not None
    assert last["loss"] == pytest.approx(0.1)
    assert train.interval_metrics == last


def test_the_means_since_the_last_evaluation_move_with_the_steps_after_it(recorder: Recorder) -> None:
    session = steps_run(recorder)
    with session:
        for step in range(1, 7):
            session.update_training_progress(step, 1.0 if step <= 4 else 0.4)
            if step == 4:
                validate(session)
                assert recorder.evaluations[-1].train == {"loss": 1.0}
    train = recorder.ended_phases[-1]
    assert train.interval_metrics == {"loss": pytest.approx(0.4)}
    assert train.metrics["loss"] == pytest.approx((4 * 1.0 + 2 * 0.4) / 6)


def test_a_metric_declared_last_value_is_never_averaged(recorder: Recorder) -> None:
    session = steps_run(recorder, last_value_metrics=["lr"])
    with session:
        for step in range(1, 9):
            session.update_training_progress(step, 1.0, lr=0.1 / step, batch_size=32)
            if step % 4 == 0:
                validate(session)
    train = recorder.ended_phases[-1]
    assert train.metrics == {"loss": 1.0, "lr": pytest.approx(0.1 / 8)}
    assert [evaluation.train["lr"] for evaluation in recorder.evaluations] == [  # type: ignore[index]
        pytest.approx(0.1 / 4),
        pytest.approx(0.1 / 8),
    ]
    lr_records = [record.metrics["lr"] for name, _, record in recorder.records if name == "train"]
    assert lr_records == [pytest.approx(0.1 / step) for step in range(1, 9)]  # the steps keep theirs


def test_last_value_metrics_in_an_epoch_summary(recorder: Recorder) -> None:
    with TrainingSession("Net", 1, 3, plugins=[recorder], last_value_metrics=("step_size",)) as session:
        session.start_epoch(1)
        for step in range(1, 4):
            session.update_training_progress(step, 0.5, step_size=float(step))
    assert recorder.summaries[0].train == {"loss": 0.5, "step_size": 3.0}


def test_last_value_metrics_must_be_names() -> None:
    with pytest.raises(TypeError, match="collection of metric names, got the string 'lr'"):
        TrainingSession("Net", total_steps=1, last_value_metrics="lr")
    with pytest.raises(TypeError, match="metric names must be strings"):
        TrainingSession("Net", total_steps=1, last_value_metrics=[1])  # type: ignore[list-item]


# -- exact results ----------------------------------------------------------------


def test_partial_results_are_merged_with_the_step_means(recorder: Recorder) -> None:
    with TrainingSession("Net", 1, 2, 2, plugins=[recorder]) as session:
        session.start_epoch(1)
        for step in (1, 2):
            session.update_training_progress(step, 1.0, 0.5)
        session.finish_training_epoch()
        session.start_validation()
        for step in (1, 2):
            session.update_validation_progress(step, 0.25, 0.75)
        session.report_results({"f1": 0.6, "accuracy": 0.8})  # the exact accuracy replaces the mean
        session.finish_validation_epoch()
    assert recorder.summaries[0].validation == {"loss": 0.25, "accuracy": 0.8, "f1": 0.6}
    assert recorder.summaries[0].train == {"loss": 1.0, "accuracy": 0.5}


def test_partial_training_results_are_merged_in_an_evaluation(recorder: Recorder) -> None:
    session = steps_run(recorder)
    with session:
        for step in range(1, 5):
            session.update_training_progress(step, 1.0, 0.5)
        session.report_results({"f1": 0.4})
        validate(session)
    assert recorder.evaluations[0].train == {"loss": 1.0, "accuracy": 0.5, "f1": 0.4}
