"""Every environment variable the mlflow reporter reads, declared once.

MLflow's own variables apply as usual: ``MLFLOW_TRACKING_URI`` (where runs go; MLflow's
default local store when unset), ``MLFLOW_EXPERIMENT_NAME`` or ``MLFLOW_EXPERIMENT_ID``
(the experiment; default: one named after the run), and its authentication variables.
"""

from __future__ import annotations

TRAINSCOPE_MLFLOW_TIMEOUT = "TRAINSCOPE_MLFLOW_TIMEOUT"
"""Seconds to wait for the tracking store (default ``10``), for each MLflow call of the reporter, MLflow's
retries included: to reach the server and create the run when the run starts (past it the run stops
before training), and at the end for the metrics still spooled, the status and the upload of the log
(past it the reporter gives up with one warning). During the run the training never waits for it."""

TRAINSCOPE_MLFLOW_LOG_EVERY = "TRAINSCOPE_MLFLOW_LOG_EVERY"
"""Log the metrics of every N-th step only (default ``1``: every step); the reporter doubles it
during the run when the store takes fewer steps than the training makes. The epoch means are
always logged."""

__all__ = ["TRAINSCOPE_MLFLOW_LOG_EVERY", "TRAINSCOPE_MLFLOW_TIMEOUT"]
