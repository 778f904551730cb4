"""Data-parallel overhead: ``fit`` steps/s of digits-cnn on 1, 2 and 4 forced CPU devices.

Every configuration runs in its own process started with
``XLA_FLAGS=--xla_force_host_platform_device_count=4`` (so each sees the same four CPU
devices and thread pool) and ``TrainerConfig(devices=N)``. The forced devices share the
machine's cores, so this measures what splitting a batch costs (the collectives, the
per-device programs), not a speed-up: on real devices each has its own compute.

Rounds interleave the configurations; each figure is the median over rounds of the steps
per second from the start of epoch 2 to the end of the run (compilation comes before).
No reporter runs.

    python benchmarks/scale.py [--rounds R] [--epochs E] [--batch-size B] [--examples N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

DEVICES = (1, 2, 4)

MEASURE = r"""
import json, sys, time
from trainscope import hookimpl
from trainscope_jax import ModelTrainer, TrainerConfig, create_model, synthetic_dataset

devices, epochs, batch_size, examples = map(int, sys.argv[1:5])

class EpochTimer:
    start = end = 0.0

    @hookimpl
    def trainscope_epoch_start(self, epoch):
        if epoch == 2:
            EpochTimer.start = time.perf_counter()

    @hookimpl
    def trainscope_train_end(self):
        EpochTimer.end = time.perf_counter()

data = synthetic_dataset(examples, (1, 8, 8), 10, seed=0)
model = create_model("digits-cnn", data.input_shape, data.num_classes)
config = TrainerConfig(platform="cpu", batch_size=batch_size, devices=devices)
with ModelTrainer(model, config) as trainer:
    trainer.fit(data, None, epochs, plugins=[EpochTimer()])
    steps = (examples // batch_size) * (epochs - 1)
print(json.dumps({"steps_per_second": steps / (EpochTimer.end - EpochTimer.start)}))
"""


def measure(devices: int, epochs: int, batch_size: int, examples: int) -> float:
    """Steps per second of one run in a fresh process."""
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    args = [str(devices), str(epochs), str(batch_size), str(examples)]
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"the run on {devices} devices failed:\n{done.stderr[-2000:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1])["steps_per_second"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians over them)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run (>= 2; epoch 1 untimed)")
    parser.add_argument("--batch-size", type=int, default=32, help="the global batch (a multiple of 4)")
    parser.add_argument("--examples", type=int, default=8192, help="synthetic examples in memory")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (epoch 1 is not timed)")
    if args.batch_size % max(DEVICES):
        parser.error(f"--batch-size must be a multiple of {max(DEVICES)}")

    figures: dict[int, list[float]] = {devices: [] for devices in DEVICES}
    for round_index in range(args.rounds):
        order = DEVICES if round_index % 2 == 0 else tuple(reversed(DEVICES))
        for devices in order:
            figures[devices].append(measure(devices, args.epochs, args.batch_size, args.examples))

    steps = args.examples // args.batch_size
    print(
        f"digits-cnn, global batch {args.batch_size}, {steps} steps/epoch, synthetic data in memory, "
        f"no reporter; {os.cpu_count()} CPU cores shared by 4 forced host devices: this measures "
        "the overhead of splitting a batch, not a speed-up\n"
    )
    print(f"{'devices':<10}{'steps/s (median of ' + str(args.rounds) + ')':>26}{'min..max':>22}{'vs 1':>8}")
    base = statistics.median(figures[1])
    for devices in DEVICES:
        values = figures[devices]
        median = statistics.median(values)
        spread = f"{min(values):.1f}..{max(values):.1f}"
        print(f"{devices:<10}{median:>26.1f}{spread:>22}{median / base:>8.2f}")


if __name__ == "__main__":
    main()
