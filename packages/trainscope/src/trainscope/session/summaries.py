"""What reporters receive of the session's state: snapshots of a phase, and the epoch and
evaluation summaries with the run's health figures and ETA."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence

from trainscope.health.eta import eta_in_epochs, eta_in_steps
from trainscope.health.figures import PhaseHealth
from trainscope.run import EpochSummary, EvaluationSummary, PhaseInfo, PhaseName, RunInfo
from trainscope.session.resuming import epochs_left_of_this_part, run_elapsed, steps_left_of_this_part


def snapshot(phase: PhaseInfo) -> PhaseInfo:
    """A copy of ``phase`` as it is now, for a reporter to keep."""
    copied = copy.copy(phase)
    copied.metrics = dict(phase.metrics)
    copied.interval_metrics = dict(phase.interval_metrics)
    return copied


def compiling(train: PhaseInfo | None) -> float:
    """What a training phase took beyond its steps at their mean time (its first step compiles)."""
    health = None if train is None else train.health
    if train is None or health is None or health.step_time_mean is None:
        return 0.0
    return max(0.0, train.elapsed - health.step_time_mean * train.steps)


def epoch_summary(
    run: RunInfo,
    epoch: int,
    means: Mapping[PhaseName, dict[str, float] | None],
    duration: float,
    train: PhaseInfo | None,
    done: Sequence[EpochSummary],
) -> EpochSummary:
    """The summary of ``epoch``, which took ``duration`` seconds after the epochs ``done``."""
    durations = [*(summary.duration for summary in done), duration]
    return EpochSummary(
        epoch=epoch,
        train=means.get("train"),
        validation=means.get("validation"),
        duration=duration,
        throughput=train.throughput if train is not None else None,
        health=train.health if train is not None else None,
        run_elapsed=run_elapsed(run),
        run_eta=eta_in_epochs(durations, epochs_left_of_this_part(run), compiling(train)),
    )


def with_run_figures(
    summary: EvaluationSummary,
    health: PhaseHealth,
    run: RunInfo,
    train: PhaseInfo,
    validations: Sequence[float],
) -> EvaluationSummary:
    """``summary`` with the interval's health, and the run's elapsed time and ETA (a run in steps)."""
    in_steps = run.epochs is None
    return dataclasses.replace(
        summary,
        health=health,
        run_elapsed=run_elapsed(run),
        run_eta=eta_in_steps(train.steps, steps_left_of_this_part(run), train.elapsed, validations)
        if in_steps
        else None,
    )


__all__ = ["compiling", "epoch_summary", "snapshot", "with_run_figures"]
