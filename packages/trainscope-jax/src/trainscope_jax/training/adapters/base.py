"""The adapter interface: a model as ``init`` and a pure ``apply`` over pytrees.

``ModelAdapter`` is what every framework's adapter implements, with the helpers they share.
Data comes channels-first (``(N, C, H, W)``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from trainscope import ModelSpec

Shape = tuple[int, ...]


def copy_arrays(tree: Any) -> Any:
    """New buffers for every array: the trainer donates its state, the caller keeps theirs."""
    return jax.tree.map(lambda a: jnp.array(a, copy=True) if isinstance(a, jax.Array) else a, tree)


def abstract(shape: Shape, dtype: Any) -> jax.ShapeDtypeStruct:
    """An abstract array of ``shape`` and ``dtype`` (for shape-only evaluation)."""
    return jax.ShapeDtypeStruct(shape, dtype)


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


__all__ = ["ModelAdapter", "Shape", "abstract", "copy_arrays"]
