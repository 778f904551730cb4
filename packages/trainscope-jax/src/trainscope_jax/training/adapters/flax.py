"""Flax NNX and Linen modules as the pure functions ``ModelTrainer``'s step calls.

Flax modules receive images channels-last, as Flax's layers expect.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

import trainscope_jax.models.linen as linen_models
from trainscope import ModelSpec
from trainscope_jax.models.describe import model_spec
from trainscope_jax.models.modes import accepts, with_mode
from trainscope_jax.training.adapters.base import ModelAdapter, Shape, abstract, copy_arrays


def channels_last(x: Any) -> Any:
    """A channels-first image batch channels-last (Flax's layout); other arrays as they are."""
    return jnp.transpose(x, (0, 2, 3, 1)) if x.ndim == 4 else x


def flax_sample(input_shape: Shape, dtype: Any) -> jax.ShapeDtypeStruct:
    """A batch of one example of channels-first ``input_shape``, as a Flax module takes it."""
    c, *spatial = input_shape
    return abstract((1, *spatial, c) if len(input_shape) == 3 else (1, *input_shape), dtype)


class NnxAdapter(ModelAdapter):
    """A Flax NNX module: ``Param`` variables trained, the other variables carried as state.

    The module is split once in training mode and once in evaluation mode
    (``model.train()``/``model.eval()`` on a clone); the step merges the graph with the
    state, calls it, and splits the state out again. Dropout draws from the module's own
    RNG streams, or from ``rngs`` when its call takes them.
    """

    framework = "flax.nnx"

    def __init__(self, model: Any, input_shape: Shape | None) -> None:
        from flax import nnx as flax_nnx

        nnx: Any = flax_nnx
        self.nnx, self.model, self.input_shape = nnx, model, input_shape
        clone = nnx.clone(model)
        clone.train()
        self._train_graph, self._params, self._state = nnx.split(clone, nnx.Param, ...)
        clone.eval()
        self._eval_graph = nnx.split(clone, nnx.Param, ...)[0]
        self._takes_rngs = accepts(model, "rngs")

    def init(self, key: jax.Array) -> tuple[Any, Any]:
        return copy_arrays(self._params), copy_arrays(self._state)

    def apply(
        self, params: Any, state: Any, x: jax.Array, *, train: bool, key: jax.Array | None
    ) -> tuple[jax.Array, Any]:
        nnx = self.nnx
        # Fresh variables, owned by the current trace (the gradient's), so the step may update them.
        params, state = jax.tree.map(lambda a: a, (params, state))
        model = nnx.merge(self._train_graph if train else self._eval_graph, params, state)
        kwargs = with_mode(model, {}, train=train, override=True)
        if self._takes_rngs and key is not None:
            kwargs["rngs"] = nnx.Rngs(key)
        logits = model(channels_last(x), **kwargs)
        return logits, nnx.split(model, nnx.Param, ...)[2]

    def spec(self, name: str | None, input_shape: Shape) -> ModelSpec:
        return model_spec(self.model, flax_sample(input_shape, self._dtype()), name=name)

    def _dtype(self) -> Any:
        leaves = jax.tree_util.tree_leaves(self._params)
        return leaves[0].dtype if leaves else jnp.float32

    def trained(self, params: Any, state: Any) -> Any:
        self.nnx.update(self.model, copy_arrays(params), copy_arrays(state))
        return self.model


class LinenAdapter(ModelAdapter):
    """A Flax Linen module: the ``params`` collection trained, the other collections carried as state.

    Training applies the module with its state collections mutable, a ``dropout`` RNG,
    and its mode flag (``train``, ``training`` or ``deterministic``) when its call takes one.
    """

    framework = "flax.linen"

    def __init__(self, module: Any, variables: Any, input_shape: Shape | None) -> None:
        module, variables = linen_models.unbind(module, variables)
        if variables is None and input_shape is None:
            raise ValueError(
                f"the Flax Linen module {type(module).__name__} has no variables yet: give "
                "ModelTrainer(module, config, variables=variables) or input_shape=(C, H, W) to initialise it"
            )
        self.module, self.variables, self.input_shape = module, variables, input_shape

    def init(self, key: jax.Array) -> tuple[Any, Any]:
        from flax.core import unfreeze

        variables = self.variables
        if variables is None:
            assert self.input_shape is not None
            params_key, dropout_key = jax.random.split(key)
            x = jnp.zeros((1, *self.input_shape), jnp.float32)
            kwargs = with_mode(self.module.__call__, {}, train=False, override=True)
            variables = jax.jit(
                lambda k1, k2, x: self.module.init({"params": k1, "dropout": k2}, channels_last(x), **kwargs)
            )(params_key, dropout_key, x)
        variables = unfreeze(copy_arrays(variables))
        state = {name: tree for name, tree in variables.items() if name not in ("params", "intermediates")}
        return variables["params"], state

    def apply(
        self, params: Any, state: Any, x: jax.Array, *, train: bool, key: jax.Array | None
    ) -> tuple[jax.Array, Any]:
        from flax.core import unfreeze

        variables = {"params": params, **state}
        kwargs = with_mode(self.module.__call__, {}, train=train, override=True)
        rngs = {"dropout": key} if key is not None else None
        if train and state:
            logits, updates = self.module.apply(
                variables, channels_last(x), rngs=rngs, mutable=list(state), **kwargs
            )
            return logits, {**state, **unfreeze(updates)}
        return self.module.apply(variables, channels_last(x), rngs=rngs, **kwargs), state

    def spec(self, name: str | None, input_shape: Shape) -> ModelSpec:
        sample = flax_sample(input_shape, jnp.float32)
        return model_spec(self.module, sample, name=name, variables=self.variables)

    def trained(self, params: Any, state: Any) -> Any:
        return {"params": copy_arrays(params), **copy_arrays(state)}


__all__ = ["LinenAdapter", "NnxAdapter"]
