"""``trainscope watch`` following a run that another process is writing, on a pseudo-terminal and
in a pipe: what it draws in the end is what the run drew.

The writer is a real ``TrainingSession`` (the jsonl, tqdm, summary and arch reporters) in a
child process, timed by a clock it moves itself (so every figure is exact) and paced for real
(so the watch has something to follow). It stops at gates the test opens, so that each test
knows where the run is without relying on how fast this machine is.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pyte
import pytest

pytestmark = pytest.mark.slow  # writer and watch processes

DEADLINE = 120.0
COLUMNS, ROWS = 220, 200

WRITER = r"""
import json, sys, time
from pathlib import Path
import trainscope
from trainscope import LayerSpec, ModelSpec

opts = json.loads(sys.argv[1])
gates = Path(opts["gates"])


class Clock:
    now = 1000.0

    def __call__(self):
        return self.now


def gate(name, session=None):  # wait until the test opens the gate: the run stands still
    if name not in opts["gates_at"]:
        return
    if session is not None:
        session.flush()
    (gates / f"waiting-{name}").touch()
    while not (gates / name).exists():
        time.sleep(0.01)


def crawling(name):  # from the gate on, until the test opens it: one step every 0.05 s
    if name in opts.get("crawl_from", ()):
        (gates / f"waiting-{name}").touch()
        opts["crawling"] = name
    crawl = opts.get("crawling")
    if crawl and not (gates / crawl).exists():
        time.sleep(0.05)
        return True
    return False


def loss(epoch, step):
    if "loss_until" in opts:  # 2.0 up to that step, 1.0 after
        return 2.0 if step <= opts["loss_until"] else 1.0
    return 1.0 / (step + steps * (epoch - 1))


clock = Clock()
layer = LayerSpec("fc", "Linear", "in_features=4, out_features=2", 10, output_shape=(2,))
model = ModelSpec("Tiny", (4,), [layer])
epochs, steps, validation = opts["epochs"], opts["steps"], opts["validation"]
session = trainscope.TrainingSession(
    opts.get("name", "TinyNet"), epochs, steps, validation, model=model, clock=clock, strict=True,
    plugins=["jsonl", "tqdm", "summary", "arch"],
)
gate("start")
with session:
    session.start_training()
    for epoch in range(1, epochs + 1):
        session.start_epoch(epoch)
        for step in range(1, steps + 1):
            gate(f"{epoch}-{step}", session)
            clock.now += opts["step_seconds"]
            if crawling(f"{epoch}-{step}"):
                session.flush()
            elif epoch >= opts["paced_from"]:
                time.sleep(opts["pause"])
            if [epoch, step] == opts.get("fail_at"):
                raise ValueError("bad batch")
            session.update_training_progress(step, loss(epoch, step), 0.5 + step / (4 * steps))
        session.start_validation()
        for step in range(1, validation + 1):
            clock.now += opts["step_seconds"] / 2
            session.update_validation_progress(step, 0.5 + step / 100, 0.75)
        session.print_epoch_summary()
"""


def child_env(log_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRAINSCOPE_", "TQDM_"))}
    env.update(PYTHONIOENCODING="utf-8", TRAINSCOPE_LOG_DIR=str(log_dir))
    return env


class Child:
    """A child process on a pseudo-terminal (``pty``) or a pipe, its output read as it comes."""

    def __init__(self, args: list[str], env: dict[str, str], *, on_pty: bool) -> None:
        if on_pty:
            master, slave = pty.openpty()
            import fcntl
            import struct
            import termios

            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
            self.process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env
            )
            os.close(slave)
            self.fd = master
        else:
            self.process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
            )
            assert self.process.stdout is not None
            self.fd = self.process.stdout.fileno()
        self.chunks: list[bytes] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            ready, _, _ = select.select([self.fd], [], [], 1.0)
            if not ready:
                if self.process.poll() is not None:
                    return
                continue
            try:
                data = os.read(self.fd, 1 << 16)
            except OSError:  # EIO: the pseudo-terminal's last writer is gone
                return
            if not data:
                return
            self.chunks.append(data)

    @property
    def output(self) -> str:
        return b"".join(self.chunks).decode("utf-8", "replace")

    def wait_for(self, text: str) -> None:
        deadline = time.monotonic() + DEADLINE
        while text not in self.output:
            assert self.reader.is_alive(), f"ended before {text!r}:\n{self.output}"
            assert time.monotonic() < deadline, f"no {text!r} within {DEADLINE} s:\n{self.output}"
            time.sleep(0.02)

    def finish(self) -> tuple[int, str]:
        code = self.process.wait(timeout=DEADLINE)
        self.reader.join(timeout=DEADLINE)
        return code, self.output


def writer(tmp_path: Path, *, on_pty: bool, **options: Any) -> Child:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    gates = tmp_path / "gates"
    gates.mkdir(exist_ok=True)
    opts = {
        "gates": str(gates),
        "gates_at": [],
        "epochs": 3,
        "steps": 12,
        "validation": 4,
        "step_seconds": 0.3,
        "pause": 0.02,
        "paced_from": 1,
        **options,
    }
    return Child([sys.executable, str(script), json.dumps(opts)], child_env(tmp_path / "logs"), on_pty=on_pty)


def watcher(tmp_path: Path, *, on_pty: bool, target: Path | None = None) -> Child:
    args = [sys.executable, "-m", "trainscope", "watch", str(target or tmp_path / "logs")]
    return Child(args, child_env(tmp_path / "logs"), on_pty=on_pty)


def open_gate(tmp_path: Path, name: str) -> None:
    (tmp_path / "gates" / name).touch()


def wait_for_gate(tmp_path: Path, name: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not (tmp_path / "gates" / f"waiting-{name}").exists():
        assert time.monotonic() < deadline, f"the writer never reached the gate {name}"
        time.sleep(0.02)


def screen(raw: str) -> list[str]:
    """What a terminal shows after ``raw`` (lines with their trailing blanks cut, blank end cut)."""
    terminal = pyte.Screen(COLUMNS, ROWS)
    pyte.Stream(terminal).feed(raw)
    lines = [line.rstrip() for line in terminal.display]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def drawn_by_the_run(lines: list[str]) -> list[str]:
    """A watch's lines less its own: where it waited and what it watches first, the run's end last."""
    while lines and lines[0].startswith(("Waiting for a run log", "Watching ")):
        lines = lines[1:]
    assert lines, "nothing drawn"
    assert lines[-1].startswith("Run "), lines[-5:]
    return lines[:-1]


def test_a_run_watched_from_before_it_starts_ends_on_the_runs_own_screen(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    run = writer(tmp_path, on_pty=True, gates_at=["start", "2-7"])
    watch = watcher(tmp_path, on_pty=True)
    watch.wait_for("Waiting for a run log in")
    open_gate(tmp_path, "start")
    wait_for_gate(tmp_path, "2-7")
    watch.wait_for("| 6/12 [")  # it draws the run as it goes, the writer stopped at step 6 of epoch 2
    open_gate(tmp_path, "2-7")
    (watch_code, watched), (run_code, ran) = watch.finish(), run.finish()
    assert (watch_code, run_code) == (0, 0), watched
    run_screen = screen(ran)
    assert run_screen[:2] == ["Model Architecture:", "TinyNet("]  # the architecture first
    assert "Epoch 3/3 Summary:" in run_screen
    assert drawn_by_the_run(screen(watched)) == run_screen
    assert screen(watched)[-1].endswith("): completed after 12.60 s")


def test_a_watch_started_in_the_middle_of_a_long_run_ends_on_its_screen(tmp_path: Path) -> None:
    # two quick epochs of 1500 steps (over 256 kB of log: read from its events), then a slow one
    options = {"steps": 1500, "step_seconds": 0.03, "pause": 0.001, "paced_from": 3}
    run = writer(tmp_path, on_pty=True, gates_at=["3-1", "3-801"], **options)
    wait_for_gate(tmp_path, "3-1")
    watch = watcher(tmp_path, on_pty=True)
    watch.wait_for("Epoch 2/3 Summary:")
    open_gate(tmp_path, "3-1")
    wait_for_gate(tmp_path, "3-801")
    watch.wait_for("| 800/1500 [")
    open_gate(tmp_path, "3-801")
    (watch_code, watched), (run_code, ran) = watch.finish(), run.finish()
    assert (watch_code, run_code) == (0, 0), watched
    run_screen = screen(ran)
    assert len([line for line in run_screen if "| 1500/1500 [" in line]) == 3
    assert drawn_by_the_run(screen(watched)) == run_screen


def test_in_a_pipe_it_prints_the_lines_the_run_prints(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    # 300 steps of 0.03 s: the bars write a line every 5 s of the run, and at each phase's end
    run = writer(tmp_path, on_pty=False, gates_at=["start"], steps=300, step_seconds=0.03, pause=0.002)
    watch = watcher(tmp_path, on_pty=False)
    watch.wait_for("Waiting for a run log in")
    open_gate(tmp_path, "start")
    (watch_code, watched), (run_code, ran) = watch.finish(), run.finish()
    assert (watch_code, run_code) == (0, 0), watched
    lines = ran.splitlines()
    assert "\r" not in ran
    assert len([line for line in lines if "(Training):" in line]) == 6  # 5 s and the end, 3 times
    assert drawn_by_the_run(watched.splitlines()) == lines


def test_a_failed_run_ends_the_watch_with_status_3_and_its_error(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    run = writer(tmp_path, on_pty=False, gates_at=["start"], fail_at=[2, 5])
    watch = watcher(tmp_path, on_pty=False)
    watch.wait_for("Waiting for a run log in")
    open_gate(tmp_path, "start")
    (watch_code, watched), (run_code, _) = watch.finish(), run.finish()
    assert run_code == 1
    assert watch_code == 3, watched
    last = watched.splitlines()[-1]
    assert last.startswith("Run TinyNet (")
    assert last.endswith("): failed after 5.70 s (ValueError: bad batch)")
    assert "Training failed after 1/3 epochs." in watched


def test_an_open_phase_started_long_before_shows_its_whole_means_once_read_back(tmp_path: Path) -> None:
    # 37,000 steps of an epoch (7 MB) before the watch starts: the last 256 kB are drawn at once,
    # the rest read back while it follows; loss 2.0 up to step 34,000, then 1.0
    options = {"epochs": 1, "steps": 40_000, "step_seconds": 0.01, "loss_until": 34_000, "paced_from": 2}
    run = writer(tmp_path, on_pty=False, crawl_from=["1-37001"], **options)
    wait_for_gate(tmp_path, "1-37001")  # the run crawls on from there until the test opens it
    watch = watcher(tmp_path, on_pty=True)

    def states() -> list[tuple[int, str]]:
        return [
            (int(n), loss) for n, loss in re.findall(r"\| (\d+)/40000 \[[^]]*?loss=([\d.]+),", watch.output)
        ]

    deadline = time.monotonic() + DEADLINE
    while not any(n >= 37_000 for n, _ in states()):
        assert time.monotonic() < deadline, watch.output[-2000:]
        time.sleep(0.05)
    assert next(loss for n, loss in states() if n >= 37_000) == "1"  # the first screen: the tail's means
    while not any(n < 40_000 and loss.startswith("1.9") for n, loss in states()):  # the whole epoch's
        assert time.monotonic() < deadline, watch.output[-2000:]
        time.sleep(0.05)
    open_gate(tmp_path, "1-37001")
    (watch_code, watched), (run_code, _) = watch.finish(), run.finish()
    assert (watch_code, run_code) == (0, 0), watched[-2000:]
    assert "Epoch 1/1 Summary:" in screen(watched)


def complete_log(tmp_path: Path, name: str) -> bytes:
    """The log of a whole run of three epochs named ``name``, as its writer left it."""
    folder = tmp_path / name
    folder.mkdir()
    run = writer(folder, on_pty=False, name=name, pause=0.0)
    assert run.finish()[0] == 0
    (log,) = (folder / "logs").glob("*.jsonl")
    return log.read_bytes()


def up_to_the_first_epoch(log: bytes) -> bytes:
    end = log.index(b'{"event":"epoch_end"')
    return log[: log.index(b"\n", end) + 1]


@pytest.fixture
def followed(tmp_path: Path) -> tuple[Path, bytes, bytes, Child]:
    """A watch following a log that holds the first epoch of run First; that log, and run Second's."""
    first, second = complete_log(tmp_path, "First"), complete_log(tmp_path, "Second")
    target = tmp_path / "watched" / "run.jsonl"
    target.parent.mkdir()
    target.write_bytes(up_to_the_first_epoch(first))
    watch = watcher(tmp_path, on_pty=False, target=target)
    watch.wait_for("Epoch 1/3 Summary:")
    return target, first, second, watch


def test_a_log_replaced_by_another_starts_the_watch_over(
    followed: tuple[Path, bytes, bytes, Child], tmp_path: Path
) -> None:
    target, _, second, watch = followed
    replacement = tmp_path / "replacement.jsonl"
    replacement.write_bytes(second)
    os.replace(replacement, target)
    code, watched = watch.finish()
    assert code == 0, watched
    assert f"trainscope watch: {str(target)!r} is now another file: starting over" in watched
    lines = watched.splitlines()
    assert lines[-1].startswith("Run Second (")
    assert lines[-1].endswith("): completed after 12.60 s")
    assert watched.count("Epoch 1/3 Summary:") == 2  # First's, then Second's from its start


def test_a_log_truncated_and_written_again_starts_the_watch_over(
    followed: tuple[Path, bytes, bytes, Child],
) -> None:
    target, _, second, watch = followed
    with target.open("r+b") as file:
        file.truncate(0)
    watch.wait_for("was truncated (to 0 bytes, ")
    with target.open("ab") as file:
        file.write(second)
    code, watched = watch.finish()
    assert code == 0, watched
    assert "starting over" in watched
    assert watched.splitlines()[-1].startswith("Run Second (")


def test_a_log_put_back_by_its_writer_is_followed_on(
    followed: tuple[Path, bytes, bytes, Child], tmp_path: Path
) -> None:
    target, first, _, watch = followed
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(target.read_bytes())
    os.replace(copy, target)  # what the writer does when the log's folder was removed
    watch.wait_for("a copy of the log: following it")
    with target.open("ab") as file:
        file.write(first[len(up_to_the_first_epoch(first)) :])
    code, watched = watch.finish()
    assert code == 0, watched
    assert "starting over" not in watched
    assert watched.count("Epoch 1/3 Summary:") == 1
    assert watched.splitlines()[-1].startswith("Run First (")


def test_the_start_benchmark_runs() -> None:
    benchmark = Path(__file__).resolve().parents[2] / "benchmarks" / "watch_start.py"
    args = ["--gigabytes", "0.002", "--steps", "2000", "--rate", "2000"]
    command = [sys.executable, str(benchmark), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert re.search(r"^first full screen: [\d.]+ s after starting trainscope watch$", out, re.M), out
    assert re.search(r"^peak resident memory: \d+ MiB; exit status 0$", out, re.M), out
