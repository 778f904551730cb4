"""``TrainerConfig`` and the checks of a configuration against the devices it trains on.

Owns the hyper-parameters and their validation (dtype, optimizer, sizes), and the checks
that need the selected device: the dtype on that platform, 64-bit JAX, the batch split
across the devices and cross-process collectives on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax

from trainscope_jax.devices.selection import DeviceChoice, check_dtype_supported
from trainscope_jax.training.distributed import cpu_collectives
from trainscope_jax.training.optimizers import Optimizer, check_optimizer
from trainscope_jax.training.sharding import DataParallel

DTYPES = ("float32", "float64", "bfloat16", "float16")
"""The parameter dtypes a trainer takes."""


@dataclass(frozen=True)
class TrainerConfig:
    """Hyper-parameters and device of a :class:`ModelTrainer`.

    ``platform``: ``auto``, ``metal``, ``gpu`` or ``cpu`` (None reads ``TRAINSCOPE_PLATFORM``).
    ``optimizer``: ``adam``, ``adamw`` or ``sgd``, or any optax ``GradientTransformation``
    (which then holds its own learning rate; ``learning_rate``, ``weight_decay`` and
    ``momentum`` are for the names). ``weight_decay`` applies to ``adamw``, ``momentum`` to
    ``sgd``. ``batch_size`` is the global batch: split across the devices, so it must be a
    multiple of their number.
    """

    batch_size: int = 32
    learning_rate: float = 1e-3
    optimizer: Optimizer = "adam"
    weight_decay: float = 1e-4
    momentum: float = 0.9
    seed: int = 0
    platform: str | None = None
    dtype: str = "float32"
    shuffle: bool = True
    refresh_interval: float = 0.1
    prefetch_thread: bool | None = None
    """Read batches of data sets not in memory on a background thread; None: only off the CPU."""
    devices: int | None = None
    """Local devices to train on, data parallel (per process); None: every local device."""

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        check_optimizer(self.optimizer)
        if self.dtype not in DTYPES:
            raise ValueError(f"unsupported dtype {self.dtype!r}; choose one of: {', '.join(DTYPES)}")
        if self.devices is not None and self.devices < 1:
            raise ValueError(
                f"devices must be at least 1 (or None for every local device), got {self.devices}"
            )


def check_dtype(choice: DeviceChoice, dtype: str) -> None:
    """Refuse a dtype the selected platform lacks, or float64 without 64-bit JAX."""
    check_dtype_supported(choice, dtype)
    if dtype == "float64" and not jax.config.read("jax_enable_x64"):
        raise ValueError("dtype 'float64' needs 64-bit JAX: set JAX_ENABLE_X64=1 before starting Python")


def check_parallel(parallel: DataParallel, batch_size: int) -> None:
    """Refuse a batch the devices cannot split, or a multi-process CPU run without collectives."""
    parallel.check_batch_size(batch_size)
    if parallel.multi_process and parallel.devices[0].platform == "cpu" and cpu_collectives() is None:
        raise RuntimeError(
            "this JAX has no CPU collectives across processes: call "
            "trainscope_jax.initialize_distributed(...) instead of jax.distributed.initialize, or "
            "jax.config.update('jax_cpu_collectives_implementation', 'gloo') before it"
        )


__all__ = ["DTYPES", "TrainerConfig", "check_dtype", "check_parallel"]
