"""Every environment variable the mlflow reporter reads, declared once.

MLflow's own variables apply as usual: ``MLFLOW_TRACKING_URI`` (where runs go; MLflow's
default local store when unset), ``MLFLOW_EXPERIMENT_NAME`` or ``MLFLOW_EXPERIMENT_ID``
(the experiment; default: one named after the run), and its authentication variables.
"""

from __future__ import annotations

TRAINSCOPE_MLFLOW_TIMEOUT = "TRAINSCOPE_MLFLOW_TIMEOUT"
"""Seconds to wait for the tracking server (default ``10``): to connect when the run starts, then
for the metrics queued during the run to be accepted; past it the reporter stops with an error."""

TRAINSCOPE_MLFLOW_LOG_EVERY = "TRAINSCOPE_MLFLOW_LOG_EVERY"
"""Log the metrics of every N-th step only (default ``1``: every step), for a store slower than the
training; the epoch means are always logged."""

__all__ = ["TRAINSCOPE_MLFLOW_LOG_EVERY", "TRAINSCOPE_MLFLOW_TIMEOUT"]
