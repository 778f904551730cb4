"""Training or evaluation mode passed by name to a model's call (``train=True``, ``deterministic=False``)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

TRAIN_FLAGS = ("train", "training", "is_training")
"""Call parameters that are True while training."""
EVAL_FLAGS = ("deterministic", "inference", "eval_mode", "use_running_average")
"""Call parameters that are True while evaluating."""


def call_parameters(fn: Callable[..., Any]) -> Mapping[str, inspect.Parameter]:
    """The parameters of ``fn`` (a module: its ``__call__``); empty when they cannot be read."""
    try:
        return inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}


def accepts(fn: Callable[..., Any], name: str) -> bool:
    """Whether ``fn`` takes an argument called ``name``."""
    return name in call_parameters(fn)


def with_mode(
    fn: Callable[..., Any], kwargs: Mapping[str, Any], *, train: bool, override: bool = False
) -> dict[str, Any]:
    """``kwargs`` plus the mode flags ``fn`` takes, set for training or evaluation.

    Without ``override`` only flags that ``fn`` requires and ``kwargs`` lacks are added,
    so a caller's own ``train=...`` stands.
    """
    result = dict(kwargs)
    for name, parameter in call_parameters(fn).items():
        if name not in TRAIN_FLAGS and name not in EVAL_FLAGS:
            continue
        if override or (name not in result and parameter.default is inspect.Parameter.empty):
            result[name] = train if name in TRAIN_FLAGS else not train
    return result


__all__ = ["EVAL_FLAGS", "TRAIN_FLAGS", "accepts", "call_parameters", "with_mode"]
