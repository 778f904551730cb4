"""One functional interface over the models ``ModelTrainer`` trains, and the factory ``adapt``.

Each adapter turns a model into ``init`` (parameters and state as pytrees) and a pure
``apply(params, state, x, train=, key=)`` that the trainer's one jitted step calls:
trainscope's ``Sequential`` (``sequential``), Flax NNX and Linen modules (``flax``) and
Equinox modules (``equinox``), the last two imported only when given such a model. The
interface and shared helpers are in ``base``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trainscope_jax.models.describe import framework_of
from trainscope_jax.training.adapters.base import ModelAdapter, Shape
from trainscope_jax.training.adapters.sequential import SequentialAdapter


def adapt(model: Any, *, variables: Any = None, input_shape: Sequence[int] | None = None) -> ModelAdapter:
    """The adapter for ``model``, or a TypeError naming the kinds of model ``ModelTrainer`` trains."""
    shape = None if input_shape is None else tuple(int(d) for d in input_shape)
    framework = framework_of(model)
    if framework == "trainscope":
        if variables is not None:
            raise TypeError("a Sequential model makes its own variables: leave out variables=")
        return SequentialAdapter(model)
    if framework == "flax.nnx":
        if variables is not None:
            raise TypeError("a Flax NNX module holds its own variables: leave out variables=")
        from trainscope_jax.training.adapters.flax import NnxAdapter

        return NnxAdapter(model, shape)
    if framework == "flax.linen":
        from trainscope_jax.training.adapters.flax import LinenAdapter

        return LinenAdapter(model, variables, shape)
    if framework == "equinox":
        from trainscope_jax.training.adapters.equinox import EquinoxAdapter

        return EquinoxAdapter(model, variables, shape)
    raise TypeError(
        f"ModelTrainer trains a trainscope Sequential, a Flax NNX or Linen module, or an Equinox module; "
        f"got {type(model).__name__}: build the model with one of these"
    )


__all__ = ["ModelAdapter", "SequentialAdapter", "Shape", "adapt"]
