"""Resuming a run: where a run that ended ``interrupted`` or ``failed`` goes on, as its log says.

``TrainingSession(..., resume=LOG_OR_RUN_ID)`` asks the installed plugins (the ``jsonl``
reporter, through ``trainscope_resume_point``) for the :class:`ResumePoint` of that run. The
resumed run keeps the run id; every reporter sees the point as ``run.resumed`` at
``trainscope_train_start`` and continues the same record (the log, the TensorBoard folder, the
MLflow run) after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from trainscope.plugin_types import PluginFatalError
from trainscope.run import RunStatus


class ResumeError(PluginFatalError, ValueError):
    """The run asked for cannot be resumed (no such log, a completed run, another model's run,
    a point past what the log holds); the message names the run and what to do instead."""


@dataclass(frozen=True)
class ResumePoint:
    """Where a resumed run continues: after epoch :attr:`epoch` (a run in epochs) or after training
    step :attr:`step` (a run in steps). What the log holds after that point is left behind: the
    readers drop it, TensorBoard hides it, and the resumed run reports those steps again."""

    log: str
    """The run log being continued."""
    run_id: str
    """The run's id (the resumed run keeps it)."""
    name: str
    """The run's name."""
    status: RunStatus | None
    """How the run's last part ended; None when its log has no ``run_end`` (the process died)."""
    epoch: int | None
    """A run in epochs: the last epoch kept (0: none); the loop starts the next one. None in steps."""
    step: int | None
    """A run in steps: the last training step kept (0: none); the loop reports the next. None in epochs."""
    global_step: int
    """The last global training step kept (the x axis of every tracker)."""
    last_reported_step: int
    """The kept epoch's last training step as the loop numbered it (how the axis goes on)."""
    elapsed: float
    """Seconds the run trained before, over all its earlier parts."""
    resumes: int = 0
    """How many times the run was resumed before this part."""
    artifacts: Mapping[str, str] = field(default_factory=dict)
    """The files the run's reporters wrote, as its log recorded them."""

    @property
    def next_epoch(self) -> int | None:
        """The epoch the resumed loop starts with (None in a run in steps)."""
        return None if self.epoch is None else self.epoch + 1

    @property
    def next_step(self) -> int | None:
        """The training step the resumed loop reports first (None in a run in epochs)."""
        return None if self.step is None else self.step + 1

    def describe(self) -> str:
        """``after epoch 3`` or ``after step 1200``, for messages."""
        return f"after epoch {self.epoch}" if self.epoch is not None else f"after step {self.step}"


RESUMABLE: tuple[RunStatus | None, ...] = ("interrupted", "failed", None)
"""The ends a run may be resumed after (None: its log has no end, the process died)."""


def no_resume_plugin(resume: str) -> ResumeError:
    """The error for ``resume=`` when no installed plugin can read run logs."""
    return ResumeError(
        f"cannot resume {resume!r}: resuming reads the run's log, and no enabled reporter reads run logs. "
        "Install trainscope-jsonl (pip install trainscope-jsonl) and do not block the 'jsonl' reporter"
    )


__all__ = ["RESUMABLE", "ResumeError", "ResumePoint", "no_resume_plugin"]
