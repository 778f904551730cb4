"""trainscope's own ``Sequential`` as an adapter (it already is a pair of pure functions)."""

from __future__ import annotations

from typing import Any

import jax

from trainscope import ModelSpec
from trainscope_jax.models.sequential import Sequential, Variables
from trainscope_jax.training.adapters.base import ModelAdapter, Shape, copy_arrays


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
        return Variables(copy_arrays(params), copy_arrays(state))

    def output_shape(self, params: Any, state: Any, input_shape: Shape) -> Shape:
        return self.model.output_shape


__all__ = ["SequentialAdapter"]
