"""Helpers to run a child Python process on a pseudo-terminal or a pipe and read what it drew."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import textwrap
from collections.abc import Callable, Mapping

import pytest

_TIMEOUT = 120.0


def _child_env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRAINSCOPE_", "TQDM_"))}
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra or {})
    return env


def run_on_pty(code: str, *, cols: int = 200, rows: int = 50, env: Mapping[str, str] | None = None) -> str:
    """Run ``code`` with stdout and stderr on a pseudo-terminal of the given size; return what it wrote."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env=_child_env(env),
        close_fds=True,
    )
    os.close(slave)
    chunks: list[bytes] = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], _TIMEOUT)
            if not ready:
                raise TimeoutError("the child process wrote nothing for too long")
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every copy of the slave end is closed
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        proc.wait(timeout=_TIMEOUT)
    return b"".join(chunks).decode("utf-8")


def run_on_pipe(
    code: str, *, env: Mapping[str, str] | None = None, merge: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with stdout and stderr on pipes (``merge``: one pipe for both, stdout first)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge else subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=_child_env(env),
        timeout=_TIMEOUT,
        check=False,
    )


def render(raw: str) -> list[str]:
    """The screen a terminal shows after ``raw``: carriage returns overwrite, ``ESC[A`` moves up.

    Lines are not wrapped, so a line longer than the terminal shows as such.
    Any other escape sequence fails the test.
    """
    screen: list[list[str]] = [[]]
    row = col = 0
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\x1b":
            assert raw.startswith("\x1b[A", i), f"unexpected escape sequence {raw[i : i + 8]!r}"
            row = max(0, row - 1)
            i += 3
            continue
        if ch == "\r":
            col = 0
        elif ch == "\n":
            row += 1
            while len(screen) <= row:
                screen.append([])
        else:
            line = screen[row]
            while len(line) < col:
                line.append(" ")
            if col < len(line):
                line[col] = ch
            else:
                line.append(ch)
            col += 1
        i += 1
    lines = ["".join(line).rstrip() for line in screen]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def training_script(
    *,
    epochs: int = 2,
    steps: int = 20,
    total: int | str | None = "steps",
    validation_steps: int = 5,
    plugins: tuple[str, ...] = ("tqdm",),
    fail_at: tuple[int, int] | None = None,
    error: str = "RuntimeError('boom')",
    refresh_interval: float = 0.1,
) -> str:
    """A child script that trains a fake model through ``TrainingSession``.

    Training step ``k`` of epoch ``e`` reports loss ``k / e``, accuracy ``k / steps``
    and ``f1_score=0.5``; validation step ``k`` reports loss ``k`` and accuracy
    ``k / (2 * validation_steps)``. ``total="steps"`` tells the session the real totals.
    """
    train_total = steps if total == "steps" else total
    validation_total = validation_steps if total == "steps" else total
    return f"""
import trainscope

session = trainscope.TrainingSession(
    "Net", {epochs}, {train_total!r}, {validation_total!r},
    plugins={list(plugins)!r}, refresh_interval={refresh_interval!r}, strict=True,
)
with session:
    for epoch in range(1, {epochs} + 1):
        session.start_epoch(epoch)
        for step in range(1, {steps} + 1):
            if (epoch, step) == {fail_at!r}:
                raise {error}
            session.update_training_progress(step, step / epoch, step / {steps}, f1_score=0.5)
        if {validation_steps}:
            session.start_validation()
            for step in range(1, {validation_steps} + 1):
                session.update_validation_progress(step, float(step), step / (2 * {validation_steps}))
            session.finish_validation_epoch()
        session.print_epoch_summary()
"""


# test modules cannot import this one (pytest's importlib mode): they get the helpers as fixtures


@pytest.fixture
def pty_run() -> Callable[..., str]:
    return run_on_pty


@pytest.fixture
def pipe_run() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_on_pipe


@pytest.fixture
def screen() -> Callable[[str], list[str]]:
    return render


@pytest.fixture
def script() -> Callable[..., str]:
    return training_script
