"""A resumed run as the session sees it: the point asked of the plugins, the run id kept, where the
loop must go on, and the run's figures over every part (the log side is tests/jsonl)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from trainscope import GlobalStep, ResumeError, ResumePoint, RunInfo, TrainingSession, hookimpl
from trainscope.plugin_api import PluginFatalError

RUN_ID = "ab" * 16


def point(**changes: object) -> ResumePoint:
    base = ResumePoint(
        log="/runs/net.jsonl",
        run_id=RUN_ID,
        name="Net",
        status="interrupted",
        epoch=2,
        step=None,
        global_step=20,
        last_reported_step=10,
        elapsed=30.0,
        resumes=0,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


class PointStore:
    """Answers ``trainscope_resume_point`` as a log reader would, and notes what it was asked."""

    def __init__(self, answer: ResumePoint | BaseException) -> None:
        self.answer = answer
        self.asked: list[tuple[str, int | None, int | None]] = []
        self.resumed: list[ResumePoint | None] = []

    @hookimpl
    def trainscope_resume_point(self, run: RunInfo, resume: str, at: int | None) -> ResumePoint | None:
        self.asked.append((resume, at, run.epochs))
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer

    @hookimpl
    def trainscope_train_start(self, run: RunInfo) -> None:
        self.resumed.append(run.resumed)


def session(store: PointStore, recorder: Any, **kwargs: object) -> TrainingSession:
    options: dict[str, object] = {"plugins": [store, recorder], "resume": "net", **kwargs}
    epochs = options.pop("epochs", 4)
    return TrainingSession("Net", epochs, 10, **options)  # type: ignore[arg-type]


def test_a_resumed_run_keeps_the_run_id_and_goes_on_with_the_next_epoch(recorder: Any) -> None:
    store = PointStore(point())
    with session(store, recorder, resume_at=2) as run:
        assert run.run.run_id == RUN_ID
        for epoch in (3, 4):
            run.start_epoch(epoch)
            for step in range(1, 11):
                run.update_training_progress(step, 1.0 / step)
            run.print_epoch_summary()
    assert store.asked == [("net", 2, 4)]
    assert store.resumed == [point()]
    assert [event for event in recorder.events if event[0] == "epoch_end"] == [
        ("epoch_end", 3),
        ("epoch_end", 4),
    ]
    last = recorder.summaries[-1]
    assert last.run_eta == 0.0  # the two epochs of this part are done: nothing left
    assert last.run_elapsed is not None
    assert last.run_elapsed >= 30.0  # the earlier part's 30 s count


def test_the_run_eta_counts_the_epochs_left_of_the_whole_run(recorder: Any) -> None:
    def one_epoch(epoch: int, *plugins: object, **options: Any) -> float | None:
        ticks = iter(float(n) for n in range(10_000))  # the same times for both runs
        record: Any = type(recorder)()
        with TrainingSession("Net", plugins=[*plugins, record], clock=lambda: next(ticks), **options) as run:
            run.start_epoch(epoch)
            for step in range(1, 11):
                run.update_training_progress(step, 0.5)
            run.print_epoch_summary()
        return record.summaries[0].run_eta

    resumed = one_epoch(2, PointStore(point(epoch=1)), epochs=4, steps_per_epoch=10, resume="n")
    fresh = one_epoch(1, epochs=3, steps_per_epoch=10)  # two epochs left in both
    assert resumed is not None
    assert resumed == fresh
    assert resumed > 0


def test_the_first_epoch_must_be_the_one_after_the_point(recorder: Any) -> None:
    store = PointStore(point())
    run = session(store, recorder)
    run.start_training()
    with pytest.raises(
        ResumeError, match=r"start_epoch\(1\) in a run resumed after epoch 2: start with epoch 3"
    ):
        run.start_epoch(1)
    run.end("failed")
    assert recorder.events[-1] == ("train_end", "failed")


def test_a_run_in_steps_goes_on_after_the_steps_kept(recorder: Any) -> None:
    store = PointStore(point(epoch=None, step=120, global_step=120, last_reported_step=120))
    with TrainingSession("Net", total_steps=200, plugins=[store, recorder], resume="net") as run:
        run.enter_phase("train")  # what the loop helpers call before each step
        assert run.next_step("train") == 121  # and the number they give it
        for step in range(121, 131):
            run.update_training_progress(step, 0.1)
    steps = [record.step for phase, _, record in recorder.records if phase == "train"]
    assert steps == list(range(121, 131))


def test_a_run_in_steps_that_reports_a_kept_step_again_is_stopped(recorder: Any) -> None:
    store = PointStore(point(epoch=None, step=120, global_step=120, last_reported_step=120))
    run = TrainingSession("Net", total_steps=200, plugins=[store, recorder], resume="net")
    run.start_training()
    run.update_training_progress(1, 0.1)
    with pytest.raises(ResumeError, match="training step 1 reported in a run resumed after step 120"):
        run.flush()
    run.end("failed")
    assert recorder.events[-1] == ("train_end", "failed")


@pytest.mark.parametrize(
    ("answer", "options", "message"),
    [
        (point(name="Other"), {}, "it is a run of 'Other', not 'Net': give model_name='Other'"),
        (point(epoch=None, step=5), {}, "that run was declared in steps, this one in epochs"),
        (point(epoch=4), {}, r"its first 4 epochs are done; declare more epochs \(epochs=5 or more\)"),
        (ResumeError("cannot resume 'net': run abababab of 'Net' completed"), {}, "completed"),
    ],
)
def test_a_run_that_cannot_be_resumed_is_refused_before_anything_is_reported(
    recorder: Any, answer: ResumePoint | BaseException, options: dict[str, object], message: str
) -> None:
    with pytest.raises(ResumeError, match=message):
        session(PointStore(answer), recorder, **options)
    assert recorder.events == []


def test_without_a_plugin_that_reads_logs_the_error_names_the_reporter(recorder: Any) -> None:
    with pytest.raises(ResumeError, match=r"Install trainscope-jsonl .* do not block the 'jsonl' reporter"):
        TrainingSession("Net", 2, 10, plugins=[recorder], resume="net")


def test_a_resume_error_is_a_fatal_plugin_error_and_a_value_error() -> None:
    assert issubclass(ResumeError, PluginFatalError)
    assert issubclass(ResumeError, ValueError)


def test_several_processes_cannot_resume_yet(recorder: Any) -> None:
    with pytest.raises(ResumeError, match="in a run of 2 processes: resuming is for a run of one process"):
        TrainingSession(
            "Net",
            2,
            10,
            plugins=[PointStore(point()), recorder],
            resume="net",
            process_index=0,
            process_count=2,
        )


def test_resume_at_must_be_a_count(recorder: Any) -> None:
    with pytest.raises(ValueError, match="resume_at"):
        session(PointStore(point()), recorder, resume_at=-1)


def test_the_axis_of_a_resumed_run_goes_on_from_the_point() -> None:
    run = RunInfo(name="Net", run_id=RUN_ID, epochs=4, steps_per_epoch=10, validation_steps=None)
    run.resumed = point()
    axis = GlobalStep.for_run(run)
    assert axis.current == 20
    assert axis.training(3, [1, 2]) + 1 == 21  # an epoch numbered afresh starts after step 20
    counted = GlobalStep.continued(20, 20, 2)  # a loop that counts its steps across epochs
    assert counted.training(3, [21]) + 21 == 21  # its step 21 is global step 21


def test_the_loop_helpers_start_after_the_point(recorder: Any) -> None:
    store = PointStore(point())
    with session(store, recorder) as run:
        step = run.training_step(lambda batch: 0.5)
        for _ in run.epochs():
            for batch in range(3):
                step(batch)
    assert [event for event in recorder.events if event[0] == "epoch_start"] == [
        ("epoch_start", 3),
        ("epoch_start", 4),
    ]
