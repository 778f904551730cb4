"""Run health through the session: step times, what the loop waited for and the verdict, alerts
(non-finite values, loss spikes, stop_on_nan) and the whole run's ETA. A fake clock makes every
figure exact; the real-time versions of these runs are in tests/jax/test_fit_health.py."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest

from trainscope import Alert, MetricAlertError, PhaseHealth, TrainingSession, hookimpl

from .conftest import Recorder


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Alerts(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.alerts: list[Alert] = []

    @hookimpl
    def trainscope_alert(self, alert: Alert) -> None:
        self.events.append(("alert", alert.kind))
        self.alerts.append(alert)


def train_health(recorder: Recorder) -> PhaseHealth:
    (train,) = [phase for phase in recorder.ended_phases if phase.name == "train"]
    assert train.health is not None
    return train.health


def helper_run(clock: FakeClock, recorder: Recorder, fetch: float, compute: float, steps: int = 40) -> None:
    """A loop of the loop helpers: each batch takes ``fetch`` seconds to read, each step ``compute``."""
    session = TrainingSession("Net", total_steps=steps, plugins=[recorder], clock=clock, refresh_interval=0)

    def batches() -> Iterator[int]:
        for index in range(steps):
            clock.sleep(fetch)
            yield index

    def step(batch: int) -> float:
        clock.sleep(compute)
        return 0.5

    train_step = session.training_step(step)
    with session:
        for batch in batches():
            train_step(batch)


@pytest.mark.parametrize(
    ("fetch", "compute", "verdict"),
    [(0.3, 0.1, "input-bound"), (0.01, 0.5, "compute-bound"), (0.1, 0.1, None)],
    ids=["slow-input", "heavy-step", "balanced"],
)
def test_the_loop_helpers_tell_input_bound_from_compute_bound(
    recorder: Recorder, fetch: float, compute: float, verdict: str | None
) -> None:
    helper_run(FakeClock(), recorder, fetch, compute)
    health = train_health(recorder)
    assert health.verdict == verdict
    assert health.data_share == pytest.approx(fetch / (fetch + compute), rel=0.05)
    assert health.device_share == pytest.approx(compute / (fetch + compute), rel=0.05)
    findings = health.findings()
    if verdict == "input-bound":
        assert findings == ["input-bound: 75% of step time waiting for data (see docs: prefetch, workers)"]
    elif verdict == "compute-bound":
        assert findings[0].startswith("compute-bound: 98% of step time waiting for the device")
    else:
        assert findings == []


def test_the_seed_api_judges_only_what_it_was_told(recorder: Recorder) -> None:
    clock = FakeClock()
    with TrainingSession("Net", total_steps=40, plugins=[recorder], clock=clock) as session:
        for step in range(1, 41):
            clock.sleep(0.2)
            session.update_training_progress(step, 0.5)
    health = train_health(recorder)
    assert (health.data_wait, health.device_wait, health.verdict) == (None, None, None)
    assert health.step_time_median == pytest.approx(0.2, rel=0.04)


def test_timed_batches_and_timed_step_measure_a_hand_written_loop(recorder: Recorder) -> None:
    clock = FakeClock()
    session = TrainingSession("Net", total_steps=30, plugins=[recorder], clock=clock)

    def slow_batches() -> Iterator[int]:
        for index in range(30):
            clock.sleep(0.2)
            yield index

    def step(batch: int) -> float:
        clock.sleep(0.05)
        return 0.5

    timed = session.timed_step(step)
    with session:
        for index, batch in enumerate(session.timed_batches(slow_batches()), 1):
            session.update_training_progress(index, timed(batch))
    health = train_health(recorder)
    assert health.verdict == "input-bound"
    assert health.data_wait == pytest.approx(29 * 0.2)  # the first batch came before the phase opened


def test_step_times_give_median_p90_max_and_outliers(recorder: Recorder) -> None:
    clock = FakeClock()
    with TrainingSession("Net", 1, None, plugins=[recorder], clock=clock, refresh_interval=3600) as session:
        session.start_epoch(1)
        for step in range(1, 202):
            clock.sleep(2.0 if step in (50, 150) else (0.01 if step % 10 else 0.02))
            session.update_training_progress(step, 0.5)
    health = train_health(recorder)
    assert health.steps == 200
    assert health.step_time_median == pytest.approx(0.01, rel=0.04)
    assert health.step_time_p90 == pytest.approx(0.02, rel=0.04)
    assert health.step_time_max == pytest.approx(2.0)
    assert health.outliers == pytest.approx(2, abs=1)  # estimated from at most 64 steps a batch
    (finding,) = health.findings()
    assert finding.startswith(
        f"{health.outliers} slow steps over 3x the median 9.65 ms (p90 19.8 ms, max 2 s)"
    )


def test_a_validation_pause_is_no_step_time(recorder: Recorder) -> None:
    clock = FakeClock()
    with TrainingSession(
        "Net", total_steps=20, validation_steps=1, plugins=[recorder], clock=clock
    ) as session:
        for step in range(1, 21):
            clock.sleep(0.1)
            session.update_training_progress(step, 0.5)
            if step == 10:
                session.start_validation()
                clock.sleep(30.0)
                session.update_validation_progress(1, 0.4)
                session.finish_validation()
    health = train_health(recorder)
    assert health.step_time_max == pytest.approx(0.1, rel=1e-4)
    assert health.outliers == 0


# -- alerts ---------------------------------------------------------------------------------------


def test_the_first_nan_of_a_metric_alerts_once_and_the_run_goes_on() -> None:
    alerts = Alerts()
    with TrainingSession("Net", 1, 20, plugins=[alerts], refresh_interval=0) as session:
        session.start_epoch(1)
        for step in range(1, 21):
            loss = math.nan if step >= 7 else 1.0 / step
            session.update_training_progress(step, loss, 0.5, grad_norm=math.inf if step == 9 else 1.0)
    assert [(a.kind, a.metric, a.step) for a in alerts.alerts] == [
        ("non-finite", "loss", 7),
        ("non-finite", "grad_norm", 9),
    ]
    assert alerts.alerts[0].message == "loss is NaN at step 7 (training, epoch 1)"
    assert alerts.alerts[1].message == "grad_norm is +inf at step 9 (training, epoch 1)"
    assert alerts.events[-1] == ("train_end", "completed")
    # the alert comes right after the batch that raised it
    first_alert = alerts.hooks().index("alert")
    assert alerts.hooks()[first_alert - 1] == "progress"


def test_stop_on_nan_ends_the_run_as_failed_with_the_alert() -> None:
    alerts = Alerts()
    session = TrainingSession("Net", 1, 20, plugins=[alerts], refresh_interval=0, stop_on_nan=True)
    stopped = pytest.raises(MetricAlertError, match=r"stop_on_nan\): loss is NaN at step 3")
    with stopped as raised, session:
        session.start_epoch(1)
        for step in range(1, 21):
            session.update_training_progress(step, math.nan if step == 3 else 1.0)
    assert raised.value.alert.step == 3
    assert alerts.events[-1] == ("train_end", "failed")
    assert isinstance(alerts.errors[-1], MetricAlertError)
    assert [record.step for _, _, record in alerts.records] == [1, 2, 3]  # nothing after the alert


def test_a_loss_spike_alerts_once_per_training_phase() -> None:
    alerts = Alerts()
    with TrainingSession("Net", 2, 100, plugins=[alerts], refresh_interval=0) as session:
        for epoch in session.epochs():
            for step in range(1, 101):
                spike = (epoch, step) in ((1, 60), (1, 70), (2, 80))
                session.update_training_progress(step, 9.0 if spike else 1.0 + step / 1000)
    assert [(a.kind, a.epoch, a.step) for a in alerts.alerts] == [("spike", 1, 60), ("spike", 2, 80)]
    assert alerts.alerts[0].message.startswith("loss spiked to 9 at step 60 (training, epoch 1), 8.")


def test_no_spike_is_judged_before_enough_history_or_on_validation() -> None:
    alerts = Alerts()
    with TrainingSession("Net", 1, 20, 5, plugins=[alerts], refresh_interval=0) as session:
        session.start_epoch(1)
        for step in range(1, 21):
            session.update_training_progress(step, 50.0 if step == 10 else 1.0)
        session.start_validation()
        for step in range(1, 6):
            session.update_validation_progress(step, 100.0)
    assert alerts.alerts == []


# -- the whole run's ETA ------------------------------------------------------------------------


def test_the_run_eta_counts_the_epochs_left_at_the_typical_epoch_time(recorder: Recorder) -> None:
    clock = FakeClock()
    durations = [25.0, 10.0, 12.0, 10.0]  # the first compiles
    with TrainingSession("Net", 4, 2, 1, plugins=[recorder], clock=clock) as session:
        for epoch in session.epochs():
            for step in (1, 2):
                clock.sleep(durations[epoch - 1] / 3)
                session.update_training_progress(step, 0.5)
            session.start_validation()
            clock.sleep(durations[epoch - 1] / 3)
            session.update_validation_progress(1, 0.5)
    etas = [summary.run_eta for summary in recorder.summaries]
    assert etas == pytest.approx([3 * 25.0, 2 * 10.0, 1 * 11.0, 0.0])
    assert [summary.run_elapsed for summary in recorder.summaries] == pytest.approx([25.0, 35.0, 47.0, 57.0])


def test_the_run_eta_of_a_run_in_steps_adds_the_validations_to_come(recorder: Recorder) -> None:
    clock = FakeClock()
    with TrainingSession(
        "Net", total_steps=100, validation_steps=1, plugins=[recorder], clock=clock
    ) as session:
        for step in range(1, 101):
            clock.sleep(0.1)
            session.update_training_progress(step, 0.5)
            if step % 25 == 0:
                session.start_validation()
                clock.sleep(2.0)
                session.update_validation_progress(1, 0.5)
                session.finish_validation()
    first = recorder.evaluations[0]
    # 75 steps left at 0.1 s (the first step opens the phase: 24 steps in 2.4 s), 3 validations of 2 s
    assert first.run_eta == pytest.approx(75 * 2.4 / 25 + 3 * 2.0, rel=0.01)
    assert recorder.evaluations[-1].run_eta == pytest.approx(0.0)


def test_summaries_carry_the_health_of_their_training(recorder: Recorder) -> None:
    helper_run(FakeClock(), recorder, 0.3, 0.1, steps=20)
    evaluations: list[Any] = recorder.evaluations
    assert evaluations == []  # none in this run; the epoch-free run's phase has the figures
    assert train_health(recorder).as_dict()["verdict"] == "input-bound"
    assert PhaseHealth.from_dict(train_health(recorder).as_dict()) == train_health(recorder)
