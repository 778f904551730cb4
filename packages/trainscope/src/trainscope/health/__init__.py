"""Run health: why a run is slow or going wrong, while it runs.

``step_times`` (median, p90, max, outliers of a phase's step times), ``alerts`` (non-finite
values, loss spikes), ``figures`` (a phase's figures, the verdicts and their words), ``eta``
(the whole run's time to go) and ``tracker`` (what a session keeps of them while it runs).
"""

from trainscope.health.alerts import Alert, AlertKind
from trainscope.health.figures import PhaseHealth, Verdict
from trainscope.health.tracker import WaitKind

__all__ = ["Alert", "AlertKind", "PhaseHealth", "Verdict", "WaitKind"]
