"""Equinox modules as the pure functions ``ModelTrainer``'s step calls."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from trainscope import ModelSpec
from trainscope_jax.models.describe import model_spec
from trainscope_jax.models.modes import accepts, with_mode
from trainscope_jax.training.adapters.base import ModelAdapter, Shape, abstract, copy_arrays


class EquinoxAdapter(ModelAdapter):
    """An Equinox module: its inexact arrays trained, an ``eqx.nn.State`` (if given) carried as state.

    The module takes one example; the step vmaps it over the batch (axis name
    ``batch``, as ``eqx.nn.BatchNorm`` expects), switches ``inference`` with
    ``eqx.nn.inference_mode``, and gives every example its own ``key`` when the call
    takes one. Plain ``jax.jit`` keeps the step asynchronous.
    """

    framework = "equinox"

    def __init__(self, model: Any, state: Any, input_shape: Shape | None) -> None:
        import equinox as eqx

        if state is not None and not isinstance(state, eqx.nn.State):
            raise TypeError(
                f"variables of an Equinox model must be its eqx.nn.State, got {type(state).__name__}: "
                "pass the state from eqx.nn.make_with_state, or nothing"
            )
        self.eqx, self.model, self.state, self.input_shape = eqx, model, state, input_shape
        self._params, self._static = eqx.partition(model, eqx.is_inexact_array)
        self._takes_key = accepts(model, "key")

    def init(self, key: jax.Array) -> tuple[Any, Any]:
        return copy_arrays(self._params), copy_arrays(self.state) if self.state is not None else ()

    def apply(
        self, params: Any, state: Any, x: jax.Array, *, train: bool, key: jax.Array | None
    ) -> tuple[jax.Array, Any]:
        eqx = self.eqx
        model = eqx.nn.inference_mode(eqx.combine(params, self._static), value=not train)
        kwargs = with_mode(model, {}, train=train, override=True)
        keys = jax.random.split(key, x.shape[0]) if self._takes_key and key is not None else None
        key_axis = None if keys is None else 0

        def one(example: Any, state: Any, key: Any) -> Any:
            extra = {"key": key} if key is not None else {}
            if self.state is None:
                return model(example, **kwargs, **extra), state
            return model(example, state, **kwargs, **extra)

        batched = jax.vmap(one, in_axes=(0, None, key_axis), out_axes=(0, None), axis_name="batch")
        return batched(x, state, keys)

    def spec(self, name: str | None, input_shape: Shape) -> ModelSpec:
        x = abstract(input_shape, self._dtype())
        extra = () if self.state is None else (self.state,)
        return model_spec(self.model, x, *extra, name=name)

    def _dtype(self) -> Any:
        leaves = jax.tree_util.tree_leaves(self._params)
        return leaves[0].dtype if leaves else jnp.float32

    def trained(self, params: Any, state: Any) -> Any:
        model = self.eqx.combine(copy_arrays(params), self._static)
        return model if self.state is None else (model, copy_arrays(state))


__all__ = ["EquinoxAdapter"]
