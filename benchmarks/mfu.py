"""Throughput and MFU of ``fit`` on catdog-cnn, over batch sizes, on the device JAX picks.

Each batch size runs in its own process (so its peak memory is its own): ``fit`` on
synthetic images in memory, no reporter but one that keeps each epoch's figures. The
figures are those of the last epoch (compilation happens in the first): examples/s, the
achieved TFLOP/s from XLA's cost analysis of the compiled step, MFU where the device's
peak is known (``trainscope.PEAK_TFLOPS``, or ``TRAINSCOPE_PEAK_TFLOPS``), and the
device's peak memory where the backend reports it. The sweep stops at the first batch
size that does not fit in the device's memory: the largest that fits is the one that
fills the device.

    python benchmarks/mfu.py [--batch-sizes 64,256,1024,4096] [--image-size 32]
                             [--steps 50] [--epochs 3] [--dtype float32|bfloat16]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

MEASURE = r"""
import json, sys
from trainscope import hookimpl
from trainscope_jax import ModelTrainer, TrainerConfig, create_model, synthetic_dataset

batch_size, image_size, steps, epochs = map(int, sys.argv[1:5])
dtype = sys.argv[5]

class LastEpoch:
    throughput = None

    @hookimpl
    def trainscope_epoch_end(self, summary):
        LastEpoch.throughput = summary.throughput

data = synthetic_dataset(batch_size * steps, (3, image_size, image_size), 2, seed=0)
model = create_model("catdog-cnn", data.input_shape, data.num_classes)
try:
    with ModelTrainer(model, TrainerConfig(batch_size=batch_size, dtype=dtype)) as trainer:
        trainer.fit(data, None, epochs, plugins=[LastEpoch()])
        count = len(trainer.parallel.local_devices)
        device = f"{count} x {trainer.device.device_kind} ({trainer.device.platform})"
except Exception as error:
    if "RESOURCE_EXHAUSTED" in str(error) or "out of memory" in str(error).lower():
        print(json.dumps({"out_of_memory": True}))
        raise SystemExit(0)
    raise
figures = LastEpoch.throughput.as_dict() if LastEpoch.throughput else {}
print(json.dumps({"device": device, **figures}))
"""


def measure(batch_size: int, image_size: int, steps: int, epochs: int, dtype: str) -> dict[str, object]:
    """The last epoch's figures of one run in a fresh process."""
    args = [str(batch_size), str(image_size), str(steps), str(epochs), dtype]
    done = subprocess.run([sys.executable, "-c", MEASURE, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the run at batch size {batch_size} failed:\n{done.stderr[-3000:]}")
    figures: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def cell(value: object, scale: float, digits: int) -> str:
    return "--" if not isinstance(value, (int, float)) else f"{value * scale:,.{digits}f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", default="64,256,1024,4096", help="comma-separated, in order")
    parser.add_argument("--image-size", type=int, default=32, help="square RGB images of this side")
    parser.add_argument("--steps", type=int, default=50, help="steps per epoch")
    parser.add_argument("--epochs", type=int, default=3, help="epochs (>= 2; the last one is reported)")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first one compiles)")
    try:
        batch_sizes = [int(size) for size in args.batch_sizes.split(",")]
    except ValueError:
        parser.error(f"--batch-sizes must be whole numbers separated by commas, got {args.batch_sizes!r}")

    rows = []
    device = "?"
    for batch_size in batch_sizes:
        figures = measure(batch_size, args.image_size, args.steps, args.epochs, args.dtype)
        if figures.get("out_of_memory"):
            rows.append(f"{batch_size:>10}  out of the device's memory: the sweep stops here")
            break
        device = str(figures["device"])
        rows.append(
            f"{batch_size:>10}"
            f"{cell(figures.get('examples_per_second'), 1, 0):>16}"
            f"{cell(figures.get('flops_per_second'), 1e-12, 3):>12}"
            f"{cell(figures.get('mfu'), 100, 1):>8}"
            f"{cell(figures.get('peak_memory_bytes'), 1e-6, 0):>18}"
        )
    print(
        f"catdog-cnn, {args.image_size}x{args.image_size} RGB, {args.dtype}, fit with no reporter, "
        f"last of {args.epochs} epochs of {args.steps} steps; {device}\n"
    )
    print(f"{'batch':>10}{'examples/s':>16}{'TFLOP/s':>12}{'MFU %':>8}{'peak memory MB':>18}")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
