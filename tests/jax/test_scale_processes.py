"""Two processes on 127.0.0.1 (``jax.distributed``), two forced CPU devices each: one run.

``trainscope train`` in each process: one architecture printout, one set of bars, one
summary and one log, on process 0, with the single-process run's results. A process that
fails, is interrupted or is killed ends the other within a bounded time.
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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

jax = pytest.importorskip("jax")

from trainscope_jax import ModelTrainer, TrainerConfig, create_model, load_digits  # noqa: E402

TRAINSCOPE = str(Path(sys.executable).parent / "trainscope")
SCALE_PAGE = Path(__file__).resolve().parents[2] / "docs" / "jax" / "scale.md"
BOUND = 60
"""Seconds within which every process must have exited once one of them failed."""

WORKER = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np
    from trainscope_jax import ArrayDataset, ModelTrainer, TrainerConfig, create_model, initialize_distributed
    from trainscope_jax import load_digits

    mode, coordinator, process = sys.argv[1], sys.argv[2], int(sys.argv[3])
    initialize_distributed(coordinator, 2, process, heartbeat_timeout=5, shutdown_timeout=10)

    class Failing(ArrayDataset):
        calls = 0

        def get_batch(self, indices):
            Failing.calls += 1
            if process == 1 and Failing.calls == 30:
                if mode == "kill":
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
    command: Sequence[str], logs: Path, devices: tuple[int, int] = (2, 2)
) -> Iterator[list[subprocess.Popen[str]]]:
    """``command`` with ``PROCESS`` replaced by 0 and 1, ``COORDINATOR`` by a free local port
    and ``DEVICES`` by each process's ``devices``."""
    coordinator = f"127.0.0.1:{free_port()}"
    env = environment(logs)

    def args(index: int) -> list[str]:
        values = {"COORDINATOR": coordinator, "PROCESS": str(index), "DEVICES": str(devices[index])}
        return [values.get(arg, arg) for arg in command]

    processes = [
        subprocess.Popen(
            args(index),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
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
        "2",
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
    tmp_path: Path, stopped: int, sent: signal.Signals
) -> None:
    logs = tmp_path / "logs"
    with two_processes(train_command(200, "--model", "mlp"), logs) as processes:
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
    assert codes[stopped] == 128 + sent
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
    assert [process.returncode for process in processes] == [1, 1]
    assert "OSError: image 7 is corrupt" in outputs[1][1]
    assert took < 240


def test_a_killed_process_ends_the_other_within_the_heartbeat_timeout(tmp_path: Path) -> None:
    import inspect

    if "heartbeat_timeout_seconds" not in inspect.signature(jax.distributed.initialize).parameters:
        pytest.skip(
            f"jax {jax.__version__} fixes JAX's heartbeat timeout at 100 s: a killed process "
            "ends the others after that (see docs/jax/scale.md)"
        )
    logs = tmp_path / "logs"
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    with two_processes([sys.executable, str(script), "kill", "COORDINATOR", "PROCESS"], logs) as processes:
        log = wait_for_steps(logs, 5, processes)
        processes[1].wait(timeout=120)
        started = time.monotonic()
        finish(processes, timeout=BOUND)
        took = time.monotonic() - started
    assert processes[1].returncode == -signal.SIGKILL
    assert processes[0].returncode != 0  # JAX's runtime ends it (heartbeat timeout 5 s here)
    assert took < BOUND
    for event in events(log):  # a crash leaves only whole lines
        assert event["event"] != "run_end" or event["status"] == "failed"


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
