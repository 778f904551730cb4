"""The reporter's settings, read from the environment when a run starts."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

from trainscope.plugin_api import printable
from trainscope_mlflow import environment_variables as env_vars
from trainscope_mlflow.tracking import MlflowTrackingError

DEFAULT_TIMEOUT = 10.0
"""Seconds ``TRAINSCOPE_MLFLOW_TIMEOUT`` defaults to."""


def _raw(variable: str, environ: Mapping[str, str] | None) -> str:
    return (os.environ if environ is None else environ).get(variable, "").strip()


def tracking_timeout(environ: Mapping[str, str] | None = None) -> float:
    """``TRAINSCOPE_MLFLOW_TIMEOUT`` in seconds, or :class:`MlflowTrackingError` naming a bad value."""
    raw = _raw(env_vars.TRAINSCOPE_MLFLOW_TIMEOUT, environ)
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not (seconds > 0 and math.isfinite(seconds)):
        raise MlflowTrackingError(
            f"{env_vars.TRAINSCOPE_MLFLOW_TIMEOUT}={printable(raw)!r} is not a number of seconds above 0; "
            f"set it to e.g. {DEFAULT_TIMEOUT:g}, or unset it"
        )
    return seconds


def log_every(environ: Mapping[str, str] | None = None) -> int:
    """``TRAINSCOPE_MLFLOW_LOG_EVERY`` (default 1), or :class:`MlflowTrackingError` naming a bad value."""
    raw = _raw(env_vars.TRAINSCOPE_MLFLOW_LOG_EVERY, environ)
    if not raw:
        return 1
    try:
        every = int(raw)
    except ValueError:
        every = 0
    if every < 1:
        raise MlflowTrackingError(
            f"{env_vars.TRAINSCOPE_MLFLOW_LOG_EVERY}={printable(raw)!r} is not a whole number of steps "
            "of 1 or more; set it to e.g. 10, or unset it to log every step"
        )
    return every


__all__ = ["DEFAULT_TIMEOUT", "log_every", "tracking_timeout"]
