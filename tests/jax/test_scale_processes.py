"""Two processes on 127.0.0.1 (``jax.distributed``), two forced CPU devices each: one run.

``trainscope train`` in each process: one architecture printout, one set of bars, one
summary and one log, on process 0, with the single-process run's results. A process that
fails, is interrupted or is killed ends the other within a bounded time; set-up faults
(a port in use, two processes with one id, different counts) end both with one line.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

jax = pytest.importorskip("jax")

from trainscope_jax import ModelTrainer, TrainerConfig, create_model, load_digits  # noqa: E402

pytestmark = pytest.mark.slow  # several processes on 127.0.0.1

TRAINSCOPE = str(Path(sys.executable).parent / "trainscope")
SCALE_PAGE = Path(__file__).resolve().parents[2] / "docs" / "jax" / "scale.md"
BOUND = 60
"""Seconds within which every process must have exited once one of them failed."""
NATIVE_CRASH = ("Aborted", "Check failure", "*** ", "terminate called", "Segmentation fault", "Fatal Python")
"""What a C++ abort or a crash prints: never on a fault trainscope handles."""

WORKER = textwrap.dedent(
    """
    import os, signal, sys, time
    import numpy as np
    from trainscope_jax import ArrayDataset, ModelTrainer, TrainerConfig, create_model, initialize_distributed
    from trainscope_jax import load_digits

    mode, coordinator, process = sys.argv[1], sys.argv[2], int(sys.argv[3])
    initialize_distributed(coordinator, 2, process, shutdown_timeout=10)

    class Failing(ArrayDataset):
        calls = 0

        def get_batch(self, indices):
            Failing.calls += 1
            if process == 1 and Failing.calls == 30:
                if mode == "kill":
                    time.sleep(1)  # the steps already dispatched finish: no collective in flight
                    os.kill(os.getpid(), signal.SIGKILL)
                raise OSError("image 7 is corrupt")
            return super().get_batch(indices)

    train, validation = load_digits()
    data = Failing(train.images, train.labels, num_classes=10)
    trainer = ModelTrainer(create_model("mlp", (1, 8, 8), 10), TrainerConfig(batch_size=32))
    trainer.fit(data, validation, 20, plugins=["jsonl"])
    """
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(logs: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        "JAX_PLATFORMS": "cpu",
        "TRAINSCOPE_LOG_DIR": str(logs),
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("TRAINSCOPE_PLUGINS", "TRAINSCOPE_DISABLE_PLUGINS"):
        env.pop(name, None)
    env["TRAINSCOPE_PLUGINS"] = "jax,arch,tqdm,summary,jsonl"
    return env


@contextmanager
def two_processes(
    command: Sequence[str],
    logs: Path,
    devices: tuple[int, int] = (2, 2),
    ids: tuple[int, int] = (0, 1),
    counts: tuple[int, int] = (2, 2),
    coordinator: str | None = None,
    preexec: Callable[[], None] | None = None,
) -> Iterator[list[subprocess.Popen[str]]]:
    """``command`` with ``PROCESS`` replaced by each process's id in ``ids``, ``COUNT`` by its
    number of processes, ``COORDINATOR`` by a free local port and ``DEVICES`` by its ``devices``."""
    coordinator = coordinator or f"127.0.0.1:{free_port()}"
    env = environment(logs)

    def args(index: int) -> list[str]:
        values = {
            "COORDINATOR": coordinator,
            "PROCESS": str(ids[index]),
            "COUNT": str(counts[index]),
            "DEVICES": str(devices[index]),
        }
        return [values.get(arg, arg) for arg in command]

    processes = [
        subprocess.Popen(
            args(index),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=preexec,
        )
        for index in (0, 1)
    ]
    try:
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()


def train_command(epochs: int, *extra: str) -> list[str]:
    return [
        TRAINSCOPE,
        "train",
        "--epochs",
        str(epochs),
        "--devices",
        "DEVICES",
        "--coordinator",
        "COORDINATOR",
        "--num-processes",
        "COUNT",
        "--process-id",
        "PROCESS",
        *extra,
    ]


def events(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def wait_for_steps(logs: Path, steps: int, processes: list[subprocess.Popen[str]]) -> Path:
    """The run log once it holds ``steps`` steps (fails if a process ended first)."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        found = list(logs.glob("*.jsonl"))
        if found and found[0].read_text().count('"event":"step"') >= steps:
            return found[0]
        ended = [process.returncode for process in processes if process.poll() is not None]
        assert not ended, [process.communicate() for process in processes]
        time.sleep(0.1)
    raise AssertionError("the run log did not reach {steps} steps")


def finish(processes: list[subprocess.Popen[str]], timeout: float) -> list[tuple[str, str]]:
    return [process.communicate(timeout=timeout) for process in processes]


def test_two_processes_train_one_run_reported_once(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    with two_processes(train_command(2), logs) as processes:
        outputs = finish(processes, timeout=300)
    for process, (_, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]
    (out0, err0), (out1, err1) = outputs
    both = out0 + out1
    assert both.count("Model Architecture:") == 1
    assert both.count("Epoch 2/2 Summary:") == 1
    assert both.count("Trained DigitsCNN on 4 x cpu in 2 processes for 2 epochs") == 1
    for phase in ("Epoch 1/2 (Training)", "Epoch 1/2 (Validation)", "Epoch 2/2 (Training)"):
        assert phase in err0
        assert phase not in err1
    (log,) = logs.glob("*.jsonl")  # one log
    run = events(log)
    start, end = run[0], run[-1]
    assert start["environment"]["process_count"] == 2
    assert start["environment"]["device_count"] == 4
    assert len(start["environment"]["devices"]) == 4
    assert end["status"] == "completed"
    last = [event for event in run if event["event"] == "epoch_end"][-1]

    # the same global batch and seed in one process: the same validation accuracy
    train, validation = load_digits()
    model = create_model("digits-cnn", train.input_shape, train.num_classes)
    with ModelTrainer(model, TrainerConfig(platform="cpu", batch_size=32)) as trainer:
        single = trainer.fit(train, validation, 2, plugins=[]).last
    assert last["validation"]["accuracy"] == pytest.approx(single.validation_accuracy, abs=1 / 360 + 1e-9)
    assert last["validation"]["loss"] == pytest.approx(single.validation_loss, rel=1e-3)


@pytest.mark.parametrize(("stopped", "sent"), [(1, signal.SIGINT), (0, signal.SIGTERM)])
def test_stopping_one_process_ends_both_and_the_log_says_interrupted(
    tmp_path: Path, stopped: int, sent: signal.Signals, signal_defaults: Callable[[], None]
) -> None:
    logs = tmp_path / "logs"
    with two_processes(train_command(200, "--model", "mlp"), logs, preexec=signal_defaults) as processes:
        log = wait_for_steps(logs, 20, processes)
        started = time.monotonic()
        processes[stopped].send_signal(sent)
        outputs = finish(processes, timeout=BOUND)
        took = time.monotonic() - started
    end = events(log)[-1]
    assert end["event"] == "run_end", [error[-3000:] for _, error in outputs]
    assert end["status"] == "interrupted"
    if stopped == 1:
        assert end["error"] == "PeerFailure: process 1 of 2 was interrupted: KeyboardInterrupt"
        assert "process 1 of 2 was interrupted" in outputs[0][1]
    else:
        assert end["error"] == "Terminated: terminated by SIGTERM"
        assert "process 0 of 2 was interrupted: Terminated" in outputs[1][1]
    codes = [process.returncode for process in processes]
    assert codes[stopped] == 128 + sent, [error[-3000:] for _, error in outputs]
    assert codes[1 - stopped] == 130
    assert took < BOUND


def test_a_bad_option_in_one_process_ends_the_other(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    with two_processes(train_command(5, "--model", "mlp"), logs, devices=(2, 3)) as processes:
        outputs = finish(processes, timeout=BOUND)
    assert [process.returncode for process in processes] == [1, 2]
    assert "Invalid value for --devices: 3 devices were requested" in outputs[1][1]
    (log,) = logs.glob("*.jsonl")
    end = events(log)[-1]
    assert (end["event"], end["status"]) == ("run_end", "failed")
    assert end["error"].startswith("PeerFailure: process 1 of 2 failed: BadParameter: 3 devices were")


def test_a_failure_in_process_1_ends_process_0_with_its_log_failed(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    with two_processes([sys.executable, str(script), "fail", "COORDINATOR", "PROCESS"], logs) as processes:
        started = time.monotonic()
        outputs = finish(processes, timeout=240)
        took = time.monotonic() - started
    (log,) = logs.glob("*.jsonl")
    end = events(log)[-1]
    assert (end["event"], end["status"]) == ("run_end", "failed")
    assert end["error"] == "PeerFailure: process 1 of 2 failed: OSError: image 7 is corrupt"
    assert [process.returncode for process in processes] == [1, 1], [error[-3000:] for _, error in outputs]
    assert "OSError: image 7 is corrupt" in outputs[1][1]
    assert took < 240


@pytest.mark.slow
def test_a_killed_process_ends_the_other_with_run_end_before_jax_aborts_it(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    with two_processes([sys.executable, str(script), "kill", "COORDINATOR", "PROCESS"], logs) as processes:
        log = wait_for_steps(logs, 5, processes)
        processes[1].wait(timeout=120)
        started = time.monotonic()
        outputs = finish(processes, timeout=120)
        took = time.monotonic() - started
    assert processes[1].returncode == -signal.SIGKILL
    stderr = outputs[0][1]
    assert processes[0].returncode == 1, stderr[-3000:]
    lost = "process 1 of 2 was lost: no heartbeat for 10 s (killed, or its host is down)"
    assert stderr.strip().splitlines()[-1] == f"trainscope: {lost}; this process stops too"
    assert not [crash for crash in NATIVE_CRASH if crash in stderr], stderr[-3000:]
    end = events(log)[-1]
    assert (end["event"], end["status"]) == ("run_end", "failed")
    # JAX 0.5's pending collective fails at once: the run ends with its error, then the process
    assert end["error"] == f"PeerFailure: {lost}" or "Gloo all-reduce failed" in end["error"]
    assert took < 120  # trainscope's peer timeout (10 s), not JAX's heartbeat timeout (60 s)


def one_line_failures(processes: list[subprocess.Popen[str]], outputs: list[tuple[str, str]]) -> list[str]:
    """Each process's one error line, once each exited with status 1 and printed nothing else."""
    lines = []
    for process, (_, stderr) in zip(processes, outputs):
        assert process.returncode == 1, stderr[-3000:]
        assert not [crash for crash in NATIVE_CRASH if crash in stderr], stderr[-3000:]
        (line,) = stderr.strip().splitlines()
        lines.append(line)
    return lines


@pytest.mark.slow
def test_two_processes_given_id_0_both_end_with_one_line(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    with two_processes(train_command(2, "--model", "mlp"), logs, ids=(0, 0)) as processes:
        outputs = finish(processes, timeout=120)
    message = (
        "Error: two processes were given the process id 0: give each of the 2 processes its own id, 0 to 1"
    )
    assert one_line_failures(processes, outputs) == [message, message]
    assert not list(logs.glob("*.jsonl"))


@pytest.mark.slow
def test_processes_given_different_counts_both_end_with_one_line(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    with two_processes(train_command(2, "--model", "mlp"), logs, counts=(2, 3)) as processes:
        outputs = finish(processes, timeout=120)
    message = (
        "Error: process 1 was started with 3 processes and process 0 with 2: give every process "
        "the same number of processes"
    )
    assert one_line_failures(processes, outputs) == [message, message]


@pytest.mark.slow
def test_a_coordinator_port_in_use_ends_both_with_one_line(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()  # accepts nothing, answers nothing
        coordinator = f"127.0.0.1:{holder.getsockname()[1]}"
        with two_processes(train_command(2, "--model", "mlp"), logs, coordinator=coordinator) as processes:
            outputs = finish(processes, timeout=120)
    first, second = one_line_failures(processes, outputs)
    assert first == (
        f"Error: the coordinator port {coordinator} is in use: choose a free port (and give the id 0 "
        "to one process only)"
    )
    assert second.startswith(f"Error: the coordinator {coordinator} did not answer as a trainscope process 0")


LISTENING = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from trainscope_jax import initialize_distributed

    initialize_distributed(sys.argv[1], 1, 0)
    port = int(sys.argv[1].rsplit(":", 1)[1])
    for table in ("tcp", "tcp6"):  # local address, state 0A: listening
        for row in Path("/proc/net", table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                print(table, local.rsplit(":", 1)[0])
    """
)


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's table of sockets")
def test_the_coordinator_listens_only_on_the_address_given(tmp_path: Path) -> None:
    script = tmp_path / "listen.py"
    script.write_text(LISTENING)
    env = environment(tmp_path / "logs")
    done = subprocess.run(
        [sys.executable, str(script), f"127.0.0.1:{free_port()}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    listening = done.stdout.splitlines()
    assert listening  # 127.0.0.1 in either table (IPv4-mapped in tcp6), never 0.0.0.0 or ::
    assert set(listening) <= {"tcp 0100007F", "tcp6 0000000000000000FFFF00000100007F"}, listening


def test_the_own_loop_recipe_of_the_scale_page_reports_once(tmp_path: Path) -> None:
    (recipe,) = re.findall(r"```python\n(.*?)```", SCALE_PAGE.read_text(encoding="utf-8"), re.DOTALL)
    script = tmp_path / "loop.py"
    script.write_text(recipe)
    logs = tmp_path / "logs"
    with two_processes([sys.executable, str(script), "COORDINATOR", "PROCESS"], logs) as processes:
        outputs = finish(processes, timeout=240)
    for process, (_, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]
    (out0, _), (out1, _) = outputs
    assert out0.count("Epoch 2/2 Summary:") == 1
    assert "Summary" not in out1
    (log,) = logs.glob("*.jsonl")
    run = events(log)
    assert run[-1]["status"] == "completed"
    losses = [event["metrics"]["loss"] for event in run if event["event"] == "step"]
    assert len(losses) == 2 * (1437 // 64)
    assert losses[-1] < losses[0] / 2
