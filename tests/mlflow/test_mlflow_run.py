"""The ``mlflow`` reporter through its entry point, its runs read back with ``MlflowClient``."""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient
from mlflow.entities import Run

import trainscope
from trainscope import LayerSpec, ModelSpec
from trainscope import environment_variables as core_env
from trainscope_arch import ModelArchitecturePrinter
from trainscope_mlflow import MlflowTrackingError
from trainscope_mlflow import environment_variables as env_vars

SPEC = ModelSpec("Tiny", (4,), [LayerSpec("fc", "Linear", "4, 2", 10, output_shape=(2,))])
CONFIG = {
    "learning_rate": 0.01,
    "optimizer": {"name": "adam", "nesterov": True},
    "data": Path("d"),
    "seed": 7,
}


def session(**kwargs: Any) -> trainscope.TrainingSession:
    options: dict[str, Any] = {
        "model_name": "Tiny CNN",
        "epochs": 2,
        "steps_per_epoch": 3,
        "validation_steps": 2,
        "plugins": ["mlflow"],
        "strict": True,
    }
    options.update(kwargs)
    return trainscope.TrainingSession(**options)


def train_loss(epoch: int, step: int) -> float:
    return 1.0 / (10 * epoch + step)


def run_two_epochs(s: trainscope.TrainingSession) -> None:
    for epoch in (1, 2):
        s.start_epoch(epoch)
        for step in (1, 2, 3):
            s.update_training_progress(step, train_loss(epoch, step), 0.25 * step, **{"top-5 acc%": 0.5})
        s.start_validation()
        for step in (1, 2):
            s.update_validation_progress(step, 0.5 + epoch + step / 8, 0.75)
        s.print_epoch_summary()


def find_run(uri: str, run: trainscope.RunInfo) -> Run:
    """The MLflow run of a trainscope run, found by its ``trainscope.run_id`` tag."""
    client = MlflowClient(uri)
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    (found,) = client.search_runs(experiments, filter_string=f"tags.`trainscope.run_id` = '{run.run_id}'")
    return found


def history(uri: str, run_id: str, key: str) -> list[tuple[int, float]]:
    """``(step, value)`` of every value logged under ``key``, sorted."""
    return sorted((metric.step, metric.value) for metric in MlflowClient(uri).get_metric_history(run_id, key))


@pytest.mark.parametrize("store", ["local_store", "server_store"])
def test_a_run_reads_back_with_every_value(store: str, request: pytest.FixtureRequest) -> None:
    uri: str = request.getfixturevalue(store)
    with session(plugins=["mlflow", "jsonl"], model=SPEC, config=CONFIG) as s:
        run_two_epochs(s)
    found = find_run(uri, s.run)
    run_id = found.info.run_id
    assert found.info.status == "FINISHED"
    assert found.info.run_name == f"Tiny CNN-{s.run.run_id[:8]}"
    assert found.data.params == {
        "learning_rate": "0.01",
        "optimizer.name": "adam",
        "optimizer.nesterov": "True",
        "data": "d",
        "seed": "7",
    }
    assert found.data.tags["trainscope.environment.trainscope"] == trainscope.__version__

    train = [(3 * (e - 1) + step, train_loss(e, step)) for e in (1, 2) for step in (1, 2, 3)]
    assert history(uri, run_id, "train/loss") == train
    assert history(uri, run_id, "train/accuracy") == [
        (3 * (e - 1) + s, 0.25 * s) for e in (1, 2) for s in (1, 2, 3)
    ]
    assert history(uri, run_id, "train/top-5 acc_") == [(step, 0.5) for step in range(1, 7)]
    # Validation steps are logged at the training step they follow.
    assert history(uri, run_id, "validation/loss") == [
        (3 * e, 0.5 + e + s / 8) for e in (1, 2) for s in (1, 2)
    ]
    epoch_means = [(3 * e, sum(train_loss(e, step) for step in (1, 2, 3)) / 3) for e in (1, 2)]
    means = history(uri, run_id, "epoch/train/loss")
    assert [step for step, _ in means] == [step for step, _ in epoch_means]
    assert [mean for _, mean in means] == pytest.approx([mean for _, mean in epoch_means])
    assert history(uri, run_id, "epoch/validation/loss") == [(3 * e, 0.5 + e + 3 / 16) for e in (1, 2)]

    client = MlflowClient(uri)
    folder = Path(client.download_artifacts(run_id, "", str(Path.cwd() / "downloaded")))
    printout = ModelArchitecturePrinter("Tiny CNN").format_architecture(SPEC)
    assert (folder / "model" / "architecture.txt").read_text() == printout
    local_log = Path(s.run.artifacts["jsonl"])
    uploaded = folder / "logs" / local_log.name
    assert uploaded.read_bytes() == local_log.read_bytes()
    last = json.loads(uploaded.read_text().splitlines()[-1])
    assert (last["event"], last["status"]) == ("run_end", "completed")


class Runs:
    """Records the runs that started."""

    def __init__(self) -> None:
        self.started: list[trainscope.RunInfo] = []

    @trainscope.hookimpl
    def trainscope_train_start(self, run: trainscope.RunInfo) -> None:
        self.started.append(run)


def two_steps_then(error: BaseException, runs: Runs) -> None:
    with session(plugins=["mlflow", "jsonl", runs]) as s:
        s.start_epoch(1)
        s.update_training_progress(1, 0.5)
        s.update_training_progress(2, 0.4)
        raise error


@pytest.mark.parametrize(
    ("error", "status", "error_tag"),
    [
        (KeyboardInterrupt(), "KILLED", "KeyboardInterrupt"),
        (ValueError("bad batch"), "FAILED", "ValueError: bad batch"),
    ],
)
def test_an_interrupted_or_failed_run_ends_with_its_status(
    local_store: str, error: BaseException, status: str, error_tag: str
) -> None:
    runs = Runs()
    with pytest.raises(type(error)):
        two_steps_then(error, runs)
    found = find_run(local_store, runs.started[0])
    assert found.info.status == status
    assert found.data.tags["trainscope.error"] == error_tag
    assert history(local_store, found.info.run_id, "train/loss") == [(1, 0.5), (2, 0.4)]
    client = MlflowClient(local_store)
    (log,) = client.list_artifacts(found.info.run_id, "logs")
    text = Path(client.download_artifacts(found.info.run_id, log.path, ".")).read_text()
    assert json.loads(text.splitlines()[-1])["event"] == "run_end"


class Epochs:
    """Records the epochs that started."""

    def __init__(self) -> None:
        self.started: list[int] = []

    @trainscope.hookimpl
    def trainscope_epoch_start(self, epoch: int) -> None:
        self.started.append(epoch)


def start_expecting_error(**kwargs: Any) -> tuple[str, Epochs, float]:
    epochs = Epochs()
    s = session(plugins=["mlflow", epochs], strict=False, **kwargs)
    began = time.monotonic()
    with pytest.raises(MlflowTrackingError) as raised:
        s.start_training()
    assert isinstance(raised.value, trainscope.PluginFatalError)
    return str(raised.value), epochs, time.monotonic() - began


def test_a_server_that_is_down_is_reported_before_training(server_down: str) -> None:
    message, epochs, seconds = start_expecting_error()
    assert f"cannot reach the MLflow tracking server {server_down!r}" in message
    assert "Connection refused" in message
    assert "TRAINSCOPE_DISABLE_PLUGINS=mlflow" in message
    assert epochs.started == []
    assert seconds < 5


def test_a_server_that_never_answers_is_reported_after_the_timeout(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # connections are accepted by the OS, never answered
        uri = f"http://user:secret@127.0.0.1:{silent.getsockname()[1]}"
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        monkeypatch.setenv(env_vars.TRAINSCOPE_MLFLOW_TIMEOUT, "0.5")
        message, epochs, seconds = start_expecting_error()
    assert "within 0.5 s: no answer" in message
    assert "secret" not in message
    assert "user:***@127.0.0.1" in message
    assert epochs.started == []
    assert 0.5 <= seconds < 5


@pytest.mark.parametrize("value", ["soon", "0", "-1", "nan"])
def test_a_bad_timeout_is_named(local_store: str, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(env_vars.TRAINSCOPE_MLFLOW_TIMEOUT, value)
    message, epochs, _ = start_expecting_error()
    assert message.startswith(f"TRAINSCOPE_MLFLOW_TIMEOUT={value!r} is not a number of seconds above 0")
    assert epochs.started == []


def test_a_deleted_experiment_is_named(local_store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    client = MlflowClient(local_store)
    name = f"deleted-{time.time_ns()}"
    client.delete_experiment(client.create_experiment(name))
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", name)
    message, epochs, _ = start_expecting_error()
    assert f"the MLflow experiment {name!r} is deleted" in message
    assert epochs.started == []


def test_blocked_by_name_logs_nothing(local_store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(core_env.TRAINSCOPE_PLUGINS, "mlflow")  # no other reporter
    monkeypatch.setenv(core_env.TRAINSCOPE_DISABLE_PLUGINS, "mlflow")
    with session(plugins=None) as s:
        run_two_epochs(s)
    client = MlflowClient(local_store)
    experiments = [e.experiment_id for e in client.search_experiments()]
    assert client.search_runs(experiments, filter_string=f"tags.`trainscope.run_id` = '{s.run.run_id}'") == []


def test_every_nth_step_only_when_asked(local_store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env_vars.TRAINSCOPE_MLFLOW_LOG_EVERY, "2")
    with session() as s:
        run_two_epochs(s)
    run_id = find_run(local_store, s.run).info.run_id
    assert history(local_store, run_id, "train/loss") == [
        (step, train_loss(1 + (step > 3), (step - 1) % 3 + 1)) for step in (2, 4, 6)
    ]
    assert history(local_store, run_id, "validation/loss") == [
        (3, 1.75),
        (6, 2.75),
    ]  # validation step 2 of each
    assert [step for step, _ in history(local_store, run_id, "epoch/train/loss")] == [3, 6]


@pytest.mark.parametrize("value", ["ten", "0", "-2", "1.5"])
def test_a_bad_step_interval_is_named(local_store: str, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(env_vars.TRAINSCOPE_MLFLOW_LOG_EVERY, value)
    message, epochs, _ = start_expecting_error()
    assert message.startswith(
        f"TRAINSCOPE_MLFLOW_LOG_EVERY={value!r} is not a whole number of steps of 1 or more"
    )
    assert epochs.started == []


def test_a_database_store_without_sqlalchemy_names_the_packages(
    local_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)  # as with mlflow-skinny alone
    message, epochs, _ = start_expecting_error()
    assert f"cannot use the MLflow store {local_store!r}" in message
    assert "pip install sqlalchemy alembic" in message
    assert epochs.started == []


def test_a_store_that_refuses_the_run_is_named(local_store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", "987654321")  # no such experiment
    message, epochs, _ = start_expecting_error()
    assert message.startswith(
        f"trainscope-mlflow cannot start an MLflow run in {local_store!r}: MlflowException"
    )
    assert "987654321" in message
    assert "\n" not in message
    assert epochs.started == []


def test_a_run_in_steps_logs_each_evaluation_at_its_training_step(local_store: str) -> None:
    with trainscope.TrainingSession("Steps", total_steps=4, plugins=["mlflow"], strict=True) as s:
        for step in (1, 2, 3, 4):
            s.update_training_progress(step, float(step))
            if step % 2 == 0:
                s.start_validation()
                s.update_validation_progress(1, 10.0 * step)
                s.finish_validation()
    run_id = find_run(local_store, s.run).info.run_id
    assert history(local_store, run_id, "train/loss") == [(step, float(step)) for step in (1, 2, 3, 4)]
    assert history(local_store, run_id, "evaluation/train/loss") == [(2, 1.5), (4, 3.5)]
    assert history(local_store, run_id, "evaluation/validation/loss") == [(2, 20.0), (4, 40.0)]
