"""Training: ``ModelTrainer`` and its jitted steps (trainer), batching and prefetch to the
device (batching), and the optimizers by name (optimizers)."""

from __future__ import annotations

from trainscope_jax.training.batching import BatchLoader, prefetch_to_device
from trainscope_jax.training.optimizers import OPTIMIZER_NAMES, make_optimizer
from trainscope_jax.training.trainer import (
    EpochResult,
    FitHistory,
    ModelTrainer,
    StepResult,
    TrainerConfig,
    TrainState,
)

__all__ = [
    "OPTIMIZER_NAMES",
    "BatchLoader",
    "EpochResult",
    "FitHistory",
    "ModelTrainer",
    "StepResult",
    "TrainState",
    "TrainerConfig",
    "make_optimizer",
    "prefetch_to_device",
]
