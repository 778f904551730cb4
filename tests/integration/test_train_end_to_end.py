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
