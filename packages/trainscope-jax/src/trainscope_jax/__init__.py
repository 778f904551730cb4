"""Train JAX models on Apple GPUs (jax-metal), NVIDIA GPUs or the CPU, reported by trainscope.

Subpackages, by concern: ``devices`` (selection, probe, doctor), ``models`` (layers,
``Sequential``, the model zoo, model specs of any JAX model), ``training`` (trainer,
framework adapters, batching, optimizers) and ``data`` (data sets and the embedded
digits). Every public name is re-exported here, imported on first use (PEP 562): importing
``trainscope_jax`` (as the ``trainscope`` command does to find the ``train`` command) does not
import JAX, so ``trainscope --help`` and ``trainscope log`` start fast.
"""

# ruff: noqa: F403, F405 - the names come from the subpackages (their __all__), for type checkers only

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # the names for type checkers and editors; at run time, __getattr__ below
    from trainscope_jax.data import *
    from trainscope_jax.devices import *
    from trainscope_jax.models import *
    from trainscope_jax.training import *
    from trainscope_jax.training.steps import LossFunction, MetricFunction, cross_entropy

_EXPORTS: dict[str, str] = {
    "ArrayDataset": "trainscope_jax.data",
    "DataError": "trainscope_jax.data",
    "Dataset": "trainscope_jax.data",
    "ImageFolder": "trainscope_jax.data",
    "Subset": "trainscope_jax.data",
    "load_digits": "trainscope_jax.data",
    "random_split": "trainscope_jax.data",
    "synthetic_dataset": "trainscope_jax.data",
    "DeviceChoice": "trainscope_jax.devices",
    "DeviceSelectionError": "trainscope_jax.devices",
    "check_dtype_supported": "trainscope_jax.devices",
    "select_device": "trainscope_jax.devices",
    "MODEL_NAMES": "trainscope_jax.models",
    "AvgPool2d": "trainscope_jax.models",
    "BatchNorm2d": "trainscope_jax.models",
    "Conv2d": "trainscope_jax.models",
    "Dropout": "trainscope_jax.models",
    "Flatten": "trainscope_jax.models",
    "Layer": "trainscope_jax.models",
    "Linear": "trainscope_jax.models",
    "MaxPool2d": "trainscope_jax.models",
    "ReLU": "trainscope_jax.models",
    "Sequential": "trainscope_jax.models",
    "Softmax": "trainscope_jax.models",
    "Variables": "trainscope_jax.models",
    "create_model": "trainscope_jax.models",
    "model_spec": "trainscope_jax.models",
    "model_spec_from_params": "trainscope_jax.models",
    "OPTIMIZER_NAMES": "trainscope_jax.training",
    "BatchLoader": "trainscope_jax.training",
    "BatchSizeError": "trainscope_jax.training",
    "DataParallel": "trainscope_jax.training",
    "DeviceCountError": "trainscope_jax.training",
    "DistributedError": "trainscope_jax.training",
    "EpochResult": "trainscope_jax.training",
    "FitHistory": "trainscope_jax.training",
    "LossFunction": "trainscope_jax.training.steps",
    "MetricFunction": "trainscope_jax.training.steps",
    "ModelTrainer": "trainscope_jax.training",
    "PeerFailure": "trainscope_jax.training",
    "PeerWatch": "trainscope_jax.training",
    "ProcessInfo": "trainscope_jax.training",
    "StepResult": "trainscope_jax.training",
    "TrainerConfig": "trainscope_jax.training",
    "TrainState": "trainscope_jax.training",
    "data_parallel": "trainscope_jax.training",
    "initialize_distributed": "trainscope_jax.training",
    "make_optimizer": "trainscope_jax.training",
    "prefetch_to_device": "trainscope_jax.training",
    "report_failure": "trainscope_jax.training",
    "watch_peers": "trainscope_jax.training",
    "cross_entropy": "trainscope_jax.training.steps",
}
"""Public name -> the subpackage that defines it."""


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})  # a name used once is in both


__all__ = [
    "MODEL_NAMES",
    "OPTIMIZER_NAMES",
    "ArrayDataset",
    "AvgPool2d",
    "BatchLoader",
    "BatchNorm2d",
    "BatchSizeError",
    "Conv2d",
    "DataError",
    "DataParallel",
    "Dataset",
    "DeviceChoice",
    "DeviceCountError",
    "DeviceSelectionError",
    "DistributedError",
    "Dropout",
    "EpochResult",
    "FitHistory",
    "Flatten",
    "ImageFolder",
    "Layer",
    "Linear",
    "LossFunction",
    "MaxPool2d",
    "MetricFunction",
    "ModelTrainer",
    "PeerFailure",
    "PeerWatch",
    "ProcessInfo",
    "ReLU",
    "Sequential",
    "Softmax",
    "StepResult",
    "Subset",
    "TrainState",
    "TrainerConfig",
    "Variables",
    "__version__",
    "check_dtype_supported",
    "create_model",
    "cross_entropy",
    "data_parallel",
    "initialize_distributed",
    "load_digits",
    "make_optimizer",
    "model_spec",
    "model_spec_from_params",
    "prefetch_to_device",
    "random_split",
    "report_failure",
    "select_device",
    "synthetic_dataset",
    "watch_peers",
]
