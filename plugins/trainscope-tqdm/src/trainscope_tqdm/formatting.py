"""How metric values appear in a bar's postfix."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from tqdm import tqdm

_WORD = re.compile(r"[^0-9a-zA-Z]+")
_ACCURACY_WORDS = frozenset({"acc", "accuracy"})


def is_accuracy_like(name: str) -> bool:
    """True for a metric shown as a percentage: a name with the word ``acc`` or ``accuracy``.

    Words are separated by anything but letters and digits, so ``accuracy``,
    ``val_acc``, ``top5_accuracy`` and ``train/acc`` match; ``accel`` does not.
    """
    return any(word in _ACCURACY_WORDS for word in _WORD.split(name.lower()))


def format_value(name: str, value: float) -> str:
    """``65.23%`` for an accuracy-like fraction, else 3 significant digits (``1.31``)."""
    if not math.isfinite(value):
        return str(value)  # nan, inf, -inf
    if is_accuracy_like(name):
        return f"{value * 100:.2f}%"
    return str(tqdm.format_num(value))


def format_postfix(metrics: Mapping[str, float]) -> str:
    """``loss=1.31, accuracy=65.23%``: every metric, in the order given."""
    return ", ".join(f"{name}={format_value(name, value)}" for name, value in metrics.items())
