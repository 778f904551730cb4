"""How metric values appear in a bar's postfix."""

from __future__ import annotations

import math
from collections.abc import Mapping

from tqdm import tqdm

from trainscope.plugin_api import is_accuracy_like, printable


def format_value(name: str, value: float) -> str:
    """``65.23%`` for an accuracy-like fraction, else 3 significant digits (``1.31``)."""
    if not math.isfinite(value):
        return str(value)  # nan, inf, -inf
    if is_accuracy_like(name):
        return f"{value * 100:.2f}%"
    return str(tqdm.format_num(value))


def format_postfix(metrics: Mapping[str, float]) -> str:
    """``loss=1.31, accuracy=65.23%``: every metric, in the order given (control characters
    in names replaced, so that they cannot act on the terminal)."""
    return ", ".join(f"{printable(name)}={format_value(name, value)}" for name, value in metrics.items())
