"""Ctrl-C and SIGTERM at any instant of ``trainscope train``'s start-up end it at once, cleanly.

Python can swallow a KeyboardInterrupt raised inside JAX's start-up (a garbage-collection
callback); an interrupted import can leave half-loaded modules; a native library stopped
half-way can crash the interpreter's teardown. Whatever instant the signal lands, the
command ends with one line and 130 (143), and a log that was opened ends with ``run_end``.
"""

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

pytest.importorskip("trainscope_jax")
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

DELAYS = (0.5, 0.8, 1.2, 1.6, 2.0, 2.5, 3.0, 4.0, 5.0, 6.5)
"""Seconds after the start: from the command line's first imports, through JAX's and the
reporters' start-up, to the first epochs (on a slower machine the later ones still fall in
start-up). The first ~0.15 s, Python's own start and the import of the command line
before it can take signals, are left out (see docs/cli.md)."""


def wait_until_signals_are_taken(pid: int) -> float:
    """Seconds until the command handles SIGTERM itself (its start-up can take signals from
    then on: the window before it is left out, see docs/cli.md), read from ``/proc`` where there
    is one; a loaded machine can stretch that window well past the first delays."""
    status = Path(f"/proc/{pid}/status")
    started = time.monotonic()
    deadline = started + 60
    while time.monotonic() < deadline:
        try:
            lines = status.read_text().splitlines()
        except OSError:  # no /proc here, or the command has already ended
            break
        caught = next((line for line in lines if line.startswith("SigCgt:")), None)
        if caught is not None and int(caught.split()[1], 16) & (1 << (signal.SIGTERM - 1)):
            break
        time.sleep(0.01)
    return time.monotonic() - started


def interrupted_train(
    tmp_path: Path, delay: float, signum: signal.Signals, preexec: Callable[[], None]
) -> tuple[int, str, Path]:
    logs = tmp_path / f"logs-{signum.name}-{delay}"
    env = {**os.environ, "TRAINSCOPE_LOG_DIR": str(logs), "TRAINSCOPE_PLATFORM": "cpu"}
    process = subprocess.Popen(
        [sys.executable, "-m", "trainscope", "-p", "no:mlflow", "train", "--epochs", "1000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=preexec,
    )
    waited = wait_until_signals_are_taken(process.pid)
    time.sleep(max(0.0, delay - waited))
    process.send_signal(signum)
    try:
        _, stderr = process.communicate(timeout=120)  # generous: a shared machine
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, stderr, logs


@posix_only
@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "status", "line"),
    [(signal.SIGINT, 130, "Interrupted"), (signal.SIGTERM, 143, "Terminated by SIGTERM")],
)
def test_a_signal_at_any_instant_of_start_up_ends_the_command_with_one_line(
    tmp_path: Path,
    signum: signal.Signals,
    status: int,
    line: str,
    signal_defaults: Callable[[], None],
) -> None:
    delays = DELAYS if signum == signal.SIGINT else DELAYS[::2]
    for delay in delays:
        code, stderr, logs = interrupted_train(tmp_path, delay, signum, signal_defaults)
        context = f"signal after {delay} s:\n{stderr}"
        assert code == status, context
        for noise in ("Traceback", "Exception ignored", "Aborted", "Fatal Python error"):
            assert noise not in stderr, context
        lines = [text for text in stderr.splitlines() if text.strip() and "|" not in text]
        assert lines[-1].startswith(line), context
        assert len(lines) <= 2, context  # "Starting training..." at most, then the one line
        for log in logs.glob("*.jsonl"):
            end = json.loads(log.read_text(encoding="utf-8").splitlines()[-1])
            assert end["event"] == "run_end", context
            assert end["status"] == "interrupted", context
