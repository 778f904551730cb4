"""``fit`` with the mlflow reporter: its start (import, run creation) overlaps the first step's
compilation, and a store that cannot be used still stops the run before any step."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient

from trainscope_jax import ArrayDataset, ModelTrainer, TrainerConfig, create_model
from trainscope_mlflow import MlflowTrackingError


def digits_like(count: int) -> ArrayDataset:
    rng = np.random.default_rng(0)
    images = rng.random((count, 1, 8, 8), dtype=np.float32)
    return ArrayDataset(images, rng.integers(0, 10, count), num_classes=10)


def test_a_store_that_is_down_stops_fit_before_its_first_step(
    server_down: str, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAINSCOPE_LOG_DIR", str(isolated / "runs"))
    with ModelTrainer(create_model("mlp", (1, 8, 8), 10), TrainerConfig(batch_size=16)) as trainer:
        with pytest.raises(MlflowTrackingError, match="cannot reach the MLflow tracking server"):
            trainer.fit(digits_like(64), None, 2, plugins=["mlflow", "jsonl"])
        assert int(trainer.state.step) == 0  # the compiled step never ran
    (log,) = (isolated / "runs").glob("*.jsonl")
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert events[-1]["event"] == "run_end"
    assert events[-1]["status"] == "failed"
    assert "cannot reach the MLflow tracking server" in events[-1]["error"]
    assert not [event for event in events if event["event"] == "step"]


def test_fit_logs_every_step_to_a_store_that_works(local_store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with ModelTrainer(create_model("mlp", (1, 8, 8), 10), TrainerConfig(batch_size=16)) as trainer:
        history = trainer.fit(digits_like(64), None, 2, plugins=["mlflow"])
    assert len(history.epochs) == 2
    client = MlflowClient(local_store)
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    (run,) = client.search_runs(experiments)
    assert run.info.status == "FINISHED"
    steps = [metric.step for metric in client.get_metric_history(run.info.run_id, "train/loss")]
    assert sorted(steps) == list(range(1, 9))
