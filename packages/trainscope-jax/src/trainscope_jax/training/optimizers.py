"""Optimizers: by name (``adam``, ``adamw``, ``sgd``), or any optax ``GradientTransformation``."""

from __future__ import annotations

from typing import Any, TypeAlias

import optax

OPTIMIZER_NAMES: tuple[str, ...] = ("adam", "adamw", "sgd")
"""The names ``make_optimizer`` accepts."""

Optimizer: TypeAlias = str | optax.GradientTransformation
"""An optimizer as :class:`~trainscope_jax.TrainerConfig` takes it: a name, or an optax
transformation (``optax.chain(...)``, ``optax.inject_hyperparams(optax.adamw)(...)``...)."""


def is_transformation(optimizer: object) -> bool:
    """True for an optax ``GradientTransformation`` (anything with callable ``init`` and ``update``)."""
    return callable(getattr(optimizer, "init", None)) and callable(getattr(optimizer, "update", None))


def check_optimizer(optimizer: object) -> None:
    """Raise unless ``optimizer`` is one of :data:`OPTIMIZER_NAMES` or an optax transformation."""
    if isinstance(optimizer, str):
        if optimizer not in OPTIMIZER_NAMES:
            raise ValueError(
                f"unknown optimizer {optimizer!r}; choose one of: {', '.join(OPTIMIZER_NAMES)}, "
                "or pass an optax GradientTransformation"
            )
    elif not is_transformation(optimizer):
        raise TypeError(
            f"optimizer must be a name ({', '.join(OPTIMIZER_NAMES)}) or an optax GradientTransformation "
            f"(with init and update), got {type(optimizer).__name__}"
        )


def make_optimizer(
    name: Optimizer, learning_rate: float, *, weight_decay: float = 0.0, momentum: float = 0.9
) -> Any:
    """An ``optax.GradientTransformation``: ``adam``, ``adamw`` (decoupled weight decay), ``sgd``;
    a transformation given is returned as it is (``learning_rate`` and the rest then unused)."""
    check_optimizer(name)
    if not isinstance(name, str):
        return name
    if learning_rate <= 0:
        raise ValueError(f"learning rate must be positive, got {learning_rate}")
    if name == "adam":
        return optax.adam(learning_rate)
    if name == "adamw":
        return optax.adamw(learning_rate, weight_decay=weight_decay)
    return optax.sgd(learning_rate, momentum=momentum or None)


__all__ = ["OPTIMIZER_NAMES", "Optimizer", "check_optimizer", "is_transformation", "make_optimizer"]
