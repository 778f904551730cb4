"""Live tqdm progress bars for trainscope runs: one bar per phase with rate, ETA and running-mean metrics."""

from __future__ import annotations

__version__ = "0.1.0"

from trainscope_tqdm.bar import ProgressBar
from trainscope_tqdm.formatting import format_postfix, format_value, is_accuracy_like
from trainscope_tqdm.options import BarOptions, OptionWarning
from trainscope_tqdm.plugin import configure
from trainscope_tqdm.reporter import TqdmReporter

__all__ = [
    "BarOptions",
    "OptionWarning",
    "ProgressBar",
    "TqdmReporter",
    "__version__",
    "configure",
    "format_postfix",
    "format_value",
    "is_accuracy_like",
]
