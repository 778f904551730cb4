"""Optimizers by name: ``adam``, ``adamw``, ``sgd`` (optax)."""

from __future__ import annotations

from typing import Any

import optax

OPTIMIZER_NAMES: tuple[str, ...] = ("adam", "adamw", "sgd")
"""The names ``make_optimizer`` accepts."""


def make_optimizer(
    name: str, learning_rate: float, *, weight_decay: float = 0.0, momentum: float = 0.9
) -> Any:
    """An ``optax.GradientTransformation``: ``adam``, ``adamw`` (decoupled weight decay), ``sgd``."""
    if learning_rate <= 0:
        raise ValueError(f"learning rate must be positive, got {learning_rate}")
    if name == "adam":
        return optax.adam(learning_rate)
    if name == "adamw":
        return optax.adamw(learning_rate, weight_decay=weight_decay)
    if name == "sgd":
        return optax.sgd(learning_rate, momentum=momentum or None)
    raise ValueError(f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZER_NAMES)}")


__all__ = ["OPTIMIZER_NAMES", "make_optimizer"]
