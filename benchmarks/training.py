"""Training throughput: ``ModelTrainer.fit`` with every reporter against a hand-written loop and Keras.

The hand-written loop is what a user would write instead: the same network (digits-cnn)
in plain jax + optax, the same data and batch size, one jit-compiled step with donated
buffers, no reporting and no per-step synchronisation. Two data paths:

* in memory: arrays (synthetic 8x8 digits-like images by default, long epochs; or the
  embedded digits with ``--data digits``, 44-step epochs that show per-epoch costs);
* decoded: the same kind of images as PNG files, decoded with Pillow for every batch
  (host-side data work that must overlap the device's work).

Rounds interleave the configurations in alternating order. Each run is timed from the
start of epoch 2 to its end (compilation, plugin loading and the architecture printout
come before). Steps per second are medians over the rounds; ratios are medians of each
round's ratio. Also shown: ``fit`` with no reporter (in memory and decoded), ``fit``
reading decoded data on a thread, and the hand loop reading the loss every step
(``float(loss)``), and, when Keras 3 is installed, its ``model.fit`` on the JAX backend
with the same network, optimizer, batch and arrays (in memory), with its progress bar.

    python benchmarks/training.py [--rounds R] [--data synthetic|digits] [--epochs E] [--batch-size B]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import numpy as np
from keras_model import keras_digits_cnn

from trainscope import hookimpl


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Send the reporters' output to the null device."""
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null), contextlib.redirect_stderr(null):
        yield


def write_pngs(images: np.ndarray, labels: np.ndarray, root: Path) -> None:
    """The digits as 8x8 grayscale PNG files, one folder per class."""
    from PIL import Image

    for i, (image, label) in enumerate(zip(images, labels)):
        folder = root / f"{int(label)}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.rint(image[0] * 255).astype(np.uint8), "L").save(folder / f"{i:05d}.png")


# -- the hand-written loop ---------------------------------------------------------------


def hand_written_loop(batch_size: int, learning_rate: float, seed: int) -> Callable[..., float]:
    """A plain jax + optax training loop of digits-cnn; returns ``run(data, epochs, read_loss)``."""
    import jax
    import jax.numpy as jnp
    import optax
    from jax import lax

    def conv_init(key: jax.Array, kh: int, cin: int, cout: int) -> dict[str, jax.Array]:
        bound = (6 / (cin * kh * kh)) ** 0.5
        return {
            "w": jax.random.uniform(key, (kh, kh, cin, cout), minval=-bound, maxval=bound),
            "b": jnp.zeros(cout),
        }

    def dense_init(key: jax.Array, fin: int, fout: int) -> dict[str, jax.Array]:
        bound = (6 / fin) ** 0.5
        return {"w": jax.random.uniform(key, (fin, fout), minval=-bound, maxval=bound), "b": jnp.zeros(fout)}

    k1, k2, k3, k4 = jax.random.split(jax.random.key(seed), 4)
    params = {
        "conv1": conv_init(k1, 3, 1, 32),
        "conv2": conv_init(k2, 3, 32, 64),
        "fc1": dense_init(k3, 256, 128),
        "fc2": dense_init(k4, 128, 10),
    }

    def conv(p: dict[str, jax.Array], x: jax.Array) -> jax.Array:
        y = lax.conv_general_dilated(
            x, p["w"], (1, 1), ((1, 1), (1, 1)), dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        return y + p["b"]

    def pool(x: jax.Array) -> jax.Array:
        return lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

    def forward(params: Any, x: jax.Array) -> jax.Array:
        x = jnp.transpose(x, (0, 2, 3, 1))  # the data is channels-first, like the trainer's
        x = pool(jax.nn.relu(conv(params["conv1"], x)))
        x = pool(jax.nn.relu(conv(params["conv2"], x)))
        x = x.reshape(x.shape[0], -1)
        x = jax.nn.relu(x @ params["fc1"]["w"] + params["fc1"]["b"])
        return x @ params["fc2"]["w"] + params["fc2"]["b"]

    optimizer = optax.adam(learning_rate)

    @jax.jit
    def init_state(params: Any) -> tuple[Any, Any]:
        return params, optimizer.init(params)

    def loss_fn(params: Any, x: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
        logits = forward(params, x)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, (jnp.argmax(logits, -1) == y).mean()

    def step(state: tuple[Any, Any], x: jax.Array, y: jax.Array) -> tuple[Any, jax.Array, jax.Array]:
        params, opt_state = state
        (loss, accuracy), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss, accuracy

    step = jax.jit(step, donate_argnums=0)
    holder = {"state": init_state(params)}

    def run(data: Any, epochs: int, read_loss: bool = False) -> float:
        """Steps per second over epochs 2..``epochs`` (epoch 1 is excluded, as for ``fit``)."""
        state = holder["state"]
        n = len(data)
        steps = n // batch_size
        losses = []
        start = 0.0
        for epoch in range(1, epochs + 1):
            if epoch == 2:
                jax.block_until_ready(state)
                start = time.perf_counter()
            order = np.random.default_rng((seed, epoch)).permutation(n)
            for i in range(steps):
                x, y = data.get_batch(order[i * batch_size : (i + 1) * batch_size])
                state, loss, _accuracy = step(state, x, y)
                if read_loss:
                    losses.append(float(loss))
        jax.block_until_ready(state)
        holder["state"] = state
        return steps * (epochs - 1) / (time.perf_counter() - start)

    return run


def keras_fit(data: Any, batch_size: int, learning_rate: float, seed: int) -> Callable[[int], float] | None:
    """Keras 3 ``model.fit`` (JAX backend) of the same network on the same arrays, with its own
    progress bar (``verbose=1``); returns ``run(epochs)``, or None when Keras is not installed."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    try:
        import keras  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    if keras.backend.backend() != "jax":
        return None
    keras.utils.set_random_seed(seed)
    model = keras_digits_cnn(learning_rate)
    images = np.transpose(np.asarray(data.images, dtype=np.float32), (0, 2, 3, 1))  # channels last
    labels = np.asarray(data.labels)
    steps = len(images) // batch_size
    images, labels = images[: steps * batch_size], labels[: steps * batch_size]

    class Timer(keras.callbacks.Callback):  # type: ignore[misc, unused-ignore]
        start = end = 0.0

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            if epoch == 1:  # Keras counts epochs from 0: the second one
                Timer.start = time.perf_counter()

        def on_train_end(self, logs: Any = None) -> None:
            Timer.end = time.perf_counter()

    def run(epochs: int) -> float:
        with quiet():
            model.fit(images, labels, batch_size=batch_size, epochs=epochs, verbose=1, callbacks=[Timer()])
        return steps * (epochs - 1) / (Timer.end - Timer.start)

    return run


# -- measuring ------------------------------------------------------------------------------


class EpochTimer:
    """A plugin that times a run from the start of epoch 2 to its end (steady state)."""

    def __init__(self) -> None:
        self.start = self.end = 0.0

    @hookimpl
    def trainscope_epoch_start(self, epoch: int) -> None:
        if epoch == 2:
            self.start = time.perf_counter()

    @hookimpl
    def trainscope_train_end(self) -> None:
        self.end = time.perf_counter()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (medians over them)")
    parser.add_argument(
        "--data",
        choices=("synthetic", "digits"),
        default="synthetic",
        help="synthetic: 8x8 digits-like images, long epochs (default); digits: the "
        "embedded digits, 44-step epochs (shows per-epoch costs)",
    )
    parser.add_argument("--examples", type=int, default=12288, help="synthetic examples in memory")
    parser.add_argument("--decoded-examples", type=int, default=8192, help="synthetic examples as PNG files")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per timed run (>= 2; epoch 1 untimed)")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (epoch 1 is not timed)")

    log_dir = tempfile.TemporaryDirectory()
    os.environ["TRAINSCOPE_LOG_DIR"] = log_dir.name
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{log_dir.name}/mlflow.db"  # not the working folder
    import jax

    from trainscope_jax import (
        ImageFolder,
        ModelTrainer,
        TrainerConfig,
        create_model,
        load_digits,
        synthetic_dataset,
    )
    from trainscope_jax.devices.selection import select_device

    choice = select_device()
    if args.data == "digits":
        train, _ = load_digits()
        to_decode = train
    else:
        train = synthetic_dataset(args.examples, (1, 8, 8), 10, seed=0)
        low, high = train.images.min(), train.images.max()
        train.images = (train.images - low) / (high - low)  # pixel range, as PNG files hold
        to_decode = train.subset(np.arange(args.decoded_examples))
    png_dir = tempfile.TemporaryDirectory()
    write_pngs(to_decode.images, to_decode.labels, Path(png_dir.name))
    decoded = ImageFolder(png_dir.name, grayscale=True)
    bs, lr, seed = args.batch_size, 1e-3, 0

    model = create_model("digits-cnn", train.input_shape, train.num_classes)
    trainer = ModelTrainer(model, TrainerConfig(batch_size=bs, learning_rate=lr, seed=seed))
    threaded = ModelTrainer(
        model, TrainerConfig(batch_size=bs, learning_rate=lr, seed=seed, prefetch_thread=True)
    )
    hand = hand_written_loop(bs, lr, seed)
    reporters = sorted({ep.name for ep in entry_points(group="trainscope")} - {"jax"})

    def fit(data: Any, epochs: int, with_reporters: bool, runner: Any = trainer) -> Callable[[], float]:
        def call() -> float:
            timer = EpochTimer()
            with quiet():
                runner.fit(data, epochs=epochs, plugins=[*(reporters if with_reporters else []), timer])
            return len(data) // bs * (epochs - 1) / (timer.end - timer.start)

        return call

    epochs = args.epochs
    configs: dict[str, Callable[[], float]] = {
        "memory/fit, every reporter": fit(train, epochs, True),
        "memory/fit, no reporter": fit(train, epochs, False),
        "memory/hand-written loop": lambda: hand(train, epochs),
        "memory/hand loop, float(loss) every step": lambda: hand(train, epochs, True),
        "decoded/fit, every reporter": fit(decoded, epochs, True),
        "decoded/fit, no reporter": fit(decoded, epochs, False),
        "decoded/fit, read on a thread": fit(decoded, epochs, True, threaded),
        "decoded/hand-written loop": lambda: hand(decoded, epochs),
    }
    keras_run = keras_fit(train, bs, lr, seed)
    if keras_run is not None:
        configs["memory/Keras 3 fit (JAX backend)"] = lambda: keras_run(epochs)
        keras_run(2)  # compile and warm up
    print(
        f"device: {choice.device} ({choice.reason}); jax {jax.__version__}; {os.cpu_count()} CPUs\n"
        f"digits-cnn, batch {bs}, {args.data} data: {len(train) // bs} steps/epoch in memory, "
        f"{len(decoded) // bs} decoded from PNG; reporters: {', '.join(reporters) or 'none'}",
        flush=True,
    )
    fit(train, 2, False)()  # compile and warm up
    fit(decoded, 2, True)()
    fit(decoded, 2, True, threaded)()
    hand(decoded, 2)
    rates: dict[str, list[float]] = {name: [] for name in configs}
    for round_index in range(args.rounds):
        names = list(configs) if round_index % 2 == 0 else list(reversed(configs))
        for name in names:
            rates[name].append(configs[name]())
        print(f"  round {round_index + 1}/{args.rounds} done", file=sys.stderr, flush=True)

    median = {name: statistics.median(values) for name, values in rates.items()}
    width = max(map(len, median))
    print(f"\n{'configuration':<{width}}  steps/s (median of {args.rounds})  min..max")
    for name, values in rates.items():
        print(f"{name:<{width}}  {median[name]:10.1f}                 {min(values):.1f}..{max(values):.1f}")
    print()

    def ratio(name: str, reference: str) -> str:
        """Median of the per-round ratios (each round ran both back to back), and the ratio of medians."""
        paired = statistics.median(a / b for a, b in zip(rates[name], rates[reference]))
        return f"{paired:.3f} (ratio of medians {median[name] / median[reference]:.3f})"

    print("ratios, median over rounds of each round's ratio:")
    for data in ("memory", "decoded"):
        print(
            f"  fit (every reporter) / hand-written loop, {data:<7}: "
            f"{ratio(f'{data}/fit, every reporter', f'{data}/hand-written loop')}"
        )
    if keras_run is not None:
        print(
            f"  fit (every reporter) / Keras 3 fit, memory: "
            f"{ratio('memory/fit, every reporter', 'memory/Keras 3 fit (JAX backend)')}"
        )
    print(
        f"  hand loop reading the loss every step / not reading it: "
        f"{ratio('memory/hand loop, float(loss) every step', 'memory/hand-written loop')}"
    )
    png_dir.cleanup()
    log_dir.cleanup()


if __name__ == "__main__":
    main()
