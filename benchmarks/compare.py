"""The per-step reporting cost of two versions of the code, side by side in one run.

Checks out ``--base`` (a git ref) into a temporary worktree and measures, in rounds
that alternate between the base and the working tree, the amortized time per
``update_training_progress`` call: with no reporter, with every reporter the base
has (``--plugins``), and with JAX 0-d arrays as values. Each measurement runs in a
fresh process that imports the packages of that tree first. Prints the medians and
the difference, which is what a change near the per-step path must state.

    python benchmarks/compare.py --base main~5 [--steps N] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MEASURE = r"""
import contextlib, json, os, sys, time
from trainscope import TrainingSession

steps, plugins = int(sys.argv[1]), [p for p in sys.argv[2].split(",") if p]

def run(plugins, values, steps):
    loss, accuracy = values
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null), contextlib.redirect_stderr(null):
        with TrainingSession("Bench", 1, steps, plugins=list(plugins)) as session:
            session.start_epoch(1)
            update = session.update_training_progress
            start = time.perf_counter()
            for step in range(1, steps + 1):
                update(step, loss, accuracy)
            session.finish_training_epoch()
            return (time.perf_counter() - start) / steps

floats = (0.5, 0.25)
run([], floats, 10_000)
out = {"no reporter": run([], floats, steps), "every reporter": run(plugins, floats, steps)}
import jax.numpy as jnp
arrays = (jnp.asarray(0.5, jnp.float32), jnp.asarray(0.25, jnp.float32))
run([], arrays, 20_000)
out["no reporter, JAX 0-d arrays"] = run([], arrays, steps // 4)
print(json.dumps(out))
"""


def source_paths(tree: Path) -> list[str]:
    """Every package's ``src`` folder in ``tree``, so that its code is imported first."""
    return [str(path) for path in sorted(tree.glob("packages/*/src")) + sorted(tree.glob("plugins/*/src"))]


def measure(tree: Path, steps: int, plugins: str, log_dir: str) -> dict[str, float]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(source_paths(tree)),
        "TRAINSCOPE_LOG_DIR": log_dir,
        "MLFLOW_TRACKING_URI": f"sqlite:///{log_dir}/mlflow.db",
    }
    env.pop("TRAINSCOPE_PLUGINS", None)
    output = subprocess.run(
        [sys.executable, "-c", MEASURE, str(steps), plugins],
        env=env,
        cwd=log_dir,  # MLflow keeps a local store's artifacts in the working folder
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="git ref of the code to compare against")
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--plugins", default="tqdm,summary,arch,jsonl", help="the reporters of 'every reporter'"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="trainscope-base-") as scratch:
        base_tree = Path(scratch) / "base"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(base_tree), args.base],
            check=True,
        )
        try:
            trees = {f"base ({args.base})": base_tree, "working tree": ROOT}
            timings: dict[str, dict[str, list[float]]] = {label: {} for label in trees}
            for _ in range(args.rounds):
                for label, tree in trees.items():
                    for name, seconds in measure(tree, args.steps, args.plugins, scratch).items():
                        timings[label].setdefault(name, []).append(seconds)
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base_tree)], check=True
            )

    print(
        f"Per-step cost, median of {args.rounds} interleaved rounds of {args.steps:,} steps ({args.plugins})"
    )
    (base_label, base), (head_label, head) = timings.items()
    print(f"  {'':<30} {base_label:>22} {head_label:>16} {'difference':>12}")
    for name in base:
        before, after = statistics.median(base[name]) * 1e6, statistics.median(head[name]) * 1e6
        print(f"  {name:<30} {before:19.3f} us {after:13.3f} us {after - before:+9.3f} us")


if __name__ == "__main__":
    main()
