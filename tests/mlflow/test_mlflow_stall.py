"""A tracking store that stops taking metrics mid-run: the reporter gives up, the training goes on."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

import trainscope
from trainscope_mlflow import environment_variables as env_vars


class Steps:
    def __init__(self) -> None:
        self.count = 0

    @trainscope.hookimpl
    def trainscope_progress(self, records: trainscope.StepRecords) -> None:
        self.count += len(records)


def report_steps(session: trainscope.TrainingSession, count: int) -> None:
    for step in range(1, count + 1):
        session.update_training_progress(step, 1.0 / step)


def test_a_stalled_store_disables_the_reporter_after_the_timeout(
    local_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    MlflowClient(local_store).search_experiments()  # the store's tables exist: the run starts at once
    # It bounds the run's start too: above a busy machine's start, below SQLite's wait for a lock (5 s).
    monkeypatch.setenv(env_vars.TRAINSCOPE_MLFLOW_TIMEOUT, "1")
    steps = Steps()
    session = trainscope.TrainingSession("Stalled", 1, 200, plugins=["mlflow", steps], refresh_interval=0)
    database = sqlite3.connect(local_store.removeprefix("sqlite:///"), isolation_level=None)
    with session:
        database.execute("BEGIN EXCLUSIVE")  # the store now waits for this lock on every write
        try:
            session.start_epoch(1)
            with pytest.warns(trainscope.PluginWarning, match="has not accepted this run's metrics for 1 s"):
                report_steps(session, 200)
        finally:
            database.execute("ROLLBACK")
            database.close()
    assert steps.count == 200
    runs = MlflowClient(local_store).search_runs(
        [e.experiment_id for e in MlflowClient(local_store).search_experiments()],
        filter_string=f"tags.`trainscope.run_id` = '{session.run.run_id}'",
    )
    assert [run.info.status for run in runs] == ["RUNNING"]  # left as it was: the store did not answer


def test_the_plugin_module_does_not_import_mlflow(tmp_path: Path) -> None:
    code = "import sys, trainscope_mlflow.plugin; print([m for m in sys.modules if m.startswith('mlflow')])"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.strip() == "[]"
