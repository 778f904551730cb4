"""A log that cannot be written stops the run with a clear error and stays valid; signals end it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from trainscope import PluginFatalError, TrainingSession, hookimpl
from trainscope import environment_variables as env_vars
from trainscope_jsonl import LogDirectoryError

from .conftest import StrictLines

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and resource limits")


def only_log(directory: Path) -> Path:
    (path,) = directory.iterdir()
    return path


def run_script(
    tmp_path: Path, body: str, preexec_fn: Callable[[], None] | None = None, **env: str
) -> subprocess.Popen[str]:
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(body))
    environ = {**os.environ, env_vars.TRAINSCOPE_LOG_DIR: str(tmp_path / "logs"), **env}
    environ.pop(env_vars.TRAINSCOPE_PLUGINS, None)
    environ.pop(env_vars.TRAINSCOPE_STRICT, None)
    return subprocess.Popen(
        [sys.executable, str(script)],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec_fn,
    )


# -- values that no log could encode are refused where they enter ----------------------


@pytest.mark.usefixtures("log_dir")
@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"big": 2**64}, {"big": str(2**64)}),
        ({"text": "a\ud800b"}, {"text": "a\ufffdb"}),
        ({"path": Path("x/y")}, {"path": str(Path("x/y"))}),
        ({"values": (1, 2.5, None)}, {"values": [1, 2.5, None]}),
    ],
)
def test_config_values_reach_the_log_in_a_form_it_can_hold(
    config: dict[str, Any], expected: dict[str, Any], log_dir: Path, strict_lines: StrictLines
) -> None:
    with TrainingSession("Net", 1, 1, plugins=["jsonl"], config=config) as session:
        session.start_epoch(1)
        session.update_training_progress(1, 0.5)
    events = strict_lines(only_log(log_dir))
    assert events[0]["config"] == expected
    assert events[-1]["status"] == "completed"


@pytest.mark.usefixtures("log_dir")
def test_a_config_that_contains_itself_is_logged_with_the_cycle_cut(
    log_dir: Path, strict_lines: StrictLines
) -> None:
    config: dict[str, Any] = {"lr": 0.1}
    config["self"] = config
    with TrainingSession("Net", 1, 1, plugins=["jsonl"], config=config) as session:
        session.start_epoch(1)
    events = strict_lines(only_log(log_dir))
    assert events[0]["config"] == {"lr": 0.1, "self": "<cycle>"}


@pytest.mark.usefixtures("log_dir")
def test_a_run_name_with_a_lone_surrogate_is_logged(log_dir: Path, strict_lines: StrictLines) -> None:
    with TrainingSession("Net\udc80", 1, 1, plugins=["jsonl"]) as session:
        session.start_epoch(1)
    events = strict_lines(only_log(log_dir))
    assert events[0]["name"] == "Net\ufffd"
    assert events[-1]["event"] == "run_end"


@pytest.mark.usefixtures("log_dir")
def test_a_step_beyond_64_bits_is_refused_and_the_log_stays_whole(
    log_dir: Path, strict_lines: StrictLines
) -> None:
    def train() -> None:
        with TrainingSession("Net", 1, None, plugins=["jsonl"], refresh_interval=0) as session:
            session.start_epoch(1)
            session.update_training_progress(1, 0.5)
            session.update_training_progress(2**64, 0.5)

    with pytest.raises(ValueError, match=r"step must fit in 64 bits"):
        train()
    events = strict_lines(only_log(log_dir))
    assert [e["step"] for e in events if e["event"] == "step"] == [1]
    assert events[-1]["status"] == "failed"
    assert "step must fit in 64 bits" in events[-1]["error"]


def test_epochs_beyond_64_bits_are_refused_before_anything_is_written(log_dir: Path) -> None:
    with pytest.raises(ValueError, match=r"epochs must be between 1 and 2\*\*63-1"):
        TrainingSession("Net", 99999999999999999999999, 1, plugins=["jsonl"])
    assert not log_dir.exists()


# -- an unwritable folder, a full disk ------------------------------------------------


def test_a_file_in_the_way_of_the_log_folder_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "plain-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(env_vars.TRAINSCOPE_LOG_DIR, str(blocker / "logs"))
    with pytest.raises(LogDirectoryError, match=r"plain-file' is a file, not a folder"):
        TrainingSession("Net", 1, 1, plugins=["jsonl"]).start_training()


def test_a_tilde_in_the_log_folder_means_the_home_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv(env_vars.TRAINSCOPE_LOG_DIR, "~/trainscope-logs")
    with TrainingSession("Net", 1, 1, plugins=["jsonl"]) as session:
        session.start_epoch(1)
    assert only_log(tmp_path / "trainscope-logs").suffix == ".jsonl"
    assert session.run.artifacts["jsonl"].startswith(str(tmp_path / "trainscope-logs"))


FULL_DISK_SCRIPT = """
import resource, signal, sys
import trainscope

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (6000, 6000))
try:
    with trainscope.TrainingSession("Full", 1000, None, plugins=["jsonl"], refresh_interval=0) as session:
        session.start_epoch(1)
        for step in range(1, 100_000):
            session.update_training_progress(step, 0.5, 0.25)
except trainscope.PluginFatalError as exc:
    print("stopped at step", step, file=sys.stderr)
    print(exc, file=sys.stderr)
    sys.exit(3)
"""


@posix_only
def test_a_full_disk_stops_the_run_with_a_clear_error_and_keeps_the_log_valid(
    tmp_path: Path, strict_lines: StrictLines
) -> None:
    process = run_script(tmp_path, FULL_DISK_SCRIPT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 3, stderr
    assert "could not write the run log" in stderr
    assert "File too large" in stderr
    stopped_at = int(stderr.split("stopped at step ")[1].split()[0])
    assert stopped_at < 1000  # stopped at once, not after training on unlogged
    path = only_log(tmp_path / "logs")
    assert path.stat().st_size <= 6000
    events = strict_lines(path)  # every line whole: the failed write was taken back
    assert path.read_bytes().endswith(b"\n")
    steps = [event["step"] for event in events if event["event"] == "step"]
    assert steps == list(range(1, len(steps) + 1))
    assert steps
    assert events[0]["event"] == "run_start"


@pytest.mark.usefixtures("log_dir")
def test_a_log_write_error_is_fatal_and_reaches_every_reporter(log_dir: Path) -> None:
    seen: list[str] = []

    class Recorder:
        @hookimpl
        def trainscope_progress(self, records: Any) -> None:
            seen.extend(str(step) for step in records.steps)

        @hookimpl
        def trainscope_train_end(self, status: str, error: BaseException | None) -> None:
            seen.append(f"end:{status}:{type(error).__name__}")

    def failing_write(*chunks: bytes) -> None:
        raise OSError(28, "No space left on device")

    session = TrainingSession("Net", 1, None, plugins=["jsonl", Recorder()], refresh_interval=0)

    def train() -> None:
        with session:
            session.start_epoch(1)
            import trainscope_jsonl.plugin as jsonl_plugin

            writer = jsonl_plugin._open_logs.get(session.run).writer  # type: ignore[union-attr]
            writer._write = failing_write  # type: ignore[method-assign,assignment]
            session.update_training_progress(1, 0.5)

    with pytest.raises(PluginFatalError, match="No space left on device"):
        train()
    assert seen == ["1", "end:failed:LogWriteError"]


@pytest.mark.usefixtures("log_dir")
def test_a_log_whose_write_failed_reads_back_as_abandoned(log_dir: Path) -> None:
    from trainscope_jsonl import read_summary

    failures = [OSError(28, "No space left on device")]  # one write fails, then there is room again
    session = TrainingSession("Net", 1, None, plugins=["jsonl"], refresh_interval=0)

    def train() -> None:
        with session:
            session.start_epoch(1)
            import trainscope_jsonl.plugin as jsonl_plugin

            writer = jsonl_plugin._open_logs.get(session.run).writer  # type: ignore[union-attr]
            write = writer._write

            def write_once_failing(*chunks: bytes) -> None:
                if failures:
                    raise failures.pop()
                write(*chunks)

            writer._write = write_once_failing  # type: ignore[method-assign]
            session.update_training_progress(1, 0.5)

    with pytest.raises(PluginFatalError):
        train()
    summary = read_summary(only_log(log_dir))
    assert summary.end is not None
    assert summary.end.status == "failed"
    assert summary.abandoned is not None
    assert summary.abandoned.startswith("LogWriteError: ")
    assert "No space left on device" in summary.abandoned


# -- signals ---------------------------------------------------------------------------

SIGNAL_SCRIPT = """
import time
import trainscope

with trainscope.TrainingSession("Signalled", 5, 100000, plugins=["jsonl", "summary"],
                                refresh_interval=0.01) as session:
    session.start_epoch(1)
    for step in range(1, 100001):
        session.update_training_progress(step, 1.0 / step, 0.5)
        if step == 50:
            print("training", flush=True)
        time.sleep(0.001)
"""


@posix_only
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_end_the_run_as_interrupted(
    signum: signal.Signals, tmp_path: Path, strict_lines: StrictLines, signal_defaults: Callable[[], None]
) -> None:
    process = run_script(tmp_path, SIGNAL_SCRIPT, signal_defaults)
    assert process.stdout is not None
    assert process.stdout.readline() == "training\n"
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, stderr
    assert "Traceback" not in stderr
    events = strict_lines(only_log(tmp_path / "logs"))
    end = events[-1]
    assert end["event"] == "run_end"
    assert end["status"] == "interrupted"
    assert end["error"] == f"Terminated: terminated by {signum.name}"
    steps = [event["step"] for event in events if event["event"] == "step"]
    assert steps == list(range(1, len(steps) + 1))  # nothing buffered was lost
    assert len(steps) >= 50
    assert "Training interrupted after 0/5 epochs" in stdout


@posix_only
def test_a_handler_the_program_installed_is_left_alone(tmp_path: Path) -> None:
    process = run_script(
        tmp_path,
        """
        import signal, sys, time
        import trainscope

        signal.signal(signal.SIGTERM, lambda *_: print("own handler", flush=True))
        with trainscope.TrainingSession("Own", 1, None, plugins=[]) as session:
            session.start_epoch(1)
            print("training", flush=True)
            time.sleep(1.0)
            session.update_training_progress(1, 0.5)
        print("completed", flush=True)
        """,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "training\n"
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert stdout == "own handler\ncompleted\n"
