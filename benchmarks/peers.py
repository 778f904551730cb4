"""Reporting cost against peers (tqdm, rich, Keras's Progbar, MLflow's own logging), one process each.

Every configuration reports the same float metrics (loss and accuracy) for ``--updates``
steps, with its output sent to a file, in a fresh process of its own; rounds interleave
the configurations and medians are printed, with the ratio to the bare loop and to the
session with the core four reporters (tqdm, arch, summary, jsonl). The time is what the
training thread spends, from the first update to the end of the phase, divided by the
updates; ``end`` is the time the run's end then takes (reporters sending what is queued).
The memory is the growth of the resident set from a tenth of the updates to the end.
Peers that are not installed (tqdm, rich, Keras) are left out. MLflow goes to its default
local store in a scratch folder.

``--long N`` then runs every reporter for N updates once and prints the memory along the way.

    python benchmarks/peers.py [--updates N] [--rounds R] [--long N]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, TextIO

CORE = ["tqdm", "arch", "summary", "jsonl"]
"""The core four reporters."""
OWN_LOGGING_UPDATES = 2_000
"""Updates of the row that calls MLflow's own ``log_metrics`` every step (hundreds of us each)."""

Loop = Callable[[int, TextIO], tuple[float, float]]
"""Runs ``n`` updates writing to a file; returns (seconds of the updates, seconds of the end)."""


def values(n: int) -> tuple[list[float], list[float]]:
    return [1.0 / (step + 1) for step in range(n)], [step / n for step in range(n)]


def resident_bytes() -> int:
    """The resident set of this process now (Linux), else its peak."""
    with contextlib.suppress(OSError):
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)


class Probe:
    """Resident memory at a tenth of the updates and at the end (and at ``marks``, for --long)."""

    def __init__(self, n: int, marks: Sequence[int] = ()) -> None:
        self.at = sorted({max(n // 10, 1), n, *marks})
        self.seen: dict[int, int] = {}

    def __call__(self, step: int) -> None:
        self.seen[step] = resident_bytes()


PROBE: Probe | None = None


def probe_steps(n: int) -> set[int]:
    return set(PROBE.at) if PROBE is not None else set()


def bare(n: int, out: TextIO) -> tuple[float, float]:
    losses, accuracies = values(n)
    marks = probe_steps(n)
    start = time.perf_counter()
    for step, loss, accuracy in zip(range(1, n + 1), losses, accuracies):
        _ = (step, loss, accuracy)
        if step in marks and PROBE is not None:
            PROBE(step)
    return time.perf_counter() - start, 0.0


def tqdm_postfix(n: int, out: TextIO) -> tuple[float, float]:
    from tqdm import tqdm

    losses, accuracies = values(n)
    marks = probe_steps(n)
    bar = tqdm(total=n, file=out, mininterval=0.1)
    start = time.perf_counter()
    last = 0.0
    for step, loss, accuracy in zip(range(1, n + 1), losses, accuracies):
        bar.update(1)
        now = time.monotonic()
        if now - last >= 0.1:
            last = now
            bar.set_postfix(loss=loss, accuracy=accuracy, refresh=False)
        if step in marks and PROBE is not None:
            PROBE(step)
    bar.close()
    return time.perf_counter() - start, 0.0


def keras_progbar(n: int, out: TextIO) -> tuple[float, float]:
    os.environ.setdefault("KERAS_BACKEND", "jax")
    from keras.utils import Progbar  # type: ignore[import-not-found, unused-ignore]

    losses, accuracies = values(n)
    marks = probe_steps(n)
    with contextlib.redirect_stdout(out):
        bar = Progbar(n)
        start = time.perf_counter()
        for step, loss, accuracy in zip(range(1, n + 1), losses, accuracies):
            bar.update(step, values=[("loss", loss), ("accuracy", accuracy)])
            if step in marks and PROBE is not None:
                PROBE(step)
        return time.perf_counter() - start, 0.0


def rich_progress(n: int, out: TextIO) -> tuple[float, float]:
    from rich.console import Console
    from rich.progress import Progress

    losses, accuracies = values(n)
    marks = probe_steps(n)
    with Progress(console=Console(file=out, force_terminal=True)) as progress:
        task = progress.add_task("train", total=n)
        start = time.perf_counter()
        for step, loss, accuracy in zip(range(1, n + 1), losses, accuracies):
            progress.update(task, completed=step, loss=loss, accuracy=accuracy)
            if step in marks and PROBE is not None:
                PROBE(step)
        return time.perf_counter() - start, 0.0


def trainscope_bar(n: int, out: TextIO) -> tuple[float, float]:
    from trainscope_tqdm import ProgressBar

    losses, accuracies = values(n)
    marks = probe_steps(n)
    with contextlib.redirect_stderr(out), contextlib.redirect_stdout(out):
        bar = ProgressBar("Epoch 1/1 (Training)", n)
        start = time.perf_counter()
        for step, loss, accuracy in zip(range(1, n + 1), losses, accuracies):
            bar.update(step, {"loss": loss, "accuracy": accuracy})
            if step in marks and PROBE is not None:
                PROBE(step)
        bar.finish()
        return time.perf_counter() - start, 0.0


def session(plugins: Sequence[str]) -> Loop:
    def loop(n: int, out: TextIO) -> tuple[float, float]:
        from trainscope import TrainingSession

        losses, accuracies = values(n)
        marks = probe_steps(n)
        with contextlib.redirect_stderr(out), contextlib.redirect_stdout(out):
            s = TrainingSession("Bench", 1, n, plugins=list(plugins))
            s.start_training()
            s.start_epoch(1)
            update = s.update_training_progress
            start = time.perf_counter()
            for step, loss, accuracy in zip(range(1, n + 1), losses, accuracies):
                update(step, loss, accuracy)
                if step in marks and PROBE is not None:
                    PROBE(step)
            s.finish_training_epoch()
            trained = time.perf_counter() - start
            s.finish_training()
            return trained, time.perf_counter() - start - trained

    return loop


def mlflow_own(n: int, out: TextIO) -> tuple[float, float]:
    import mlflow

    losses, accuracies = values(n)
    marks = probe_steps(n)
    with contextlib.redirect_stderr(out), contextlib.redirect_stdout(out):
        mlflow.set_experiment("peers")
        with mlflow.start_run():
            start = time.perf_counter()
            for step, loss, accuracy in zip(range(1, n + 1), losses, accuracies):
                mlflow.log_metrics({"loss": loss, "accuracy": accuracy}, step=step)
                if step in marks and PROBE is not None:
                    PROBE(step)
            return time.perf_counter() - start, 0.0


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def reporters() -> list[str]:
    names = {ep.name for ep in entry_points(group="trainscope")}
    return [name for name in [*CORE, "tensorboard", "mlflow"] if name in names]


def configs() -> dict[str, tuple[Loop, int | None]]:
    """Label -> (loop, a cap on its updates or None)."""
    found = reporters()
    rows: dict[str, tuple[Loop, int | None]] = {"bare loop": (bare, None)}
    if installed("tqdm"):
        rows["tqdm, set_postfix every 0.1 s"] = (tqdm_postfix, None)
    if installed("keras"):
        rows["Keras Progbar.update"] = (keras_progbar, None)
    if installed("rich"):
        rows["rich Progress.update"] = (rich_progress, None)
    if installed("trainscope_tqdm"):
        rows["trainscope ProgressBar.update"] = (trainscope_bar, None)
    rows["session, no reporter"] = (session([]), None)
    core = [name for name in CORE if name in found]
    rows[f"session, {'+'.join(core)}"] = (session(core), None)
    for heavy in ("tensorboard", "mlflow"):
        if heavy in found:
            rows[f"session + {heavy} alone"] = (session([heavy]), None)
    rows["session, every reporter"] = (session(found), None)
    if "mlflow" in found:
        rows["MLflow's log_metrics every step"] = (mlflow_own, OWN_LOGGING_UPDATES)
    return rows


def child(label: str, n: int, marks: Sequence[int]) -> None:
    global PROBE
    loop, _ = configs()[label]
    PROBE = Probe(n, marks)
    with tempfile.TemporaryFile("w+") as out:
        trained, ended = loop(n, out)
    first, last = min(PROBE.seen), max(PROBE.seen)
    done: dict[str, object] = {
        "seconds": trained,
        "end": ended,
        "growth": PROBE.seen[last] - PROBE.seen[first],
    }
    done["memory"] = {str(step): size for step, size in sorted(PROBE.seen.items())}
    print(json.dumps(done))


def measure(label: str, n: int, scratch: Path, marks: Sequence[int] = ()) -> dict[str, Any]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TRAINSCOPE_", "MLFLOW_"))}
    env["TRAINSCOPE_LOG_DIR"] = str(scratch / "runs")
    command = [sys.executable, __file__, "--child", label, "--updates", str(n)]
    command += [arg for mark in marks for arg in ("--mark", str(mark))]
    done = subprocess.run(command, cwd=scratch, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{label}: failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@contextlib.contextmanager
def scratch_folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="trainscope-peers-") as folder:
        yield Path(folder)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--long", type=int, default=0, help="then every reporter for this many updates")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--mark", type=int, action="append", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.updates, args.mark)
        return

    rows = configs()
    results: dict[str, list[dict[str, Any]]] = {label: [] for label in rows}
    with scratch_folder() as scratch:
        for label in rows:  # warm up: MLflow creates its store's tables, caches fill
            measure(label, 1_000, scratch)
        for _ in range(args.rounds):
            for label, (_, cap) in rows.items():
                results[label].append(measure(label, min(args.updates, cap or args.updates), scratch))
        long_run = (
            measure("session, every reporter", args.long, scratch, marks(args.long)) if args.long else None
        )

    def median(label: str, key: str) -> float:
        return statistics.median(result[key] for result in results[label])

    def updates(label: str) -> int:
        return min(args.updates, rows[label][1] or args.updates)

    core_label = next(label for label in rows if label.startswith("session, ") and "+" in label)
    core_us = median(core_label, "seconds") / args.updates
    print(
        f"Reporting cost per update, float loss and accuracy ({args.updates:,} updates, each configuration "
        f"its own process, median of {args.rounds} interleaved rounds, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})"
    )
    print(f"  {'':<44} {'us/update':>10} {'x core four':>12} {'end s':>7} {'memory growth':>14}")
    for label in rows:
        seconds = median(label, "seconds") / updates(label)
        shown = label if updates(label) == args.updates else f"{label} ({updates(label):,} updates)"
        growth = median(label, "growth") / 1e6
        print(
            f"  {shown:<44} {seconds * 1e6:10.3f} {seconds / core_us:12.2f} {median(label, 'end'):7.2f} "
            f"{growth:11.2f} MB"
        )
    print(f"  (core four: {core_label.split(', ')[1]}; memory: resident set, from a tenth of the updates on)")
    if long_run is not None:
        print(f"Memory of every reporter over {args.long:,} updates (resident set):")
        for step, size in long_run["memory"].items():
            print(f"  after {int(step):>12,} updates: {size / 1e6:8.1f} MB")
        print(f"  {long_run['seconds'] / args.long * 1e6:.3f} us/update, end {long_run['end']:.2f} s")


def marks(n: int) -> list[int]:
    return sorted({n // 10, n // 4, n // 2, n})


if __name__ == "__main__":
    main()
