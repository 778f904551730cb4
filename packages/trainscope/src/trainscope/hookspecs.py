"""The training lifecycle as pluggy hooks.

Implementations may accept any subset of a hook's arguments, so arguments can be
added later without breaking plugins. Every hook but one is a notification: return values
are ignored. The exception is ``trainscope_resume_point``, a question the first plugin that
knows answers (``firstresult``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pluggy

from trainscope.health.alerts import Alert
from trainscope.resume import ResumePoint
from trainscope.run import EpochSummary, EvaluationSummary, PhaseInfo, RunInfo, RunStatus, StepRecords

if TYPE_CHECKING:
    import click

PROJECT_NAME = "trainscope"
"""The pluggy project name and the entry-point group plugins are found through."""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Marks a reporter's hook implementations: decorate functions named after the hooks with
``@trainscope.hookimpl``."""

# -- run -----------------------------------------------------------------------


@hookspec
def trainscope_train_start(run: RunInfo) -> None:
    """Called once, before the first epoch.

    :param run: the run: name, run_id, epochs, steps per epoch, validation
        steps, model spec (or None), config and environment.
    """


@hookspec
def trainscope_train_ready(run: RunInfo) -> None:
    """Called once, after ``train_start`` and before the run's first step runs.

    A reporter whose start is slow (an import, a connection) may run it in the background
    from ``train_start`` and wait for it here: a :class:`~trainscope.PluginFatalError` raised
    here still stops the run before any step. The session calls it right after
    ``train_start``, unless the loop deferred it (``TrainingSession.defer_ready``: ``fit``
    does, and calls it once its first step is compiled, so the start overlaps the compilation).

    :param run: the run.
    """


@hookspec
def trainscope_train_end(run: RunInfo, status: RunStatus, error: BaseException | None) -> None:
    """Called exactly once, when the run ends, after every buffered step was reported.

    No other hook of the run is called after it, not even from another thread (in a run of
    several processes, a watcher thread ends this process's run when another process fails).

    :param run: the run.
    :param status: ``"completed"``, ``"interrupted"`` (KeyboardInterrupt) or ``"failed"``.
    :param error: the exception that ended the run, or None when it completed.
    """


# -- epoch ---------------------------------------------------------------------


@hookspec
def trainscope_epoch_start(run: RunInfo, epoch: int) -> None:
    """Called at the start of each epoch.

    :param run: the run.
    :param epoch: the epoch number as given to ``start_epoch`` (1-based by convention).
    """


@hookspec
def trainscope_epoch_end(run: RunInfo, epoch: int, summary: EpochSummary) -> None:
    """Called once per epoch, when it ends (``print_epoch_summary``, the next
    ``start_epoch`` or ``finish_training``).

    :param run: the run.
    :param epoch: the epoch that ended.
    :param summary: the training and validation means (None for a phase that did not run)
        and the epoch's duration in seconds.
    """


@hookspec
def trainscope_evaluation_end(run: RunInfo, summary: EvaluationSummary) -> None:
    """Called when a validation that ran in the middle of training ends (every N steps in a
    run declared in steps, or within an epoch), after its ``trainscope_phase_end``.

    :param run: the run.
    :param summary: the training step it followed, the training means since the previous
        evaluation, this validation's means, and the seconds since the previous evaluation.
    """


# -- phase ---------------------------------------------------------------------


@hookspec
def trainscope_phase_start(run: RunInfo, phase: PhaseInfo) -> None:
    """Called when a training or validation phase starts.

    A validation phase may start while the training phase is open: training is then
    paused (``paused`` is True on the training phase, ``training_step`` on the
    validation phase is the training step it follows), and after the validation's
    ``trainscope_phase_end`` training resumes: its next ``trainscope_progress`` comes
    with the same training ``PhaseInfo``.

    :param run: the run.
    :param phase: the phase: name (``"train"`` or ``"validation"``), epoch, total
        steps (None when unknown); its step, running means and elapsed time update
        as steps are reported.
    """


@hookspec
def trainscope_progress(run: RunInfo, phase: PhaseInfo, records: StepRecords) -> None:
    """Called with a batch of step records, at most every refresh interval and at phase end.

    Every step reaches the reporters exactly once, in order. ``phase.metrics``
    already includes these records in its running means, and a training phase's
    ``phase.interval_metrics`` in its means since the last evaluation.

    :param run: the run.
    :param phase: the phase the steps belong to.
    :param records: the steps since the last call, a sequence of ``StepRecord`` (step
        number, metrics as floats, wall-clock time) that also offers them column by
        column (``records.steps``, ``records.times``, ``records.metrics``).
    """


@hookspec
def trainscope_phase_end(run: RunInfo, phase: PhaseInfo) -> None:
    """Called when a phase finishes; ``phase.metrics`` holds the phase means, with the exact
    results the loop handed with ``report_results`` merged in (a result replaces the mean of
    the same name; the other means stay).

    A training phase paused by a validation has not finished: it ends once, at the end
    of its epoch (or of a run declared in steps). A run that is interrupted or fails
    ends its open phases without ``trainscope_phase_end``: ``trainscope_train_end``
    follows the last ``trainscope_progress``.

    :param run: the run.
    :param phase: the finished phase (``phase.ended`` is True, ``phase.elapsed`` its duration).
    """


# -- health --------------------------------------------------------------------


@hookspec
def trainscope_alert(run: RunInfo, alert: Alert) -> None:
    """Called at once when a flushed batch raises an alert: the first NaN or infinity of a
    metric, or a training loss spike (see the run-health guide for the rules). It follows
    the ``trainscope_progress`` of that batch.

    :param run: the run.
    :param alert: what was found: ``kind``, ``metric``, ``phase``, ``epoch``, ``step``,
        ``value``, and ``message`` (one line to show).
    """


# -- resuming ------------------------------------------------------------------


@hookspec(firstresult=True)
def trainscope_resume_point(run: RunInfo, resume: str, at: int | None) -> ResumePoint | None:
    """Asked once, when a session is created with ``resume=``: where the run ``resume`` names (a
    run log's path, or a run id or its first characters) goes on. The first plugin that keeps
    run logs answers (the ``jsonl`` reporter); the others return None.

    Raise :class:`~trainscope.resume.ResumeError` for a run that cannot be resumed (none found,
    a completed run, another model's run, ``at`` past what its log holds).

    :param run: the run being created (its declaration: epochs or steps, the model's name).
    :param resume: what the user gave.
    :param at: the last epoch (a run in epochs) or training step (in steps) to keep, as the
        user's checkpoint holds it; None for the last the log holds.
    """


# -- command line --------------------------------------------------------------


@hookspec
def trainscope_register_commands(cli: click.Group) -> None:
    """Called when the ``trainscope`` command line is built, to add sub-commands.

    :param cli: the ``trainscope`` click group; call ``cli.add_command(...)``.
    """


HOOK_NAMES: Sequence[str] = tuple(
    name for name in dir() if name.startswith("trainscope_") and callable(globals()[name])
)
"""Every hook name of the specification."""

__all__ = ["HOOK_NAMES", "PROJECT_NAME", "hookimpl", "hookspec"]
