"""Run every benchmark and print its figures: ``hatch run bench [overhead|training]``."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHMARKS = {"overhead": HERE / "overhead.py", "training": HERE / "training.py"}


def main() -> None:
    chosen = sys.argv[1:] or list(BENCHMARKS)
    for name in chosen:
        if name not in BENCHMARKS:
            sys.exit(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
        print(f"== {name} ==", flush=True)
        sys.argv = [str(BENCHMARKS[name])]
        runpy.run_path(str(BENCHMARKS[name]), run_name="__main__")


if __name__ == "__main__":
    main()
