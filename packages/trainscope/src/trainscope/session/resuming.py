"""A resumed run: its point asked of the plugins, checked against the new declaration, and where
the loop must go on (the next epoch, or the next training step)."""

from __future__ import annotations

import os

from trainscope.plugins import PluginManager
from trainscope.resume import ResumeError, ResumePoint
from trainscope.run import RunInfo
from trainscope.values import check_count


def resume_run(run: RunInfo, hooks: PluginManager, resume: str | os.PathLike[str], at: int | None) -> None:
    """Make ``run`` the continuation of the run ``resume`` names: its id, and ``run.resumed``."""
    if run.process_count > 1:
        raise ResumeError(
            f"cannot resume {os.fspath(resume)!r} in a run of {run.process_count} processes: resuming "
            "is for a run of one process for now; start a new run"
        )
    at = check_count("resume_at", at, minimum=0, allow_none=True)
    point = hooks.resume_point(run, os.fspath(resume), at)
    in_steps = run.epochs is None
    if (point.epoch is None) != in_steps:
        kind = "in steps" if point.epoch is None else "in epochs"
        raise ResumeError(
            f"cannot resume {point.log!r}: that run was declared {kind}, this one "
            f"{'in steps' if in_steps else 'in epochs'}: declare it as the run you resume"
        )
    if point.name != run.name:
        raise ResumeError(
            f"cannot resume {point.log!r}: it is a run of {point.name!r}, not {run.name!r}: "
            f"give model_name={point.name!r}, or start a new run"
        )
    if run.epochs is not None and point.epoch is not None and point.epoch >= run.epochs:
        raise ResumeError(
            f"cannot resume {point.log!r} with epochs={run.epochs}: its first {point.epoch} epochs are "
            f"done; declare more epochs (epochs={point.epoch + 1} or more)"
        )
    if run.total_steps is not None and point.step is not None and point.step >= run.total_steps:
        raise ResumeError(
            f"cannot resume {point.log!r} with total_steps={run.total_steps}: its first {point.step} steps "
            f"are done; declare more steps (total_steps={point.step + 1} or more)"
        )
    run.run_id = point.run_id
    run.resumed = point


def check_first_epoch(point: ResumePoint, epoch: int) -> None:
    """A resumed run in epochs starts with the epoch after its point."""
    if epoch != point.next_epoch:
        raise ResumeError(
            f"start_epoch({epoch}) in a run resumed {point.describe()}: start with epoch "
            f"{point.next_epoch} (restore the checkpoint of epoch {point.epoch} and go on from there)"
        )


def check_first_step(point: ResumePoint, step: int) -> None:
    """A resumed run in steps reports training steps after its point."""
    if point.step is not None and step <= point.step:
        raise ResumeError(
            f"training step {step} reported in a run resumed {point.describe()}: report steps from "
            f"{point.next_step} on (restore the checkpoint of step {point.step} and skip the batches done)"
        )


def run_elapsed(run: RunInfo) -> float:
    """Seconds the run has trained, its earlier parts included."""
    earlier = run.resumed.elapsed if run.resumed is not None else 0.0
    return earlier + run.elapsed()


def epochs_left_of_this_part(run: RunInfo) -> int | None:
    """The epochs this part of the run trains (all of them, unless it resumed)."""
    if run.epochs is None:
        return None
    done = run.resumed.epoch if run.resumed is not None and run.resumed.epoch is not None else 0
    return run.epochs - done


def steps_left_of_this_part(run: RunInfo) -> int | None:
    """The training steps this part of a run in steps trains (all, unless it resumed)."""
    if run.total_steps is None:
        return None
    done = run.resumed.step if run.resumed is not None and run.resumed.step is not None else 0
    return max(0, run.total_steps - done)


__all__ = [
    "check_first_epoch",
    "check_first_step",
    "epochs_left_of_this_part",
    "resume_run",
    "run_elapsed",
    "steps_left_of_this_part",
]
