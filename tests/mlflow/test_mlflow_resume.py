"""A resumed run continues its MLflow run: the same run, running again then finished, its
parameters kept, the resumes counted, and the new values of the steps done again logged."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

import trainscope
from trainscope import environment_variables as core_env
from trainscope_mlflow.run_logger import RESUMES_TAG

STEPS = 3


def train(
    resume: Path | None = None, stop_in_epoch: int | None = None, lr: float = 0.1
) -> trainscope.TrainingSession:
    session = trainscope.TrainingSession(
        "Tiny",
        3,
        STEPS,
        plugins=["jsonl", "mlflow"],
        strict=True,
        resume=resume,
        config={"learning_rate": lr, "seed": 7},
    )
    try:
        with session:
            for epoch in session.epochs():
                for step in range(1, STEPS + 1):
                    if epoch == stop_in_epoch and step == 2:
                        raise KeyboardInterrupt
                    session.update_training_progress(step, 10.0 * epoch + step, 0.5)
    except KeyboardInterrupt:
        pass
    return session


@pytest.fixture
def log_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "logs"
    monkeypatch.setenv(core_env.TRAINSCOPE_LOG_DIR, str(directory))
    return directory


def test_the_same_mlflow_run_goes_on_and_finishes(local_store: str, log_dir: Path) -> None:
    first = train(stop_in_epoch=2)
    client = MlflowClient(local_store)
    (log,) = log_dir.glob("*.jsonl")
    assert client.get_run(mlflow_run(client, first)).info.status == "KILLED"

    second = train(resume=log, lr=0.05)  # a changed parameter: MLflow keeps a parameter's first value

    run_id = mlflow_run(client, second)
    assert run_id == mlflow_run(client, first)
    found = client.get_run(run_id)
    assert found.info.status == "FINISHED"
    assert found.data.tags[RESUMES_TAG] == "1"
    assert found.data.params == {"learning_rate": "0.1", "seed": "7"}
    means = sorted((m.step, m.value) for m in client.get_metric_history(run_id, "epoch/train/loss"))
    assert [step for step, _ in means] == [3, 6, 9]
    steps = sorted({m.step for m in client.get_metric_history(run_id, "train/loss")})
    assert steps == list(range(1, 10))


def mlflow_run(client: MlflowClient, session: trainscope.TrainingSession) -> str:
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    (found,) = client.search_runs(
        experiments, filter_string=f"tags.`trainscope.run_id` = '{session.run.run_id}'"
    )
    return str(found.info.run_id)
