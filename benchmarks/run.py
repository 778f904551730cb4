"""Run every benchmark, each in its own process, and print its figures.

hatch run bench [overhead] [training]
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHMARKS = {"overhead": HERE / "overhead.py", "training": HERE / "training.py"}


def main() -> None:
    chosen = sys.argv[1:] or list(BENCHMARKS)
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        sys.exit(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}")
    for name in chosen:
        print(f"== {name} ==", flush=True)
        subprocess.run([sys.executable, str(BENCHMARKS[name])], check=True)


if __name__ == "__main__":
    main()
