"""Ready-made models by name: ``create_model("digits-cnn", (1, 8, 8), 10)``."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from trainscope_jax.models.layers import Conv2d, Flatten, Layer, Linear, MaxPool2d, ReLU, Softmax
from trainscope_jax.models.sequential import Sequential

Shape = tuple[int, ...]


def _catdog_cnn(input_shape: Shape, num_classes: int) -> tuple[str, list[Layer]]:
    channels, height, width = _image_shape(input_shape, "catdog-cnn")
    return "CatDogCNN", [
        Conv2d(channels, 32, 3, stride=1, padding=1),
        ReLU(),
        Conv2d(32, 64, 3, stride=1, padding=1),
        ReLU(),
        Conv2d(64, 128, 3, stride=1, padding=1),
        ReLU(),
        Linear(128 * height * width, 512),
        ReLU(),
        Linear(512, num_classes),
        Softmax(),
    ]


def _digits_cnn(input_shape: Shape, num_classes: int) -> tuple[str, list[Layer]]:
    channels, height, width = _image_shape(input_shape, "digits-cnn")
    if height < 4 or width < 4:
        raise ValueError(f"digits-cnn needs images of at least 4x4 pixels, got {height}x{width}")
    return "DigitsCNN", [
        Conv2d(channels, 32, 3, padding=1),
        ReLU(),
        MaxPool2d(2),
        Conv2d(32, 64, 3, padding=1),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Linear(64 * (height // 4) * (width // 4), 128),
        ReLU(),
        Linear(128, num_classes),
    ]


def _mlp(input_shape: Shape, num_classes: int) -> tuple[str, list[Layer]]:
    return "MLP", [
        Flatten(),
        Linear(math.prod(input_shape), 256),
        ReLU(),
        Linear(256, 128),
        ReLU(),
        Linear(128, num_classes),
    ]


_BUILDERS: dict[str, Callable[[Shape, int], tuple[str, list[Layer]]]] = {
    "catdog-cnn": _catdog_cnn,
    "digits-cnn": _digits_cnn,
    "mlp": _mlp,
}

MODEL_NAMES: tuple[str, ...] = tuple(_BUILDERS)
"""The names ``create_model`` accepts."""


def _image_shape(input_shape: Shape, model: str) -> tuple[int, int, int]:
    if len(input_shape) != 3:
        raise ValueError(f"{model} takes images of shape (channels, height, width), got {input_shape}")
    c, h, w = input_shape
    return c, h, w


def create_model(name: str, input_shape: Sequence[int], num_classes: int) -> Sequential:
    """A fresh model by name for channels-first ``input_shape`` and ``num_classes`` outputs.

    ``catdog-cnn``: the reference network (three 3x3 convolutions, two linear layers,
    softmax); ``digits-cnn``: a small CNN with max pooling; ``mlp``: two hidden layers.
    """
    builder = _BUILDERS.get(name)
    if builder is None:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(MODEL_NAMES)}")
    shape = tuple(int(d) for d in input_shape)
    if not shape or min(shape) < 1:
        raise ValueError(f"input_shape must be positive sizes, got {tuple(input_shape)}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    model_name, layers = builder(shape, num_classes)
    return Sequential(layers, input_shape=shape, name=model_name)


__all__ = ["MODEL_NAMES", "create_model"]
