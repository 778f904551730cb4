"""MLflow's work happens off the training thread: the training never calls MLflow, never waits for a
slow store during the run, and a loop faster than the store is thinned with one warning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient
from tensorboard.backend.event_processing import event_accumulator

import trainscope
from trainscope import environment_variables as core_env
from trainscope_mlflow import environment_variables as env_vars
from trainscope_mlflow.quiet import THREAD_PREFIX
from trainscope_mlflow.run_logger import STRIDE_TAG

pytestmark = pytest.mark.slow  # real MLflow servers and processes

CALLS = (
    "create_run",
    "get_experiment_by_name",
    "create_experiment",
    "log_batch",
    "set_tag",
    "set_terminated",
)


def find_run(uri: str, run: trainscope.RunInfo) -> Any:
    client = MlflowClient(uri)
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    (found,) = client.search_runs(experiments, filter_string=f"tags.`trainscope.run_id` = '{run.run_id}'")
    return found


def report(session: trainscope.TrainingSession, first: int, last: int) -> None:
    for step in range(first, last + 1):
        session.update_training_progress(step, 1.0 / step, 0.5)


def test_the_training_thread_never_calls_mlflow(local_store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[str] = []
    for name in CALLS:
        original: Callable[..., Any] = getattr(MlflowClient, name)

        def recording(*args: Any, _original: Callable[..., Any] = original, **kwargs: Any) -> Any:
            threads.append(threading.current_thread().name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(MlflowClient, name, recording)
    with trainscope.TrainingSession(
        "Threads", 2, 50, 5, config={"lr": 0.1}, plugins=["mlflow"], strict=True
    ) as session:
        for epoch in (1, 2):
            session.start_epoch(epoch)
            report(session, 1, 50)
            session.start_validation()
            for step in range(1, 6):
                session.update_validation_progress(step, 0.5)
            session.print_epoch_summary()
    assert len(threads) >= 4
    assert all(name.startswith(THREAD_PREFIX) for name in threads), threads
    found = find_run(local_store, session.run)
    assert session.run.artifacts["mlflow"] == f"{local_store} run {found.info.run_id}"
    assert found.data.params == {"lr": "0.1"}
    assert found.data.tags[STRIDE_TAG] == "1"
    losses = MlflowClient(local_store).get_metric_history(found.info.run_id, "train/loss")
    assert sorted(metric.step for metric in losses) == list(range(1, 101))


def test_a_loop_faster_than_the_store_is_thinned_with_one_warning(local_store: str) -> None:
    steps = 50_000  # far more than the store takes before its first send, a second into the run
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with trainscope.TrainingSession("Fast", 1, steps, plugins=["mlflow"], strict=True) as session:
            session.start_epoch(1)
            report(session, 1, steps)
    lines = [str(w.message) for w in caught if issubclass(w.category, trainscope.PluginWarning)]
    (line,) = lines
    assert "takes fewer steps than this run makes" in line
    assert env_vars.TRAINSCOPE_MLFLOW_LOG_EVERY in line
    found = find_run(local_store, session.run)
    stride = int(found.data.tags[STRIDE_TAG])
    assert stride > 1
    assert stride & (stride - 1) == 0  # a power of two
    logged = sorted(
        m.step for m in MlflowClient(local_store).get_metric_history(found.info.run_id, "train/loss")
    )
    assert logged[-1] == steps - steps % stride
    assert all(step % stride == 0 for step in logged[-10:])
    means = MlflowClient(local_store).get_metric_history(found.info.run_id, "epoch/train/loss")
    assert [m.step for m in means] == [steps]  # the means are never thinned


def test_a_server_that_stops_answering_never_holds_the_training(
    holding_proxy: Any, isolated: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", holding_proxy.uri)
    monkeypatch.setenv(env_vars.TRAINSCOPE_MLFLOW_TIMEOUT, "2")
    monkeypatch.setenv("TRAINSCOPE_TENSORBOARD_DIR", str(tmp_path / "tensorboard"))
    plugins = ["mlflow", "jsonl", "tensorboard"]
    session = trainscope.TrainingSession("Held", 1, 400, plugins=plugins, refresh_interval=0)
    with warnings.catch_warnings(record=True) as caught, session:
        warnings.simplefilter("always")
        session.start_epoch(1)
        report(session, 1, 200)
        assert holding_proxy.wait_for_a_held_call()  # the server now holds the reporter's send
        report(session, 201, 400)  # and the training goes on, never waiting for it
        assert not holding_proxy.release.is_set()
    (line,) = [str(w.message) for w in caught if issubclass(w.category, trainscope.PluginWarning)]
    assert "did not take this run's last metrics within 2 s" in line
    log = [json.loads(line) for line in Path(session.run.artifacts["jsonl"]).read_text().splitlines()]
    assert sum(event["event"] == "step" for event in log) == 400
    assert (log[-1]["event"], log[-1]["status"]) == ("run_end", "completed")
    events = event_accumulator.EventAccumulator(
        session.run.artifacts["tensorboard"], size_guidance={event_accumulator.SCALARS: 0}
    ).Reload()
    assert [event.step for event in events.Scalars("train/loss")] == list(range(1, 401))


def test_a_first_run_in_a_fresh_folder_prints_no_line_of_mlflow(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    env[core_env.TRAINSCOPE_PLUGINS] = "mlflow,tqdm"
    env.pop(core_env.TRAINSCOPE_DISABLE_PLUGINS, None)
    command = [
        sys.executable,
        "-m",
        "trainscope",
        "demo",
        "--epochs",
        "1",
        "--steps",
        "3",
        "--step-seconds",
        "0",
        "--log-dir",  # kept files, so that the demo includes MLflow
        "runs",
    ]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert "mlflow" not in output.lower().replace("trainscope-mlflow", "").replace("mlflow.db", "")
    assert (tmp_path / "mlflow.db").is_file()  # MLflow's default store, where `mlflow ui` looks
