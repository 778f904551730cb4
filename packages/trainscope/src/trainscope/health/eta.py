"""How long the whole run still has to go, validations included, from what it took so far.

- A run in epochs: the epochs left times an epoch's time, the median of the epochs done after
  the first (the first compiles); after the first alone, its time with its training counted
  at its mean step time (the first step, which compiles, left out). An epoch's time holds
  its validation.
- A run in steps with a known total: the training steps left at the training rate so far
  (validations left out), plus the validations still to come (as many as the steps left hold,
  at the interval seen so far) at their mean time.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def eta_in_epochs(
    durations: Sequence[float], epochs: int | None, first_compiled: float = 0.0
) -> float | None:
    """Seconds left after ``len(durations)`` of ``epochs`` epochs that took ``durations``;
    ``first_compiled``: the part of the first epoch that a steady epoch would not take."""
    done = len(durations)
    if not done or epochs is None:
        return None
    left = max(0, epochs - done)
    typical = statistics.median(durations[1:]) if done > 1 else max(0.0, durations[0] - first_compiled)
    return left * typical


def eta_in_steps(
    steps: int,
    total: int | None,
    training_seconds: float,
    validations: Sequence[float],
) -> float | None:
    """Seconds left at training step ``steps`` of ``total``, after ``training_seconds`` of training
    and validations that took ``validations`` (one evaluation each)."""
    if total is None or steps <= 0 or training_seconds <= 0:
        return None
    left = max(0, total - steps)
    eta = left * training_seconds / steps
    if validations:
        interval = steps / len(validations)
        eta += int(left // interval) * statistics.fmean(validations)
    return eta


__all__ = ["eta_in_epochs", "eta_in_steps"]
