"""How fast ``trainscope watch`` starts in the middle of a run whose log is about 1 GB, and how
much memory it takes.

Runs a real ``TrainingSession`` with the ``jsonl`` reporter in this process until its log in a
temporary folder (``/tmp``, removed at the end) holds ``--gigabytes`` (1 by default), in
epochs of ``--steps`` training steps; then, half-way through the last epoch, starts
``trainscope watch`` on a pseudo-terminal while the run goes on at ``--rate`` steps/s, and
measures:

- the time from starting the command to its first full screen: every finished epoch's bars
  and summary, and the open epoch's bar at a step at least the one it was started at;
- the time until that bar's running means are the whole epoch's (the steps before the last
  256 KB of the log are read back after the first screen): the run's loss is 2.0 before
  the watch starts, except in the last 10,000 steps, and 1.0 after, so the bar shows
  ``loss=1`` until it has read back the epoch, then more (about ``loss=1.98`` for a 1 GB log);
- the command's peak resident memory (``ru_maxrss`` of the child), once the run has ended
  and the command exited;
- for comparison, the start-up of the command line alone (``trainscope watch --help``).

    python benchmarks/watch_start.py [--gigabytes 1] [--steps 1000000] [--rate 20000]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

import trainscope
from trainscope import environment_variables as env_vars

STEP_BYTES = 182
"""About the size of one step line of this run."""
HEAD_START = 10_000
"""The steps before the watch starts that have the watch's loss (1.0), not the epoch's (2.0)."""


def trainscope_command() -> str:
    return str(Path(sys.executable).with_name("trainscope"))


def startup_seconds() -> float:
    """The command line's own start-up: ``trainscope watch --help``, best of three."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([trainscope_command(), "watch", "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return min(times)


class Watcher:
    """``trainscope watch LOG`` on a pseudo-terminal, its output read as it comes."""

    def __init__(self, log: Path) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINSCOPE_")}
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [trainscope_command(), "watch", str(log)], stdin=slave, stdout=slave, stderr=slave, env=env
        )
        os.close(slave)
        self.master = master
        self.output = ""

    def read(self) -> None:
        while select.select([self.master], [], [], 0)[0]:
            try:
                data = os.read(self.master, 1 << 16)
            except OSError:
                return
            if not data:
                return
            self.output += data.decode("utf-8", "replace")

    def finish(self) -> tuple[int, int]:
        """The exit status and the peak resident memory in KiB, once the command ended."""
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            self.read()
            pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
            if pid:
                os.close(self.master)
                self.process.returncode = os.waitstatus_to_exitcode(status)
                return self.process.returncode, usage.ru_maxrss
            time.sleep(0.05)
        self.process.kill()
        raise TimeoutError("trainscope watch did not end after the run did")


def seconds(value: float | None) -> str:
    return "not seen" if value is None else f"{value:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=1.0)
    parser.add_argument("--steps", type=int, default=1_000_000, help="training steps per epoch")
    parser.add_argument("--rate", type=int, default=20_000, help="steps per second while watched")
    args = parser.parse_args()
    steps, validation = args.steps, max(1, args.steps // 20)
    total = int(args.gigabytes * 1e9 / STEP_BYTES)
    epochs = max(2, -(-total // (steps + validation)) + 1)
    folder = Path(tempfile.mkdtemp(prefix="trainscope-watch-bench-", dir="/tmp"))
    os.environ[env_vars.TRAINSCOPE_LOG_DIR] = str(folder)
    try:
        print(f"command line start-up: {startup_seconds():.2f} s")
        session = trainscope.TrainingSession("Big", epochs, steps, validation, plugins=["jsonl"])
        with session:
            update = session.update_training_progress
            for epoch in range(1, epochs):
                session.start_epoch(epoch)
                for step in range(1, steps + 1):
                    update(step, 2.0, 0.5)
                session.start_validation()
                for step in range(1, validation + 1):
                    session.update_validation_progress(step, 1.5, 0.75)
            session.start_epoch(epochs)
            middle = steps // 2
            head_start = min(HEAD_START, middle // 2)
            for step in range(1, middle + 1):
                update(step, 1.0 if step > middle - head_start else 2.0, 0.5)
            session.flush()
            (log,) = folder.iterdir()
            print(f"log: {log.stat().st_size / 1e9:.2f} GB, {epochs - 1} epochs and {middle} steps")
            watcher = Watcher(log)
            bar = rf"Epoch {epochs}/{epochs} \(Training\):[^\r\n]*? (\d+)/{steps} [^\r\n]*?loss=([\d.]+)"
            first_screen = exact = None
            done, deadline = middle, time.monotonic() + 300
            while exact is None and time.monotonic() < deadline:
                tick = time.perf_counter()
                last = min(steps - 1, done + args.rate // 10)  # the epoch's last step ends it
                for step in range(done + 1, last + 1):
                    update(step, 1.0, 0.5)
                if done == last:  # no step left to draw with: wait a little more, then end
                    deadline = min(deadline, time.monotonic() + 30)
                done = last
                session.flush()
                watcher.read()
                drawn = [(int(n), float(loss)) for n, loss in re.findall(bar, watcher.output)]
                if first_screen is None and drawn and drawn[-1][0] >= middle:
                    first_screen = time.perf_counter() - watcher.started
                if first_screen is not None and drawn and drawn[-1][1] > 1.05:
                    exact = time.perf_counter() - watcher.started
                time.sleep(max(0.0, 0.1 - (time.perf_counter() - tick)))
            update(steps, 1.0, 0.5)
        code, peak_kib = watcher.finish()
        print(f"first full screen: {seconds(first_screen)} after starting trainscope watch")
        print(f"the open epoch's whole means shown: {seconds(exact)} after starting it")
        print(f"peak resident memory: {peak_kib / 1024:.0f} MiB; exit status {code}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
