"""Run health in MLflow: the figures as ``health/`` metrics at each epoch's step, the alerts as the
run tag ``trainscope.alerts``; read back with ``MlflowClient`` from a real store."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
from mlflow import MlflowClient

import trainscope
from trainscope_mlflow.health import ALERTS_TAG, MAX_ALERTS_CHARS

from .test_mlflow_run import find_run, history


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def slow_batches(clock: FakeClock, count: int) -> Iterator[int]:
    for index in range(count):
        clock.sleep(0.3)
        yield index


@pytest.mark.parametrize("store", ["local_store", "server_store"])
def test_health_figures_are_metrics_and_alerts_a_tag(store: str, request: pytest.FixtureRequest) -> None:
    uri: str = request.getfixturevalue(store)
    MlflowClient(uri).search_experiments()  # the store's tables exist: the run starts at once
    clock = FakeClock()
    session = trainscope.TrainingSession(
        "SlowInput", 2, 40, 5, plugins=["mlflow"], clock=clock, refresh_interval=0, strict=True
    )
    with session:
        for epoch in session.epochs():
            for step, _ in enumerate(session.timed_batches(slow_batches(clock, 40)), 1):
                clock.sleep(0.1)
                loss = math.nan if (epoch, step) == (2, 12) else (9.0 if (epoch, step) == (1, 38) else 1.0)
                session.update_training_progress(step, loss, 0.5)
            session.start_validation()
            for step in range(1, 6):
                clock.sleep(0.05)
                session.update_validation_progress(step, 0.4)
    found = find_run(uri, session.run)
    run_id = found.info.run_id
    assert [step for step, _ in history(uri, run_id, "epoch/train/accuracy")] == [40, 80]
    step_time = pytest.approx(0.4, rel=0.04)
    for figure in ("step_time_median", "step_time_p90", "step_time_max", "step_time_mean"):
        assert history(uri, run_id, f"health/{figure}") == [(40, step_time), (80, step_time)]
    assert history(uri, run_id, "health/data_share") == [(40, pytest.approx(0.75)), (80, pytest.approx(0.75))]
    assert history(uri, run_id, "health/outliers") == [(40, 0.0), (80, 0.0)]
    assert history(uri, run_id, "health/run_elapsed") == [
        (40, pytest.approx(16.25)),
        (80, pytest.approx(32.5)),
    ]
    assert history(uri, run_id, "health/run_eta") == [(40, pytest.approx(16.25, rel=0.01)), (80, 0.0)]
    assert "health/device_share" not in found.data.metrics  # the loop timed its batches only
    assert found.data.tags[ALERTS_TAG] == (
        "loss spiked to 9 at step 38 (training, epoch 1), 9.0x its running median 1\n"
        "loss is NaN at step 12 (training, epoch 2)"
    )


def test_a_run_without_alerts_has_no_tag_and_the_tag_is_capped(local_store: str) -> None:
    MlflowClient(local_store).search_experiments()  # the store's tables exist: the run starts at once
    with trainscope.TrainingSession("Calm", 1, 3, plugins=["mlflow"], strict=True) as calm:
        calm.start_epoch(1)
        for step in (1, 2, 3):
            calm.update_training_progress(step, 0.5)
    assert ALERTS_TAG not in find_run(local_store, calm.run).data.tags
    names = [f"metric_{index:03d}_{'x' * 40}" for index in range(200)]  # 200 alerts of ~90 characters
    with trainscope.TrainingSession("Noisy", 1, 1, plugins=["mlflow"], strict=True) as noisy:
        noisy.start_epoch(1)
        noisy.update_training_progress(1, **dict.fromkeys(names, math.nan))
    tag = find_run(local_store, noisy.run).data.tags[ALERTS_TAG]
    assert len(tag) <= MAX_ALERTS_CHARS
    assert tag.startswith(f"{names[0]} is NaN at step 1 (training, epoch 1)\n{names[1]} is NaN")
    assert (
        MlflowClient(local_store).get_run(find_run(local_store, noisy.run).info.run_id).info.status
        == "FINISHED"
    )
