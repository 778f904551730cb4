"""Flax NNX: ``ModelTrainer.fit`` on the NNX MNIST tutorial's model against the tutorial's own loop.

Same model (the tutorial's CNN for 8x8 inputs), same data (8x8 digits-like images in
memory, batch 32), same optimizer (``optax.adamw(0.005, 0.9)``, the tutorial's). The
tutorial's loop is its ``nnx.jit`` train step with ``nnx.Optimizer`` and an
``nnx.MultiMetric``, no reporting. Also measured: a hand-written functional loop of the
same model (``nnx.split`` once, a donated ``jax.jit`` step), the fastest one can write,
and ``fit`` with no reporter.

Rounds interleave the configurations in alternating order. Each run is timed from the
start of epoch 2 to its end (compilation and the architecture printout come before).
Steps per second are medians over the rounds; ratios are medians of each round's ratio.

    python benchmarks/frameworks.py [--rounds R] [--epochs E] [--examples N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from importlib.metadata import entry_points
from typing import Any

import numpy as np
from training import EpochTimer, quiet  # the training benchmark's timer and null output

LEARNING_RATE, MOMENTUM, BATCH = 0.005, 0.9, 32


def tutorial_model() -> Any:
    """The Flax NNX MNIST tutorial's CNN, for 8x8 inputs (linear1 takes 64 * 2 * 2)."""
    from flax import nnx

    class CNN(nnx.Module):
        def __init__(self, *, rngs: nnx.Rngs) -> None:
            self.conv1 = nnx.Conv(1, 32, kernel_size=(3, 3), rngs=rngs)
            self.batch_norm1 = nnx.BatchNorm(32, rngs=rngs)
            self.dropout1 = nnx.Dropout(rate=0.025, rngs=rngs)
            self.conv2 = nnx.Conv(32, 64, kernel_size=(3, 3), rngs=rngs)
            self.batch_norm2 = nnx.BatchNorm(64, rngs=rngs)
            self.avg_pool = partial(nnx.avg_pool, window_shape=(2, 2), strides=(2, 2))
            self.linear1 = nnx.Linear(64 * 2 * 2, 256, rngs=rngs)
            self.dropout2 = nnx.Dropout(rate=0.025, rngs=rngs)
            self.linear2 = nnx.Linear(256, 10, rngs=rngs)

        def __call__(self, x: Any) -> Any:
            x = self.avg_pool(nnx.relu(self.batch_norm1(self.dropout1(self.conv1(x)))))
            x = self.avg_pool(nnx.relu(self.batch_norm2(self.conv2(x))))
            x = x.reshape(x.shape[0], -1)
            x = nnx.relu(self.dropout2(self.linear1(x)))
            return self.linear2(x)

    return CNN(rngs=nnx.Rngs(0))


def tutorial_loop() -> Callable[[Any, int], float]:
    """The tutorial's training loop; returns ``run(data, epochs)`` -> steps/s over epochs 2..E."""
    import jax
    import optax
    from flax import nnx

    model = tutorial_model()
    optimizer = nnx.Optimizer(model, optax.adamw(LEARNING_RATE, MOMENTUM), wrt=nnx.Param)
    metrics = nnx.MultiMetric(accuracy=nnx.metrics.Accuracy(), loss=nnx.metrics.Average("loss"))

    def loss_fn(model: Any, batch: dict[str, Any]) -> tuple[Any, Any]:
        logits = model(batch["image"])
        loss = optax.softmax_cross_entropy_with_integer_labels(logits=logits, labels=batch["label"]).mean()
        return loss, logits

    @nnx.jit
    def train_step(model: Any, optimizer: Any, metrics: Any, batch: dict[str, Any]) -> None:
        grad_fn = nnx.value_and_grad(loss_fn, has_aux=True)
        (loss, logits), grads = grad_fn(model, batch)
        metrics.update(loss=loss, logits=logits, labels=batch["label"])
        optimizer.update(model, grads)

    def run(data: Any, epochs: int) -> float:
        images = data.images.transpose(0, 2, 3, 1)  # channels-last, as the tutorial's data
        steps, start = len(data) // BATCH, 0.0
        model.train()
        for epoch in range(1, epochs + 1):
            if epoch == 2:
                jax.block_until_ready(nnx.state(model))
                start = time.perf_counter()
            order = np.random.default_rng((0, epoch)).permutation(len(data))
            for i in range(steps):
                idx = order[i * BATCH : (i + 1) * BATCH]
                train_step(model, optimizer, metrics, {"image": images[idx], "label": data.labels[idx]})
        jax.block_until_ready(nnx.state(model))
        return steps * (epochs - 1) / (time.perf_counter() - start)

    return run


def functional_loop() -> Callable[[Any, int], float]:
    """The same model split once into graph and state, a donated ``jax.jit`` step: no graph traversal."""
    import jax
    import optax
    from flax import nnx

    model = tutorial_model()
    model.train()
    graph, params, rest = nnx.split(model, nnx.Param, ...)
    tx = optax.adamw(LEARNING_RATE, MOMENTUM)

    def step(state: Any, x: Any, y: Any) -> tuple[Any, Any, Any]:
        params, rest, opt_state = state

        def loss_fn(params: Any) -> tuple[Any, tuple[Any, Any]]:
            module = nnx.merge(graph, params, jax.tree.map(lambda a: a, rest))  # variables of this trace
            logits = module(x)
            loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
            return loss, (logits, nnx.split(module, nnx.Param, ...)[2])

        (loss, (logits, rest)), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), rest, opt_state), loss, (logits.argmax(-1) == y).mean()

    step = jax.jit(step, donate_argnums=0)
    holder = {"state": (params, rest, tx.init(params))}

    def run(data: Any, epochs: int) -> float:
        images = data.images.transpose(0, 2, 3, 1)
        steps, start, state = len(data) // BATCH, 0.0, holder["state"]
        for epoch in range(1, epochs + 1):
            if epoch == 2:
                jax.block_until_ready(state)
                start = time.perf_counter()
            order = np.random.default_rng((0, epoch)).permutation(len(data))
            for i in range(steps):
                idx = order[i * BATCH : (i + 1) * BATCH]
                state, _loss, _accuracy = step(state, images[idx], data.labels[idx])
        jax.block_until_ready(state)
        holder["state"] = state
        return steps * (epochs - 1) / (time.perf_counter() - start)

    return run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (medians over them)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per timed run (>= 2; epoch 1 untimed)")
    parser.add_argument("--examples", type=int, default=12288, help="synthetic 8x8 examples in memory")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (epoch 1 is not timed)")
    try:
        import flax
    except ImportError:
        sys.exit("this benchmark needs Flax: pip install 'trainscope-jax[flax]'")

    log_dir = tempfile.TemporaryDirectory()  # every reporter's files go there, not to the working folder
    os.environ["TRAINSCOPE_LOG_DIR"] = log_dir.name
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{log_dir.name}/mlflow.db"
    import jax

    from trainscope_jax import ModelTrainer, TrainerConfig, synthetic_dataset
    from trainscope_jax.devices.selection import select_device

    choice = select_device()
    data = synthetic_dataset(args.examples, (1, 8, 8), 10, seed=0)
    config = TrainerConfig(
        optimizer="adamw", learning_rate=LEARNING_RATE, momentum=MOMENTUM, batch_size=BATCH, seed=0
    )
    trainer = ModelTrainer(tutorial_model(), config)
    tutorial, functional = tutorial_loop(), functional_loop()
    reporters = sorted({ep.name for ep in entry_points(group="trainscope")} - {"jax"})

    def fit(with_reporters: bool) -> Callable[[], float]:
        def call() -> float:
            timer = EpochTimer()
            with quiet():
                trainer.fit(data, epochs=args.epochs, plugins=[*(reporters if with_reporters else []), timer])
            return len(data) // BATCH * (args.epochs - 1) / (timer.end - timer.start)

        return call

    configs: dict[str, Callable[[], float]] = {
        "fit, every reporter": fit(True),
        "fit, no reporter": fit(False),
        "tutorial's loop (nnx.jit)": lambda: tutorial(data, args.epochs),
        "functional loop (jax.jit)": lambda: functional(data, args.epochs),
    }
    print(
        f"device: {choice.device} ({choice.reason}); jax {jax.__version__}, flax {flax.__version__}; "
        f"{os.cpu_count()} CPUs\nNNX tutorial CNN, batch {BATCH}, adamw({LEARNING_RATE}, {MOMENTUM}), "
        f"{len(data) // BATCH} steps/epoch; reporters: {', '.join(reporters) or 'none'}",
        flush=True,
    )
    fit(False)()  # compile and warm up
    tutorial(data, 2)
    functional(data, 2)
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

    def ratio(name: str, reference: str) -> str:
        paired = statistics.median(a / b for a, b in zip(rates[name], rates[reference]))
        return f"{paired:.3f} (ratio of medians {median[name] / median[reference]:.3f})"

    fit_all, _, tutorial_name, functional_name = configs
    print("\nratios, median over rounds of each round's ratio:")
    print(f"  fit (every reporter) / tutorial's loop : {ratio(fit_all, tutorial_name)}")
    print(f"  fit (every reporter) / functional loop : {ratio(fit_all, functional_name)}")
    log_dir.cleanup()


if __name__ == "__main__":
    main()
