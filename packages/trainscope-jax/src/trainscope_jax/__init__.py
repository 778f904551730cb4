"""Train JAX models on Apple GPUs (jax-metal), NVIDIA GPUs or the CPU, reported by trainscope."""

from __future__ import annotations

__version__ = "0.1.0"

from trainscope_jax.batching import BatchLoader, prefetch_to_device
from trainscope_jax.datasets import (
    ArrayDataset,
    DataError,
    Dataset,
    ImageFolder,
    Subset,
    load_digits,
    random_split,
    synthetic_dataset,
)
from trainscope_jax.devices import DeviceChoice, DeviceSelectionError, check_dtype_supported, select_device
from trainscope_jax.layers import (
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Layer,
    Linear,
    MaxPool2d,
    ReLU,
    Softmax,
)
from trainscope_jax.models import MODEL_NAMES, create_model
from trainscope_jax.optimizers import OPTIMIZER_NAMES, make_optimizer
from trainscope_jax.params_spec import model_spec_from_params
from trainscope_jax.sequential import Sequential, Variables
from trainscope_jax.trainer import (
    EpochResult,
    FitHistory,
    ModelTrainer,
    StepResult,
    TrainerConfig,
    TrainState,
)

__all__ = [
    "MODEL_NAMES",
    "OPTIMIZER_NAMES",
    "ArrayDataset",
    "AvgPool2d",
    "BatchLoader",
    "BatchNorm2d",
    "Conv2d",
    "DataError",
    "Dataset",
    "DeviceChoice",
    "DeviceSelectionError",
    "Dropout",
    "EpochResult",
    "FitHistory",
    "Flatten",
    "ImageFolder",
    "Layer",
    "Linear",
    "MaxPool2d",
    "ModelTrainer",
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
    "load_digits",
    "make_optimizer",
    "model_spec_from_params",
    "prefetch_to_device",
    "random_split",
    "select_device",
    "synthetic_dataset",
]
