"""Train JAX models on Apple GPUs (jax-metal), NVIDIA GPUs or the CPU, reported by trainscope.

Subpackages, by concern: ``devices`` (selection, probe, doctor), ``models`` (layers,
``Sequential``, the model zoo, model specs of any JAX model), ``training`` (trainer,
framework adapters, batching, optimizers) and ``data`` (data sets and the embedded
digits). Every public name is re-exported here.
"""

from __future__ import annotations

__version__ = "0.1.0"

from trainscope_jax.data import (
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
from trainscope_jax.models import (
    MODEL_NAMES,
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Layer,
    Linear,
    MaxPool2d,
    ReLU,
    Sequential,
    Softmax,
    Variables,
    create_model,
    model_spec,
    model_spec_from_params,
)
from trainscope_jax.training import (
    OPTIMIZER_NAMES,
    BatchLoader,
    EpochResult,
    FitHistory,
    ModelTrainer,
    StepResult,
    TrainerConfig,
    TrainState,
    make_optimizer,
    prefetch_to_device,
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
    "model_spec",
    "model_spec_from_params",
    "prefetch_to_device",
    "random_split",
    "select_device",
    "synthetic_dataset",
]
