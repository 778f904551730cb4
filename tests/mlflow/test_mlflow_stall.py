"""A store that stops taking metrics mid-run: the training goes on; the reporter gives up at the end."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import warnings
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


def test_a_stalled_store_never_holds_the_training_and_is_given_up_at_the_end(
    local_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    MlflowClient(local_store).search_experiments()  # the store's tables exist: the run starts at once
    # It bounds the run's start too: above a busy machine's start, below SQLite's wait for a lock (5 s).
    monkeypatch.setenv(env_vars.TRAINSCOPE_MLFLOW_TIMEOUT, "1")
    steps = Steps()
    session = trainscope.TrainingSession("Stalled", 1, 200, plugins=["mlflow", steps], refresh_interval=0)
    database = sqlite3.connect(local_store.removeprefix("sqlite:///"), isolation_level=None)
    try:
        with warnings.catch_warnings(record=True) as caught, session:
            warnings.simplefilter("always")
            database.execute("BEGIN EXCLUSIVE")  # the store now waits for this lock on every write
            session.start_epoch(1)
            report_steps(session, 200)
            assert steps.count == 200  # every step reported while the store took nothing
    finally:
        database.execute("ROLLBACK")
        database.close()
    (line,) = [str(w.message) for w in caught if issubclass(w.category, trainscope.PluginWarning)]
    assert "did not take this run's last metrics within 1 s" in line
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
