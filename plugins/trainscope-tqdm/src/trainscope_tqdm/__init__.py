"""Live tqdm progress bars for trainscope runs: one bar per phase with rate, ETA and running-mean metrics."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
