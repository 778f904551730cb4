"""`trainscope train` as a user runs it: real entry points, real reporters, a real Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # whole training runs in a subprocess

pytest.importorskip("trainscope_jax")
pytest.importorskip("trainscope_jsonl")


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_and_sigterm_stop_training_cleanly(
    tmp_path: Path, signum: signal.Signals, status: int, signal_defaults: Callable[[], None]
) -> None:
    env = {**os.environ, "TRAINSCOPE_LOG_DIR": str(tmp_path), "TRAINSCOPE_PLATFORM": "cpu"}
    process = subprocess.Popen(
        [sys.executable, "-m", "trainscope", "-p", "no:arch", "train", "--epochs", "200"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        preexec_fn=signal_defaults,
    )
    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + 120
    for line in process.stdout:
        seen.append(line)
        if "Epoch 2/200 Summary" in line or time.monotonic() > deadline:
            break
    process.send_signal(signum)
    rest, _ = process.communicate(timeout=60)
    output = "".join(seen) + rest
    assert process.returncode == status, output
    assert "Traceback" not in output
    assert "Epoch 1/200 Summary:" in output
    assert "Model Architecture" not in output  # -p no:arch
    (log,) = tmp_path.glob("*.jsonl")
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert events[-1]["event"] == "run_end"
    assert events[-1]["status"] == "interrupted"
    assert f"training stopped (the run is logged as interrupted in {log})" in output


def test_an_interrupted_train_goes_on_with_resume(
    tmp_path: Path, signal_defaults: Callable[[], None]
) -> None:
    from trainscope_jsonl import read_summary

    env = {**os.environ, "TRAINSCOPE_LOG_DIR": str(tmp_path), "TRAINSCOPE_PLATFORM": "cpu"}
    command = [sys.executable, "-m", "trainscope", "-p", "no:arch", "train", "--model", "mlp"]
    process = subprocess.Popen(
        [*command, "--epochs", "200"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        preexec_fn=signal_defaults,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if "Epoch 2/200 Summary" in line:
            break
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    assert process.returncode == 130
    (log,) = tmp_path.glob("*.jsonl")
    before = read_summary(log)
    assert before.status == "interrupted"
    done = before.epochs[-1].epoch
    run_id = before.run_id

    resumed = subprocess.run(
        [*command, "--epochs", str(done + 1), "--resume", run_id[:6]],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"Epoch {done + 1}/{done + 1} Summary:" in resumed.stdout
    assert "Epoch 1/" not in resumed.stdout + resumed.stderr  # only the epoch left was trained
    assert list(tmp_path.glob("*.jsonl")) == [log]
    after = read_summary(log)
    assert (after.status, after.resumes, after.run_id) == ("completed", 1, run_id)
    assert [record.epoch for record in after.epochs] == list(range(1, done + 2))
    saved = sorted(path.name for path in (tmp_path / "checkpoints" / run_id).iterdir())
    assert saved == [f"epoch-{done}.npz", f"epoch-{done + 1}.npz"]

    again = subprocess.run(
        [*command, "--resume", run_id[:6]], capture_output=True, text=True, env=env, timeout=300
    )
    assert again.returncode == 1
    assert "a completed run cannot be resumed" in again.stderr
    assert "Traceback" not in again.stderr
