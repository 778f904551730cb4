"""``trainscope train`` says at once what it is loading, on a terminal only, and erases it."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

pytest.importorskip("trainscope_jax")
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal")

COMMAND = [sys.executable, "-m", "trainscope", "-p", "no:mlflow", "train", "--model", "mlp", "--epochs", "1"]
ERASE = "\r\x1b[2K"


def read_all(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the other side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


@posix_only
@pytest.mark.slow
def test_on_a_terminal_a_status_line_shows_at_once_and_is_erased_before_the_run(tmp_path: object) -> None:
    env = {**os.environ, "TRAINSCOPE_PLATFORM": "cpu", "COLUMNS": "120"}
    controller, terminal = pty.openpty()
    process = subprocess.Popen(COMMAND, stdin=terminal, stdout=terminal, stderr=terminal, env=env)
    os.close(terminal)
    try:
        screen = read_all(controller).decode("utf-8", "replace")
        assert process.wait(timeout=300) == 0, screen
    finally:
        os.close(controller)
    loading = screen.index("trainscope: loading JAX...")
    architecture = screen.index("Model Architecture:")
    assert loading < architecture
    assert screen[:architecture].endswith(ERASE)  # erased before the run prints
    assert "setting up MLP on cpu..." in screen[loading:architecture]


@pytest.mark.slow
def test_in_a_pipe_no_status_line_is_written() -> None:
    env = {**os.environ, "TRAINSCOPE_PLATFORM": "cpu"}
    done = subprocess.run(COMMAND, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "loading JAX" not in done.stdout + done.stderr
    assert "\x1b[2K" not in done.stdout + done.stderr
