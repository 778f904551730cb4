"""Every MLflow call of the reporter is bounded by ``TRAINSCOPE_MLFLOW_TIMEOUT``, with one line on failure.

Each case runs in a process of its own, as a user would: it must end within a generous
deadline (MLflow's own retries would take minutes), print exactly one line about MLflow
and none of MLflow's retry warnings.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from mlflow import MlflowClient

from trainscope import WorkerTimeoutError
from trainscope import environment_variables as core_env
from trainscope_mlflow import environment_variables as env_vars
from trainscope_mlflow.bounded import call_within
from trainscope_mlflow.local_store import local_store_path
from trainscope_mlflow.quiet import quiet_reporter_threads

pytestmark = pytest.mark.slow  # real MLflow servers and processes

TIMEOUT = "3"
"""The reporter's timeout in these tests, in seconds."""
DEADLINE = 60.0
"""Seconds a process may take in all (importing MLflow included); MLflow's retries take minutes."""
NOISE = ("Traceback", "Retrying", "retried", "SQLAlchemy engine could not be created")

LOG_DIR = "<TRAINSCOPE_LOG_DIR>"
"""Replaced by the test's run-file folder in a command."""
DEMO = [sys.executable, "-m", "trainscope", "demo", "--epochs", "1", "--steps", "3", "--step-seconds", "0"]
DEMO += ["--log-dir", LOG_DIR]  # the demo keeps its files, and includes MLflow, only when asked


@dataclass
class Outcome:
    code: int
    lines: list[str]
    """The non-empty lines of stdout and stderr."""
    seconds: float


def run_process(command: list[str], uri: str | None, cwd: Path, plugins: str = "mlflow,jsonl") -> Outcome:
    env = {key: value for key, value in os.environ.items() if key != core_env.TRAINSCOPE_DISABLE_PLUGINS}
    env.pop("MLFLOW_TRACKING_URI", None)
    if uri is not None:
        env["MLFLOW_TRACKING_URI"] = uri
    env[core_env.TRAINSCOPE_PLUGINS] = plugins
    env[env_vars.TRAINSCOPE_MLFLOW_TIMEOUT] = TIMEOUT
    command = [env[core_env.TRAINSCOPE_LOG_DIR] if arg == LOG_DIR else arg for arg in command]
    began = time.monotonic()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=DEADLINE * 3)
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    return Outcome(done.returncode, lines, time.monotonic() - began)


def assert_one_line(outcome: Outcome, *parts: str) -> str:
    """The process printed one line, with each of ``parts`` and none of MLflow's noise, in time."""
    assert outcome.seconds < DEADLINE
    (line,) = outcome.lines
    for part in parts:
        assert part in line
    for noise in NOISE:
        assert noise not in line
    return line


def run_log(log_dir: Path) -> list[str]:
    """The lines of the one JSON-lines log in ``log_dir``."""
    (log,) = log_dir.glob("*.jsonl")
    return log.read_text().splitlines()


# -- the server dies as the run ends --------------------------------------------

DIES_AT_THE_END = """
import os, signal, sys, time
import trainscope
from mlflow import MlflowClient

def epoch_means_sent(run):
    client = MlflowClient()
    experiment = client.get_experiment_by_name(os.environ["MLFLOW_EXPERIMENT_NAME"])
    tag = f"tags.`trainscope.run_id` = '{run.run_id}'"
    (found,) = client.search_runs([experiment.experiment_id], filter_string=tag)
    return bool(client.get_metric_history(found.info.run_id, "epoch/train/loss"))

class KillServer:
    @trainscope.hookimpl
    def trainscope_train_end(self, run):  # before the mlflow reporter's (trylast)
        deadline = time.monotonic() + 30
        while not epoch_means_sent(run) and time.monotonic() < deadline:
            time.sleep(0.1)  # then only the calls of the run's end are left
        os.killpg(int(sys.argv[1]), signal.SIGKILL)

plugins = ["mlflow", "jsonl", KillServer()]
with trainscope.TrainingSession("Dying", 1, 20, plugins=plugins, refresh_interval=0) as session:
    session.start_epoch(1)
    for step in range(1, 21):
        session.update_training_progress(step, 1.0 / step)
"""


@pytest.mark.slow
def test_a_server_that_dies_as_the_run_ends_does_not_hold_the_exit(
    own_server: tuple[str, subprocess.Popen[bytes]], isolated: Path
) -> None:
    uri, server = own_server
    outcome = run_process([sys.executable, "-c", DIES_AT_THE_END, str(server.pid)], uri, isolated)
    assert outcome.code == 0  # the training completed: the reporter's failure is a warning
    assert_one_line(
        outcome,
        f"did not answer within {TIMEOUT} s at the end of the run",
        "TRAINSCOPE_MLFLOW_TIMEOUT",
        "TRAINSCOPE_DISABLE_PLUGINS=mlflow",
    )
    event = json.loads(run_log(Path(os.environ[core_env.TRAINSCOPE_LOG_DIR]))[-1])
    assert (event["event"], event["status"]) == ("run_end", "completed")


# -- a server that answers, but not its API ----------------------------------------


@contextlib.contextmanager
def slow_api(delay: float | None) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 that answers ``/`` at once and MLflow's API after ``delay``
    seconds, or never (None); yields its URI."""
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith(("/api/", "/ajax-api/")):
                release.wait(delay)  # None: until the server stops
            if release.is_set():
                return  # stopping: close without an answer
            body = b"{}"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        release.set()
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("delay", [30.0, None], ids=["answers-after-30s", "never-answers"])
def test_a_slow_or_silent_api_stops_the_run_before_training(isolated: Path, delay: float | None) -> None:
    with slow_api(delay) as uri:
        outcome = run_process(DEMO, uri, isolated)
    assert outcome.code == 1
    assert_one_line(
        outcome,
        f"Error: trainscope-mlflow: the MLflow tracking store {uri!r} did not answer within {TIMEOUT} s",
        "TRAINSCOPE_MLFLOW_TIMEOUT",
        "TRAINSCOPE_DISABLE_PLUGINS=mlflow",
    )
    events = [json.loads(line) for line in run_log(Path(os.environ[core_env.TRAINSCOPE_LOG_DIR]))]
    assert [event["event"] for event in events] == ["run_start", "run_end"]  # no training
    assert events[-1]["status"] == "failed"


# -- local stores that cannot be written ----------------------------------------------


def can_write(folder: Path) -> bool:
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder no file can be created in: ``chmod`` for a user; for root, whom ``chmod`` does not
    stop, the immutable attribute (``chattr +i``). Skipped where neither works."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    immutable = False
    if can_write(folder) and shutil.which("chattr"):
        immutable = subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0
    try:
        if can_write(folder):
            pytest.skip("no way to make a folder read-only here")
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


def test_the_default_store_in_a_read_only_folder_fails_at_once(read_only_folder: Path) -> None:
    outcome = run_process(DEMO, None, read_only_folder, plugins="mlflow")  # MLflow's default store
    assert outcome.code == 1
    assert_one_line(
        outcome,
        "Error: trainscope-mlflow cannot write the MLflow store 'sqlite:///",
        str(read_only_folder),
        "TRAINSCOPE_DISABLE_PLUGINS=mlflow",
    )
    assert list(read_only_folder.iterdir()) == []


def test_a_store_under_a_file_is_named(isolated: Path) -> None:
    (isolated / "a-file").write_text("")
    outcome = run_process(DEMO, str(isolated / "a-file" / "mlruns"), isolated, plugins="mlflow")
    assert outcome.code == 1
    assert_one_line(outcome, "cannot write the MLflow store", "Not a directory")


def test_a_database_sqlite_opens_read_only_is_given_up_after_the_timeout(isolated: Path) -> None:
    """MLflow retries opening it for about 100 s; the reporter waits for the timeout only."""
    uri = f"sqlite:///file:{isolated / 'missing.db'}?mode=ro&uri=true"
    outcome = run_process(DEMO, uri, isolated, plugins="mlflow")
    assert outcome.code == 1
    assert_one_line(
        outcome, f"did not answer within {TIMEOUT} s when the run started", "TRAINSCOPE_MLFLOW_TIMEOUT"
    )


# -- a large log ----------------------------------------------------------------------

UPLOADS_A_LOG = """
import resource, sys
import trainscope

class Log:
    @trainscope.hookimpl
    def trainscope_train_start(self, run):
        run.artifacts["jsonl"] = sys.argv[1]

with trainscope.TrainingSession("Large", 1, 1, plugins=["mlflow", Log()], strict=True) as session:
    session.start_epoch(1)
    session.update_training_progress(1, 0.5)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
print(session.run.run_id, (after - before) * unit)
"""

LARGE_LOG_BYTES = 64 * 2**20


def test_a_large_log_is_uploaded_without_being_read_whole(server_store: str, isolated: Path) -> None:
    log = isolated / "large.jsonl"
    line = json.dumps({"event": "step", "step": 1, "metrics": {"loss": 0.125}}) + "\n"
    with log.open("w") as out:
        for _ in range(LARGE_LOG_BYTES // len(line)):
            out.write(line)
    outcome = run_process([sys.executable, "-c", UPLOADS_A_LOG, str(log)], server_store, isolated)
    assert outcome.code == 0, outcome.lines
    run_id, grown = outcome.lines[-1].split()
    assert int(grown) < log.stat().st_size / 2  # streamed: the peak memory did not grow with the log
    client = MlflowClient(server_store)
    experiments = [e.experiment_id for e in client.search_experiments()]
    (found,) = client.search_runs(experiments, filter_string=f"tags.`trainscope.run_id` = '{run_id}'")
    (uploaded,) = client.list_artifacts(found.info.run_id, "logs")
    assert uploaded.file_size == log.stat().st_size
    assert found.info.status == "FINISHED"


# -- the pieces --------------------------------------------------------------------


def test_call_within_returns_raises_or_gives_up() -> None:
    assert call_within(5, "trainscope-mlflow-test", lambda: 42) == 42
    with pytest.raises(ValueError, match="refused"):
        call_within(5, "trainscope-mlflow-test", partial(int, "refused"))
    never = threading.Event()
    with pytest.raises(WorkerTimeoutError):
        call_within(0.1, "trainscope-mlflow-test", never.wait)
    never.set()


def test_only_the_reporter_threads_warnings_are_filtered(caplog: pytest.LogCaptureFixture) -> None:
    quiet_reporter_threads()
    caplog.set_level(logging.INFO)
    urllib3 = logging.getLogger("urllib3.connectionpool")

    def log() -> None:
        urllib3.warning("Retrying from the reporter")
        urllib3.info("information from the reporter")

    reporter = threading.Thread(target=log, name="trainscope-mlflow-0123abcd")
    reporter.start()
    reporter.join()
    urllib3.warning("Retrying from the user's own call")
    assert [record.getMessage() for record in caplog.records] == [
        "information from the reporter",
        "Retrying from the user's own call",
    ]


@pytest.mark.parametrize(
    ("uri", "found"),
    [
        ("sqlite:///mlflow.db", (Path("mlflow.db"), True)),
        ("sqlite:////data/runs/mlflow.db?timeout=5", (Path("/data/runs/mlflow.db"), True)),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("sqlite:///file:runs.db?mode=ro&uri=true", None),
        ("file:///data/mlruns", (Path("/data/mlruns"), False)),
        ("mlruns", (Path("mlruns"), False)),
        ("http://127.0.0.1:5000", None),
        ("databricks", None),
        ("postgresql://host/db", None),
    ],
)
def test_local_store_path(uri: str, found: tuple[Path, bool] | None) -> None:
    assert local_store_path(uri) == found
