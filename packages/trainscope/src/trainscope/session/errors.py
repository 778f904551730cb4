"""The errors a session raises, and their wording: each names what was called out of order
and the call that comes first."""

from __future__ import annotations

import threading

from trainscope.session.states import State

START = "start_training() (or `with TrainingSession(...)`)"
"""What comes before every other call."""


class StepOrderWarning(UserWarning):
    """Step numbers went backwards within a phase (shown once per session)."""


class SessionStateError(RuntimeError):
    """A ``TrainingSession`` method was called out of order."""


class RunEndedError(SessionStateError):
    """A session was called after another thread ended its run (:meth:`TrainingSession.end`):
    a multi-process run's peer watcher, when another process failed. ``cause`` is that end's error."""

    def __init__(self, message: str, cause: BaseException | None) -> None:
        super().__init__(message)
        self.cause = cause


def called_before(method: str, missing: str) -> SessionStateError:
    """``method`` came before ``missing``, which must come first."""
    return SessionStateError(f"{method}() called before {missing}: call {missing} first")


def called_after_end(method: str) -> SessionStateError:
    return SessionStateError(f"{method}() called after the run ended")


def ended_elsewhere(method: str, status: str, error: BaseException | None) -> RunEndedError:
    """A call after another thread ended the run as ``status``."""
    because = f": {type(error).__name__}: {error}" if error is not None else ""
    return RunEndedError(
        f"{method}() called after the run was ended as {status} from another thread{because}", error
    )


def called_from_reporter(method: str) -> SessionStateError:
    return SessionStateError(
        f"{method}() called from inside a reporter's hook: a reporter must not drive the "
        "session it reports on (steps and phases would reach the reporters while they are "
        "being reported); call it from the training loop"
    )


def called_from_other_thread(method: str) -> SessionStateError:
    return SessionStateError(
        f"{method}() called from thread {threading.current_thread().name!r}, but this run "
        "started on another thread: a TrainingSession is not thread-safe; report every step "
        "from the thread that started the run (hand results to it, e.g. through a queue)"
    )


def not_in_steps(method: str, instead: str) -> SessionStateError:
    """An epoch method called in a run declared in steps."""
    return SessionStateError(f"{method}() called in a run declared in steps: {instead}")


def refused(method: str, state: State, *, in_steps: bool, epoch: int | None) -> SessionStateError:
    """The error for ``method`` in ``state``, where the transition table has no entry for it."""
    if state is State.NEW:
        return called_before(method, START)
    if state is State.ENDED:
        return called_after_end(method)
    if state is State.IDLE and not in_steps:
        return called_before(method, "start_epoch(epoch)")
    where = "of the run" if in_steps else f"of epoch {epoch}"
    validating = state in (State.VALIDATING, State.VALIDATING_PAUSED)
    if method == "update_training_progress":
        if validating:
            return SessionStateError(
                f"{method}() called while a validation phase {where} is open: "
                "call finish_validation_epoch() first, then training resumes"
            )
        return SessionStateError(
            f"{method}() called after the training phase {where} ended "
            "(finish_training_epoch(), or start_validation() after its last step): "
            "call start_epoch(epoch) for the next epoch"
        )
    if method == "update_validation_progress":
        if state in (State.PAUSED, State.VALIDATED):
            return SessionStateError(
                f"{method}() called after finish_validation_epoch(): that validation has ended; "
                "call start_validation() to start another"
            )
        phase_state = "ended" if state is State.TRAINED else "open"
        return SessionStateError(
            f"{method}() called while the training phase {where} is {phase_state}: "
            "call start_validation() first"
        )
    if method == "start_validation":
        if validating:
            return SessionStateError(
                "start_validation() called while a validation phase is open: "
                "call finish_validation_epoch() first"
            )
        return SessionStateError(
            f"validation of epoch {epoch} already ran; call start_epoch() for the next epoch before "
            "start_validation()"
        )
    if method == "finish_training_epoch":
        return SessionStateError(
            "finish_training_epoch() called while the validation phase is open: "
            "call finish_validation_epoch() first"
        )
    return SessionStateError(f"{method}() called while the run is {state.value}")


__all__ = [
    "RunEndedError",
    "SessionStateError",
    "StepOrderWarning",
    "called_after_end",
    "called_before",
    "called_from_other_thread",
    "called_from_reporter",
    "ended_elsewhere",
    "not_in_steps",
    "refused",
]
