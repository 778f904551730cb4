"""The training session: :class:`TrainingSession` and the errors it raises.

One module per concern (each says what it owns): ``facade`` (the public class), ``states``
(the state enum and transition tables), ``phases`` (the state machine: phases, their
figures, the hooks), ``pipeline`` (step buffer, flush policy, device readiness, conversion),
``intervals`` (evaluation intervals and throughput), ``summaries`` (snapshots and summaries
for reporters), ``lifecycle`` (start and end), ``ownership`` (who may call, and the
one end gate), ``arguments`` (checks and normalisation) and ``errors`` (errors and wording).
"""

from trainscope.session.errors import RunEndedError, SessionStateError, StepOrderWarning
from trainscope.session.facade import TrainingSession
from trainscope.session.pipeline import MAX_BATCH

__all__ = ["MAX_BATCH", "RunEndedError", "SessionStateError", "StepOrderWarning", "TrainingSession"]
