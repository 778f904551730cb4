"""Training: ``ModelTrainer`` (trainer), its config (config), jitted steps (steps), fit loop
(fit) and run report (run_report), the framework adapters (adapters), batching and prefetch to the
device (batching), the optimizers by name (optimizers), data parallelism over devices
(sharding), several processes (distributed) and ending them together (peers)."""

from __future__ import annotations

from trainscope_jax.training.batching import BatchLoader, prefetch_to_device
from trainscope_jax.training.config import TrainerConfig
from trainscope_jax.training.distributed import DistributedError, ProcessInfo, initialize_distributed
from trainscope_jax.training.fit import EpochResult, FitHistory
from trainscope_jax.training.optimizers import OPTIMIZER_NAMES, make_optimizer
from trainscope_jax.training.peers import PeerFailure, PeerWatch, report_failure, watch_peers
from trainscope_jax.training.sharding import BatchSizeError, DataParallel, DeviceCountError, data_parallel
from trainscope_jax.training.steps import StepResult, TrainState
from trainscope_jax.training.trainer import ModelTrainer

__all__ = [
    "OPTIMIZER_NAMES",
    "BatchLoader",
    "BatchSizeError",
    "DataParallel",
    "DeviceCountError",
    "DistributedError",
    "EpochResult",
    "FitHistory",
    "ModelTrainer",
    "PeerFailure",
    "PeerWatch",
    "ProcessInfo",
    "StepResult",
    "TrainState",
    "TrainerConfig",
    "data_parallel",
    "initialize_distributed",
    "make_optimizer",
    "prefetch_to_device",
    "report_failure",
    "watch_peers",
]
