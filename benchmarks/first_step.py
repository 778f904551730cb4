"""Time to the first trained step: from starting Python to the end of the first training step.

Each configuration trains digits-cnn on the embedded digits (batch 32) for one epoch in a fresh
process: ``ModelTrainer.fit`` with every installed reporter and with none, Keras 3
``model.fit`` on the JAX backend with the same network (when Keras is installed), and the
hand-written jax + optax loop of ``benchmarks/training.py``. What is timed includes starting
the interpreter, the imports, loading the data, building the model, the reporters' start (the
architecture printout, opening the log, creating the MLflow run) and compiling the step.
One untimed run of each first writes Python's bytecode caches (as installing a package does)
and MLflow's local store, in one scratch folder the runs share. Rounds interleave the
configurations; medians are printed, with the ratio to Keras.

    python benchmarks/first_step.py [--rounds R]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent

FIT = """
import sys, time
from trainscope import hookimpl
from trainscope_jax import ModelTrainer, TrainerConfig, create_model, load_digits

class FirstStep:
    seen = None

    @hookimpl
    def trainscope_progress(self, records):
        if FirstStep.seen is None and records.steps:
            FirstStep.seen = records.times[0]  # when the first step's values were computed

train, validation = load_digits()
model = create_model("digits-cnn", train.input_shape, train.num_classes)
trainer = ModelTrainer(model, TrainerConfig(batch_size=32))
plugins = [name for name in sys.argv[1].split(",") if name]
trainer.fit(train, validation, 1, plugins=[*plugins, FirstStep()])
print("FIRST", FirstStep.seen)
"""

KERAS = """
import os, sys, time
os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, sys.argv[1])
from importlib.util import find_spec
from pathlib import Path
import numpy as np
import keras
from keras_model import keras_digits_cnn

# the embedded digits, read without importing trainscope
(package,) = find_spec("trainscope_jax").submodule_search_locations
parts = np.load(Path(package) / "data" / "digits.npz")
images = parts["train_images"].astype(np.float32)[..., None] / 16.0
model = keras_digits_cnn(1e-3)
first = []

class FirstStep(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if not first:
            first.append(time.time())  # Keras has read the step's metrics: it is computed

model.fit(images, parts["train_labels"], batch_size=32, epochs=1, verbose=1, callbacks=[FirstStep()])
print("FIRST", first[0])
"""

HAND = """
import sys, time
sys.path.insert(0, sys.argv[1])
import jax
import numpy as np
from training import hand_written_loop
from trainscope_jax import load_digits

train, _ = load_digits()
run = hand_written_loop(32, 1e-3, 0)
# the loop's first epoch, stopped after its first step: a dataset of one batch
first = train.subset(np.arange(32))
run(first, 1)
print("FIRST", time.time())
"""


def configs(reporters: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {
        f"fit, every reporter ({', '.join(reporters)})": ["-c", FIT, ",".join(reporters)],
        "fit, no reporter": ["-c", FIT, ""],
        "hand-written jax + optax loop": ["-c", HAND, str(HERE)],
    }
    if importlib.util.find_spec("keras") is not None:
        found["Keras 3 fit (JAX backend)"] = ["-c", KERAS, str(HERE)]
    return found


def measure(args: list[str], scratch: str) -> float:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TRAINSCOPE_", "MLFLOW_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # imports read cached bytecode, as after a pip install
    env["TRAINSCOPE_LOG_DIR"] = os.path.join(scratch, "runs")
    started = time.time()
    done = subprocess.run([sys.executable, *args], cwd=scratch, env=env, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("FIRST ")]
    if done.returncode != 0 or not lines:
        sys.exit(f"failed:\n{done.stderr[-3000:]}")
    return float(lines[-1].split()[1]) - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from importlib.metadata import entry_points

    reporters = sorted({ep.name for ep in entry_points(group="trainscope")} - {"jax"})
    chosen = configs(reporters)
    seconds: dict[str, list[float]] = {name: [] for name in chosen}
    with tempfile.TemporaryDirectory(prefix="trainscope-first-step-") as scratch:
        for args_of in chosen.values():  # untimed: writes the bytecode caches and MLflow's store
            measure(args_of, scratch)
        for round_index in range(args.rounds):
            names = list(chosen) if round_index % 2 == 0 else list(reversed(chosen))
            for name in names:
                seconds[name].append(measure(chosen[name], scratch))
            print(f"  round {round_index + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    keras = "Keras 3 fit (JAX backend)"
    print(
        f"Time from starting Python to the first trained step, digits-cnn on the embedded digits "
        f"(median of {args.rounds} interleaved rounds, each a fresh process, {os.cpu_count()} CPUs)"
    )
    width = max(map(len, seconds))
    for name, values in seconds.items():
        median = statistics.median(values)
        versus = f"  x{median / statistics.median(seconds[keras]):.2f} of Keras" if keras in seconds else ""
        print(f"  {name:<{width}}  {median:6.2f} s  ({min(values):.2f}..{max(values):.2f}){versus}")


if __name__ == "__main__":
    main()
