"""The run's x-axis: a step number that only grows over the whole run."""

from __future__ import annotations

from collections.abc import Sequence


class GlobalStep:
    """Training steps done so far in the run, across epochs.

    A training step ``s`` of an epoch maps to ``offset + s``, the offset being where the
    previous epoch's training ended (one further when the epoch counts from 0), so the
    numbers never repeat, whether or not the steps per epoch are known. Validation has
    no steps of its own on this axis: it is logged at :attr:`current`, the training
    step it follows.
    """

    __slots__ = ("_epoch", "_offset", "current")

    def __init__(self) -> None:
        self.current = 0
        """The last global training step (0 before any)."""
        self._offset = 0
        self._epoch: int | None = None

    def training(self, epoch: int, steps: Sequence[int]) -> int:
        """The offset that turns ``steps`` (training steps of ``epoch``) into global steps."""
        if not steps:
            return self._offset
        if epoch != self._epoch:
            self._epoch = epoch
            self._offset = self.current + max(0, 1 - steps[0])
        self.current = max(self.current, self._offset + steps[-1])
        return self._offset


__all__ = ["GlobalStep"]
