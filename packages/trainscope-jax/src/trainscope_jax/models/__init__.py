"""Models: trainscope's own layers and ``Sequential``, the built-in model zoo, and the
model specs (``ModelSpec``) that the architecture printer shows, for trainscope's own
models and for Flax NNX, Flax Linen and Equinox modules (``model_spec``)."""

from __future__ import annotations

from trainscope_jax.models.describe import model_spec
from trainscope_jax.models.layers import (
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
from trainscope_jax.models.sequential import Sequential, Variables
from trainscope_jax.models.specs import model_spec_from_params
from trainscope_jax.models.zoo import MODEL_NAMES, create_model

__all__ = [
    "MODEL_NAMES",
    "AvgPool2d",
    "BatchNorm2d",
    "Conv2d",
    "Dropout",
    "Flatten",
    "Layer",
    "Linear",
    "MaxPool2d",
    "ReLU",
    "Sequential",
    "Softmax",
    "Variables",
    "create_model",
    "model_spec",
    "model_spec_from_params",
]
