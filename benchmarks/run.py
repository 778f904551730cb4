"""Run every benchmark, each in its own process, and print its figures.

hatch run bench [overhead] [peers] [training] [first_step] [frameworks] [scale]
hatch run bench compare --base REF   (the per-step cost of REF and the working tree, side by side)
hatch run bench mfu [--batch-sizes ...]   (throughput and MFU of catdog-cnn; meant for a GPU)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHMARKS = {
    "overhead": HERE / "overhead.py",
    "peers": HERE / "peers.py",
    "training": HERE / "training.py",
    "first_step": HERE / "first_step.py",
    "frameworks": HERE / "frameworks.py",
    "scale": HERE / "scale.py",
}
WITH_ARGUMENTS = {"compare": HERE / "compare.py", "mfu": HERE / "mfu.py"}
"""Benchmarks that take their own arguments, run one at a time and never by default."""


def main() -> None:
    if sys.argv[1:2] and sys.argv[1] in WITH_ARGUMENTS:
        subprocess.run([sys.executable, str(WITH_ARGUMENTS[sys.argv[1]]), *sys.argv[2:]], check=True)
        return
    chosen = sys.argv[1:] or list(BENCHMARKS)
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        sys.exit(f"unknown benchmark {unknown[0]!r}; choose from {', '.join([*BENCHMARKS, *WITH_ARGUMENTS])}")
    for name in chosen:
        print(f"== {name} ==", flush=True)
        subprocess.run([sys.executable, str(BENCHMARKS[name])], check=True)


if __name__ == "__main__":
    main()
