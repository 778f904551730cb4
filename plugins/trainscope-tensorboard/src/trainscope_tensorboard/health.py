"""A run's health figures as TensorBoard scalars, and its alerts as text (see the run-health guide).

At each epoch end (each evaluation in the middle of training): the step times, the time the
loop waited for data and for the device (and its shares), and the whole run's elapsed time and
ETA, under ``health/``; figures the run does not know are left out.
"""

from __future__ import annotations

from trainscope.plugin_api import EpochSummary, EvaluationSummary

HEALTH_PREFIX = "health"
"""The tags' first part: ``health/step_time_median``..."""
ALERTS_TAG = "alerts"
"""The text tag of the alerts (TensorBoard shows it as ``alerts/text_summary``), each at its step."""
LEFT_OUT = ("straggler",)
"""Numbers of ``PhaseHealth.as_dict()`` that are no figure to plot (the straggler's process index)."""


def health_scalars(summary: EpochSummary | EvaluationSummary) -> dict[str, float]:
    """Tag -> value of each known number of the training's figures (``step_time_median``,
    ``data_share``...: see the JSON-lines log's ``health``), then ``run_elapsed`` and ``run_eta``."""
    figures = {} if summary.health is None else summary.health.as_dict()
    figures.update(run_elapsed=summary.run_elapsed, run_eta=summary.run_eta)
    return {
        f"{HEALTH_PREFIX}/{name}": float(value)
        for name, value in figures.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool) and name not in LEFT_OUT
    }


__all__ = ["ALERTS_TAG", "HEALTH_PREFIX", "LEFT_OUT", "health_scalars"]
