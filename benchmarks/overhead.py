"""Per-step cost of reporting and memory growth of a long run.

Measures the amortized time per ``update_training_progress`` call (buffering, the
batched flushes, the reporters' work) with no reporter, with each installed reporter
alone and with all of them, side by side in one run (rounds interleave the
configurations; medians are reported). Reporters write to a null device and a
temporary log folder. Then, with JAX installed, the same loop with the loss and accuracy as
Python floats and as JAX 0-d arrays (the same two every step, and a fresh pair per step as a
jitted step returns them), side by side, with what bringing one array to the host costs.
Then runs declared in steps against runs of epochs, and the traced memory after 10,000 and
after 100,000 steps of a run with every reporter: it must not grow with the number of steps.

    python benchmarks/overhead.py [--steps N] [--rounds R]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from importlib.metadata import entry_points
from typing import Any

from trainscope import TrainingSession
from trainscope import environment_variables as env_vars

REPORTERS = ("tqdm", "summary", "arch", "jsonl", "tensorboard", "mlflow")


def installed_reporters() -> list[str]:
    names = {ep.name for ep in entry_points(group="trainscope")}
    return [name for name in REPORTERS if name in names]


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Send the reporters' output (``sys.stdout`` and ``sys.stderr``) to the null device."""
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null), contextlib.redirect_stderr(null):
        yield


def run_in_steps(plugins: Sequence[str], steps: int, every: int, validation_steps: int = 10) -> float:
    """Seconds per training step of a run declared in steps, validated every ``every`` steps."""
    with quiet(), TrainingSession("Bench", total_steps=steps, plugins=list(plugins)) as session:
        update = session.update_training_progress
        start = time.perf_counter()
        for step in range(1, steps + 1):
            update(step, 0.5, 0.25)
            if step % every == 0:
                session.start_validation()
                for v in range(1, validation_steps + 1):
                    session.update_validation_progress(v, 0.5, 0.25)
                session.finish_validation()
        return (time.perf_counter() - start) / (steps + steps // every * validation_steps)


def run_in_epochs(plugins: Sequence[str], epochs: int, steps: int, validation_steps: int = 10) -> float:
    """Seconds per step of a run declared in epochs of ``steps`` steps, each validated at its end."""
    with quiet(), TrainingSession("Bench", epochs, steps, validation_steps, plugins=list(plugins)) as session:
        start = time.perf_counter()
        for epoch in range(1, epochs + 1):
            session.start_epoch(epoch)
            for step in range(1, steps + 1):
                session.update_training_progress(step, 0.5, 0.25)
            session.start_validation()
            for v in range(1, validation_steps + 1):
                session.update_validation_progress(v, 0.5, 0.25)
            session.print_epoch_summary()
        return (time.perf_counter() - start) / (epochs * (steps + validation_steps))


def tiny_step() -> Any:
    """A jitted function returning two fresh 0-d arrays, as a training step returns its metrics."""
    import jax

    return jax.jit(lambda x: (x * 0.5, x * 0.25))


def value_streams(kind: str, steps: int) -> tuple[list[object], list[object]]:
    """The losses and accuracies of ``steps`` steps: Python floats, the same two JAX 0-d arrays
    every step, or a fresh pair of JAX arrays per step made by a jitted function, as a JAX loop
    has (made before the clock starts)."""
    if kind == "float":
        return [0.5] * steps, [0.25] * steps
    import jax
    import jax.numpy as jnp

    if kind == "jax, same arrays":
        pair = jnp.asarray(0.5, dtype=jnp.float32), jnp.asarray(0.25, dtype=jnp.float32)
        return [pair[0]] * steps, [pair[1]] * steps
    metrics = tiny_step()
    pairs = [metrics(jnp.float32(step)) for step in range(steps)]
    jax.block_until_ready(pairs)
    return [loss for loss, _ in pairs], [accuracy for _, accuracy in pairs]


def run_values(losses: Sequence[object], accuracies: Sequence[object], plugins: Sequence[str] = ()) -> float:
    """Seconds per step of one training phase reporting the given values to ``plugins``."""
    steps = len(losses)
    with quiet(), TrainingSession("Bench", 1, steps, plugins=list(plugins)) as session:
        session.start_epoch(1)
        update = session.update_training_progress
        start = time.perf_counter()
        for step, loss, accuracy in zip(range(1, steps + 1), losses, accuracies):
            update(step, loss, accuracy)
        session.finish_training_epoch()
        return (time.perf_counter() - start) / steps


def fetch_cost(steps: int) -> float:
    """Seconds per value to bring fresh JAX 0-d arrays to the host the way a flush does
    (stacked on the device by one jitted call per 256 values, one transfer each)."""
    from trainscope.device_arrays import fetch_scalars

    losses, accuracies = value_streams("jax, fresh arrays", steps)
    values = [*losses, *accuracies]
    fetch_scalars(values[:4096])  # compile the stackers
    start = time.perf_counter()
    for first in range(0, len(values), 4096):  # a flush converts at most 4,096 steps' values
        fetch_scalars(values[first : first + 4096])
    return (time.perf_counter() - start) / len(values)


def dispatch_cost(calls: int) -> float:
    """Seconds per call of a jitted function returning two 0-d arrays (the least a JAX step costs)."""
    import jax
    import jax.numpy as jnp

    metrics = tiny_step()
    x = jnp.float32(1.0)
    jax.block_until_ready(metrics(x))
    start = time.perf_counter()
    for _ in range(calls):
        out = metrics(x)
    jax.block_until_ready(out)
    return (time.perf_counter() - start) / calls


def print_jax_values(steps: int, rounds: int) -> None:
    """The per-step cost with JAX 0-d arrays as values against Python floats, side by side."""
    kinds = ("float", "jax, same arrays", "jax, fresh arrays")
    timings: dict[str, list[float]] = {kind: [] for kind in kinds}
    fetches: list[float] = []
    dispatches: list[float] = []
    run_values(*value_streams("jax, fresh arrays", 20_000))  # warm up: compile the stackers
    for _ in range(rounds):
        for kind in kinds:
            streams = value_streams(kind, steps)
            timings[kind].append(run_values(*streams))
            del streams
        fetches.append(fetch_cost(steps))
        dispatches.append(dispatch_cost(steps))
    print(f"No reporter, loss and accuracy as Python floats or JAX 0-d arrays ({steps:,} steps per run):")
    base = statistics.median(timings["float"])
    for kind in kinds:
        median = statistics.median(timings[kind])
        print(f"  {kind:<40} {median * 1e6:7.3f} us/step   x{median / base:5.2f} of floats")
    fetch, dispatch = statistics.median(fetches), statistics.median(dispatches)
    print(f"  {'of which: one value brought to the host':<40} {fetch * 1e6:7.3f} us/value")
    print(f"  {'for scale: one call of a tiny jitted step':<40} {dispatch * 1e6:7.3f} us")


def memory_growth(plugins: Sequence[str], steps: int = 100_000, probe: int = 10_000) -> tuple[int, int]:
    """Traced bytes after ``probe`` steps and after ``steps`` steps of one phase."""
    tracemalloc.start()
    try:
        with quiet(), TrainingSession("Bench", 1, steps, plugins=list(plugins)) as session:
            session.start_epoch(1)
            at_probe = 0
            for step in range(1, steps + 1):
                session.update_training_progress(step, 0.5, 0.25)
                if step == probe:
                    session.flush()  # measure with an empty buffer
                    at_probe = tracemalloc.get_traced_memory()[0]
            session.flush()
            at_end = tracemalloc.get_traced_memory()[0]
        return at_probe, at_end
    finally:
        tracemalloc.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    scratch = tempfile.mkdtemp(prefix="trainscope-bench-")
    os.environ[env_vars.TRAINSCOPE_LOG_DIR] = scratch
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{scratch}/mlflow.db"  # not the working folder
    os.chdir(scratch)  # MLflow keeps the artifacts it is given (the run log) in the working folder
    reporters = installed_reporters()
    configs: dict[str, list[str]] = {"no reporter": []}
    configs.update({f"{name} alone": [name] for name in reporters})
    configs[f"all ({', '.join(reporters)})"] = reporters
    timings: dict[str, list[float]] = {label: [] for label in configs}
    floats = value_streams("float", args.steps)
    run_values(*value_streams("float", 10_000))  # warm up
    for _ in range(args.rounds):
        for label, plugins in configs.items():
            timings[label].append(run_values(*floats, plugins))

    print("Per-step cost of update_training_progress(step, loss, accuracy), Python floats")
    print(
        f"({args.steps:,} steps per run, median of {args.rounds} interleaved rounds, "
        f"Python {sys.version.split()[0]})"
    )
    base = statistics.median(timings["no reporter"])
    for label, values in timings.items():
        median = statistics.median(values)
        print(f"  {label:<40} {median * 1e6:7.3f} us/step   x{median / base:5.2f} of no reporter")

    try:
        import jax  # noqa: F401
    except ImportError:
        pass
    else:
        print_jax_values(max(args.steps // 4, 1_000), args.rounds)

    local = [name for name in reporters if name != "mlflow"]  # MLflow's pace is its store's
    in_steps = [run_in_steps(local, 100_000, 1_000) for _ in range(args.rounds)]
    in_epochs = [run_in_epochs(local, 100, 1_000) for _ in range(args.rounds)]
    print(f"{', '.join(local)}: 100,000 training steps (per step reported, validation steps included):")
    print(f"  {'100 epochs of 1,000, each validated':<40} {statistics.median(in_epochs) * 1e6:7.3f} us/step")
    label = "in steps, 10 validation steps every 1,000"
    print(f"  {label:<40} {statistics.median(in_steps) * 1e6:7.3f} us/step")

    at_probe, at_end = memory_growth(reporters)
    print("Memory, every reporter, traced by tracemalloc:")
    print(f"  after  10,000 steps: {at_probe / 1024:9.1f} KiB")
    print(f"  after 100,000 steps: {at_end / 1024:9.1f} KiB   growth {(at_end - at_probe) / 1024:+.1f} KiB")


if __name__ == "__main__":
    main()
