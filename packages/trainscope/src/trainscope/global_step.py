"""The run's x-axis: a step number that only grows over the whole run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trainscope.run import RunInfo


class GlobalStep:
    """Training steps done so far in the run, across epochs.

    A training step ``s`` of an epoch maps to ``offset + s``. An epoch whose first step
    is above the previous epoch's last goes on with the run's numbering (a loop that counts
    steps across epochs keeps its numbers); one that numbers afresh (from 1, or from 0)
    starts after the previous epoch's last global step, so the numbers never repeat,
    whether or not the steps per epoch are known. Validation has no steps of its own on
    this axis: it is logged at :attr:`current`, the training step it follows. The rule is
    the run log reader's (``trainscope_jsonl.GlobalStep``), so ``trainscope log`` plots on
    the same axis as TensorBoard and MLflow.
    """

    __slots__ = ("_epoch", "_last", "_offset", "current")

    def __init__(self) -> None:
        self.current = 0
        """The last global training step (0 before any)."""
        self._offset = 0
        self._epoch: int | None = None
        self._last = 0
        """The last training step as reported."""

    @classmethod
    def continued(cls, current: int, last_reported: int, epoch: int | None) -> GlobalStep:
        """The axis of a resumed run: ``current`` global steps kept, the last of them reported as
        step ``last_reported`` of ``epoch`` (see :class:`trainscope.resume.ResumePoint`)."""
        axis = cls()
        axis.current, axis._last, axis._epoch = current, last_reported, epoch
        axis._offset = current - last_reported
        return axis

    @classmethod
    def for_run(cls, run: RunInfo) -> GlobalStep:
        """A new run's axis, or a resumed run's going on from its point."""
        point = run.resumed
        if point is None:
            return cls()
        return cls.continued(point.global_step, point.last_reported_step, point.epoch)

    def training(self, epoch: int, steps: Sequence[int]) -> int:
        """The offset that turns ``steps`` (training steps of ``epoch``) into global steps."""
        if not steps:
            return self._offset
        if epoch != self._epoch:
            self._epoch = epoch
            if steps[0] <= self._last:  # numbered afresh: start after the last global step
                self._offset = self.current + max(0, 1 - steps[0])
        self._last = steps[-1]
        self.current = max(self.current, self._offset + steps[-1])
        return self._offset


__all__ = ["GlobalStep"]
