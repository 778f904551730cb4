"""The states of a run and the transitions between them, as tables: what may follow what.

A run declared in epochs and a run declared in steps share most transitions; each has a
table. A call whose ``(state, event)`` is in no table is refused with an error that says
what comes first (:func:`trainscope.session.errors.refused`).
"""

from __future__ import annotations

import enum


class State(enum.Enum):
    """Where a run is; the value is how an error names it."""

    NEW = "not started"
    IDLE = "started, with no phase open"
    """Between epochs; in a run declared in steps, before its first training step."""
    TRAINING = "training"
    VALIDATING = "validating after its training"
    """A validation with no training to resume: the epoch's training ended (or none ran yet)."""
    VALIDATING_PAUSED = "validating in the middle of training"
    PAUSED = "paused after a validation"
    """A validation in the middle of training ended: the next training step resumes training."""
    TRAINED = "past its training phase"
    VALIDATED = "past its validation"
    ENDED = "ended"


class Event(enum.Enum):
    """What moves a run from one state to the next."""

    START = "start the run"
    START_EPOCH = "start an epoch (and its training phase)"
    OPEN_TRAINING = "open the training phase at its first step (a run in steps)"
    RESUME = "resume training at a training step"
    VALIDATE = "start a validation with no training to resume"
    VALIDATE_PAUSING = "start a validation that pauses training"
    END_VALIDATION = "end the validation"
    END_TRAINING = "end the training phase"
    END_EPOCH = "end the epoch"
    FINISH = "end the run as completed"


Transitions = dict[tuple[State, Event], State]

_COMMON: Transitions = {
    (State.NEW, Event.START): State.IDLE,
    (State.TRAINING, Event.VALIDATE): State.VALIDATING,
    (State.TRAINING, Event.VALIDATE_PAUSING): State.VALIDATING_PAUSED,
    (State.PAUSED, Event.VALIDATE_PAUSING): State.VALIDATING_PAUSED,
    (State.TRAINED, Event.VALIDATE): State.VALIDATING,
    (State.VALIDATING, Event.END_VALIDATION): State.VALIDATED,
    (State.VALIDATING_PAUSED, Event.END_VALIDATION): State.PAUSED,
    (State.PAUSED, Event.RESUME): State.TRAINING,
    (State.TRAINING, Event.END_TRAINING): State.TRAINED,
    (State.PAUSED, Event.END_TRAINING): State.VALIDATED,  # a validation of this training ran
}

IN_EPOCHS: Transitions = {
    **_COMMON,
    (State.IDLE, Event.START_EPOCH): State.TRAINING,  # an open epoch ends first
    (State.TRAINED, Event.END_EPOCH): State.IDLE,
    (State.VALIDATED, Event.END_EPOCH): State.IDLE,
    (State.IDLE, Event.FINISH): State.ENDED,
}
"""A run declared in epochs: each epoch opens with its training phase, then may validate
(once after its training, any number of times in the middle of it)."""

IN_STEPS: Transitions = {
    **_COMMON,
    (State.IDLE, Event.OPEN_TRAINING): State.TRAINING,
    (State.VALIDATED, Event.OPEN_TRAINING): State.TRAINING,  # validations before any training
    (State.IDLE, Event.VALIDATE): State.VALIDATING,
    (State.VALIDATED, Event.VALIDATE): State.VALIDATING,
    (State.IDLE, Event.FINISH): State.ENDED,
    (State.TRAINED, Event.FINISH): State.ENDED,
    (State.VALIDATED, Event.FINISH): State.ENDED,
}
"""A run declared in steps: one training phase, which validations pause."""

ACCEPTS_STEPS = {
    State.TRAINING: "train",
    State.VALIDATING: "validation",
    State.VALIDATING_PAUSED: "validation",
}
"""The states with an open phase, and that phase's name."""

__all__ = ["ACCEPTS_STEPS", "IN_EPOCHS", "IN_STEPS", "Event", "State", "Transitions"]
