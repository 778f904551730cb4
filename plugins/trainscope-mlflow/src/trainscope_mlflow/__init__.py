"""MLflow tracking for trainscope runs: parameters, step metrics, epoch means, artifacts and status."""

from __future__ import annotations

__version__ = "0.1.0"

from trainscope_mlflow.settings import DEFAULT_TIMEOUT
from trainscope_mlflow.tracking import (
    MLFLOW_STATUS,
    MlflowLoggingError,
    MlflowTrackingError,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "MLFLOW_STATUS",
    "MlflowLoggingError",
    "MlflowTrackingError",
    "__version__",
]
