"""A run's health in MLflow: the figures as metrics at each epoch's step, the alerts as a run tag
(see the run-health guide).

The figures (``health/step_time_median``, ...) are spooled with the epoch means, never
thinned. The alerts' messages, one a line, are the tag :data:`ALERTS_TAG`, which MLflow shows
on the run's page and lets runs be searched by (``tags.`trainscope.alerts` LIKE '%NaN%'``); it
is sent by the reporter's thread with the next metrics, and again when the run ends.
"""

from __future__ import annotations

import threading
import time

from trainscope.plugin_api import EpochSummary, EvaluationSummary
from trainscope_mlflow.names import truncated
from trainscope_mlflow.spool import Batch

HEALTH_PREFIX = "health"
"""The metrics' first part: ``health/step_time_median``..."""
ALERTS_TAG = "trainscope.alerts"
"""The run tag holding the alerts' messages, one a line."""
MAX_ALERTS_CHARS = 5000
"""The longest the tag gets; later alerts are left out (the JSON-lines log has them all)."""


def _is_figure(name: str, value: object) -> bool:
    """A number to chart (the straggler's process index is none)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and name != "straggler"


def health_batch(summary: EpochSummary | EvaluationSummary, at: int) -> Batch | None:
    """The known numbers of the training's figures (``step_time_median``, ``data_share``...: see
    the JSON-lines log's ``health``), then ``run_elapsed`` and ``run_eta``, as one row of metrics
    at step ``at``; None without any."""
    known = {} if summary.health is None else summary.health.as_dict()
    known.update(run_elapsed=summary.run_elapsed, run_eta=summary.run_eta)
    columns: dict[str, list[float | None]] = {
        name: [float(value)] for name, value in known.items() if _is_figure(name, value)
    }
    return Batch(HEALTH_PREFIX, [0], [time.time()], columns, at=at, thinnable=False) if columns else None


class AlertsTag:
    """The alerts so far, as the tag's value; added to on the training thread, sent from another."""

    def __init__(self) -> None:
        self._text = ""
        self._sent = ""
        self._lock = threading.Lock()

    def add(self, message: str) -> None:
        """One more alert (left out once the tag is full)."""
        with self._lock:
            if len(self._text) < MAX_ALERTS_CHARS:
                joined = f"{self._text}\n{message}" if self._text else message
                self._text = truncated(joined, MAX_ALERTS_CHARS)

    def unsent(self) -> str | None:
        """The tag's value when it changed since the last call, else None."""
        with self._lock:
            if self._text == self._sent:
                return None
            self._sent = self._text
            return self._text


__all__ = ["ALERTS_TAG", "HEALTH_PREFIX", "MAX_ALERTS_CHARS", "AlertsTag", "health_batch"]
