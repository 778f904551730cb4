"""Rules about metric names that every reporter shares."""

from __future__ import annotations

import re

_WORD = re.compile(r"[^0-9a-zA-Z]+")
_ACCURACY_WORDS = frozenset({"acc", "accuracy"})


def is_accuracy_like(name: str) -> bool:
    """True for a metric shown as a percentage: a name with the word ``acc`` or ``accuracy``.

    Words are separated by anything but letters and digits, so ``accuracy``,
    ``val_acc``, ``top5_accuracy`` and ``train/acc`` match; ``accel`` does not.
    Accuracy-like values are fractions in [0, 1].
    """
    return any(word in _ACCURACY_WORDS for word in _WORD.split(name.lower()))
