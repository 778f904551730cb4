"""One functional interface over the models ``ModelTrainer`` trains.

Each adapter turns a model into ``init`` (parameters and state as pytrees) and a pure
``apply(params, state, x, train=, key=)`` that the trainer's one jitted step calls:
trainscope's ``Sequential`` (here), Flax NNX and Linen modules (``flax_adapters``) and
Equinox modules (``equinox_adapter``), imported only when given such a model. Data
comes channels-first (``(N, C, H, W)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from trainscope import ModelSpec
from trainscope_jax.models.describe import framework_of
from trainscope_jax.models.sequential import Sequential

Shape = tuple[int, ...]


def copy_arrays(tree: Any) -> Any:
    """New buffers for every array: the trainer donates its state, the caller keeps theirs."""
    return jax.tree.map(lambda a: jnp.array(a, copy=True) if isinstance(a, jax.Array) else a, tree)


def channels_last(x: Any) -> Any:
    """A channels-first image batch channels-last (Flax's layout); other arrays as they are."""
    return jnp.transpose(x, (0, 2, 3, 1)) if x.ndim == 4 else x


def abstract(shape: Shape, dtype: Any) -> jax.ShapeDtypeStruct:
    return jax.ShapeDtypeStruct(shape, dtype)


def flax_sample(input_shape: Shape, dtype: Any) -> jax.ShapeDtypeStruct:
    """A batch of one example of channels-first ``input_shape``, as a Flax module takes it."""
    c, *spatial = input_shape
    return abstract((1, *spatial, c) if len(input_shape) == 3 else (1, *input_shape), dtype)


class ModelAdapter:
    """A model as pure functions. ``input_shape``: one example, channels-first, None until known."""

    framework = ""
    input_shape: Shape | None = None

    def init(self, key: jax.Array) -> tuple[Any, Any]:
        """Trainable parameters and the rest of the state, as pytrees of new arrays."""
        raise NotImplementedError

    def apply(
        self, params: Any, state: Any, x: jax.Array, *, train: bool, key: jax.Array | None
    ) -> tuple[jax.Array, Any]:
        """Logits for a channels-first batch ``x`` and the new state (traced inside the jitted step)."""
        raise NotImplementedError

    def spec(self, name: str | None, input_shape: Shape) -> ModelSpec:
        """The model's ``ModelSpec`` for one example of ``input_shape`` (channels-first)."""
        raise NotImplementedError

    def trained(self, params: Any, state: Any) -> Any:
        """The model in its framework's own form, holding copies of ``params`` and ``state``."""
        raise NotImplementedError

    def output_shape(self, params: Any, state: Any, input_shape: Shape) -> Shape:
        """Per-example output shape for inputs of ``input_shape`` (from shapes only)."""
        x = abstract((1, *input_shape), jnp.float32)
        out = jax.eval_shape(lambda p, s, x: self.apply(p, s, x, train=False, key=None)[0], params, state, x)
        return tuple(out.shape[1:])


class SequentialAdapter(ModelAdapter):
    """trainscope's own ``Sequential``: it already is a pair of pure functions."""

    framework = "trainscope"

    def __init__(self, model: Sequential) -> None:
        self.model = model
        self.input_shape = model.input_shape

    def init(self, key: jax.Array) -> tuple[Any, Any]:
        return tuple(self.model.init(key))  # type: ignore[return-value]

    def apply(
        self, params: Any, state: Any, x: jax.Array, *, train: bool, key: jax.Array | None
    ) -> tuple[jax.Array, Any]:
        return self.model.apply(params, state, x, train=train, key=key, logits=True)

    def spec(self, name: str | None, input_shape: Shape) -> ModelSpec:
        return self.model.spec(name)

    def trained(self, params: Any, state: Any) -> Any:
        from trainscope_jax.models.sequential import Variables

        return Variables(copy_arrays(params), copy_arrays(state))

    def output_shape(self, params: Any, state: Any, input_shape: Shape) -> Shape:
        return self.model.output_shape


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
        from trainscope_jax.training.flax_adapters import NnxAdapter

        return NnxAdapter(model, shape)
    if framework == "flax.linen":
        from trainscope_jax.training.flax_adapters import LinenAdapter

        return LinenAdapter(model, variables, shape)
    if framework == "equinox":
        from trainscope_jax.training.equinox_adapter import EquinoxAdapter

        return EquinoxAdapter(model, variables, shape)
    raise TypeError(
        f"ModelTrainer trains a trainscope Sequential, a Flax NNX or Linen module, or an Equinox module; "
        f"got {type(model).__name__}: build the model with one of these"
    )


__all__ = [
    "ModelAdapter",
    "SequentialAdapter",
    "abstract",
    "adapt",
    "channels_last",
    "copy_arrays",
    "flax_sample",
]
