"""Two processes on 127.0.0.1 (jax.distributed), two CPU devices each, one run: reported once."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # several processes on 127.0.0.1

pytest.importorskip("jax")

WORKER = textwrap.dedent(
    """
    import os, sys
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=sys.argv[2], num_processes=2, process_id=int(sys.argv[1]),
        initialization_timeout=60,
    )
    import jax.numpy as jnp
    import numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    import trainscope

    mesh = Mesh(np.array(jax.devices()), ("data",))
    batch = NamedSharding(mesh, PartitionSpec("data"))
    replicated = NamedSharding(mesh, PartitionSpec())
    mean = jax.jit(jnp.mean, out_shardings=replicated)
    with trainscope.TrainingSession("Dist", 1, 3, plugins=["jsonl", "summary"]) as session:
        session.start_epoch(1)
        for step in range(1, 4):
            # this process's half of a global batch of 8: process 0 holds 0..3, process 1 holds 4..7
            local = np.arange(4, dtype=np.float32) + 4 * jax.process_index() + step
            loss = mean(jax.make_array_from_process_local_data(batch, local))
            session.update_training_progress(step, loss)
    print("process", session.run.process_index, "of", session.run.process_count, flush=True)
    """
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_two_processes_report_once_with_global_metrics(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        "JAX_PLATFORMS": "cpu",
        "TRAINSCOPE_LOG_DIR": str(tmp_path / "logs"),
    }
    env.pop("TRAINSCOPE_PLUGINS", None)
    coordinator = f"127.0.0.1:{free_port()}"
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), str(index), coordinator],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in (0, 1)
    ]
    outputs = []
    try:
        for worker in workers:
            outputs.append(worker.communicate(timeout=180))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    for worker, (_, stderr) in zip(workers, outputs):
        assert worker.returncode == 0, stderr
    (out0, _), (out1, _) = outputs
    assert "process 0 of 2" in out0
    assert "process 1 of 2" in out1
    assert "Epoch 1/1 Summary:" in out0  # the summary prints on process 0 only
    assert "Summary" not in out1
    (log,) = (tmp_path / "logs").iterdir()  # one log
    events = [json.loads(line) for line in log.read_text().splitlines()]
    losses = [event["metrics"]["loss"] for event in events if event["event"] == "step"]
    assert losses == [3.5 + step for step in (1, 2, 3)]  # the mean over both processes' examples
    assert events[-1]["status"] == "completed"
