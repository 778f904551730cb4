"""Two processes on 127.0.0.1, one of which reads its batches slowly: process 0's summary names
it as the straggler (each process's own time per step reaches process 0 through JAX's
key-value store), and a run whose processes keep pace names none."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("jax")

from .test_scale_processes import finish, two_processes

pytestmark = pytest.mark.slow  # several processes on 127.0.0.1

WORKER = textwrap.dedent(
    """
    import sys, time
    from trainscope_jax import ArrayDataset, ModelTrainer, TrainerConfig, create_model, initialize_distributed
    from trainscope_jax import load_digits

    coordinator, process = sys.argv[1], int(sys.argv[2])
    slow = float(sys.argv[3 + process])  # each process's time to read a batch
    initialize_distributed(coordinator, 2, process, shutdown_timeout=10)

    class SlowOnOne(ArrayDataset):
        def get_batch(self, indices):
            time.sleep(slow)
            return super().get_batch(indices)

    train, validation = load_digits()
    data = SlowOnOne(train.images, train.labels, num_classes=10)
    trainer = ModelTrainer(create_model("mlp", (1, 8, 8), 10), TrainerConfig(batch_size=32))
    trainer.fit(data, validation, 3, plugins=["summary"])
    """
)


def run_two(tmp_path: Path, reads: tuple[float, float]) -> tuple[str, str]:
    """Train 3 epochs in two processes whose batches take ``reads`` seconds each to read."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    command = [sys.executable, str(script), "COORDINATOR", "PROCESS", *map(str, reads)]
    with two_processes(command, tmp_path / "logs", devices=(1, 1)) as processes:
        outputs = finish(processes, timeout=300)
    for process, (_, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]
    (out0, _), (out1, _) = outputs
    assert "Summary:" not in out1  # process 0 reports the run
    return out0, out1


def test_a_process_reading_slowly_is_named_the_straggler(tmp_path: Path) -> None:
    out0, _ = run_two(tmp_path, (0.0, 0.05))  # process 1 reads from a slow disk
    stragglers = [line for line in out0.splitlines() if "straggler" in line]
    assert stragglers, out0
    assert stragglers[-1].startswith("  Health     - straggler: process 1 takes ")
    assert stragglers[-1].endswith(": the others wait for it")


def test_processes_that_keep_pace_have_no_straggler(tmp_path: Path) -> None:
    out0, _ = run_two(tmp_path, (0.05, 0.05))  # both slow alike: epochs long enough to compare
    assert "Epoch 3/3 Summary:" in out0
    assert "straggler" not in out0
