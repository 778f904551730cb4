"""``Sequential``: named layers run in order, with a PyTorch-style ``ModelSpec``."""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from trainscope import LayerSpec, ModelSpec
from trainscope_jax.models.costs import function_mult_adds
from trainscope_jax.models.layers import Flatten, Layer, LayerParams, Shape, Softmax, to_chw

Params = dict[str, LayerParams]
"""A model's arrays: layer name -> array name -> array."""

_BARE_WHEN_SINGLE = (Softmax, Flatten)


class Variables(NamedTuple):
    """A model's trainable ``params`` and non-trainable ``state`` (running statistics)."""

    params: Params
    state: Params


def _auto_names(layers: Sequence[Layer]) -> list[str]:
    """``conv1``, ``relu1``, ``fc1``, ... as in PyTorch printouts; a single Softmax is ``softmax``."""
    totals = Counter(type(layer) for layer in layers)
    seen: Counter[type] = Counter()
    names = []
    for layer in layers:
        seen[type(layer)] += 1
        single = totals[type(layer)] == 1 and isinstance(layer, _BARE_WHEN_SINGLE)
        names.append(layer.prefix if single else f"{layer.prefix}{seen[type(layer)]}")
    return names


class Sequential:
    """Layers run in order on channels-first input of per-example ``input_shape``.

    ``layers`` is a sequence of layers (named automatically: ``conv1``, ``relu1``,
    ...), of ``(name, layer)`` pairs, or a mapping of names to layers.
    """

    def __init__(
        self,
        layers: Sequence[Layer] | Sequence[tuple[str, Layer]] | Mapping[str, Layer],
        *,
        input_shape: Sequence[int],
        name: str = "Sequential",
    ) -> None:
        items: list[Any] = list(layers.items()) if isinstance(layers, Mapping) else list(layers)
        if not items:
            raise ValueError("Sequential needs at least one layer")
        if all(isinstance(item, Layer) for item in items):
            items = list(zip(_auto_names(items), items))
        for item in items:
            if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Layer)):
                raise TypeError(f"expected layers or (name, layer) pairs, got {item!r}")
        names = [n for n, _ in items]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"layer names must be unique, repeated: {', '.join(duplicates)}")
        self.layers: tuple[tuple[str, Layer], ...] = tuple(items)
        self.input_shape: Shape = tuple(int(d) for d in input_shape)
        self.name = name
        self._counts: list[tuple[int, int]] = []
        self._mult_adds: list[int | None] = []
        self._internal_shapes = self._infer_shapes()

    # -- structure -------------------------------------------------------------

    @property
    def ends_in_softmax(self) -> bool:
        """Whether the last layer is a Softmax (training then uses the logits before it)."""
        return isinstance(self.layers[-1][1], Softmax)

    @functools.cached_property
    def train_flops_per_example(self) -> float | None:
        """FLOPs of the forward and backward pass of one example (XLA's cost analysis of the loss
        gradient, lowered once for the CPU), or None where XLA reports none."""
        from trainscope_jax.models.train_flops import sequential_train_flops

        return sequential_train_flops(self)

    @property
    def output_shape(self) -> Shape:
        """Per-example output shape, channels-first."""
        return to_chw(self._internal_shapes[-1])

    def _internal_input_shape(self) -> Shape:
        s = self.input_shape
        return (s[1], s[2], s[0]) if len(s) == 3 else s

    def _infer_shapes(self) -> list[Shape]:
        """Output shape (internal layout), parameter counts and multiply-adds of every layer for
        one example, checking that the layers fit together."""
        x = jax.ShapeDtypeStruct((1, *self._internal_input_shape()), jnp.float32)
        shapes: list[Shape] = []
        for name, layer in self.layers:
            shape = tuple(x.shape[1:])
            try:
                params, state = _abstract_variables(layer, shape)
                mult_adds, (x, _) = function_mult_adds(
                    lambda x, p, s, layer=layer: layer.apply(p, s, x), x, params, state
                )
                self._counts.append((_count(params), _count(state)))
                self._mult_adds.append(mult_adds)
            except (ValueError, TypeError) as exc:
                raise ValueError(
                    f"layer {name!r} ({layer!r}) cannot take input {to_chw(shape)}: {exc}"
                ) from None
            shapes.append(tuple(x.shape[1:]))
        return shapes

    # -- running ---------------------------------------------------------------

    def init(self, key: jax.Array) -> Variables:
        """Fresh parameters and state from a ``jax.random.key``."""
        keys = jax.random.split(key, len(self.layers))
        params: Params = {}
        state: Params = {}
        shape = self._internal_input_shape()
        for k, (name, layer), out_shape in zip(keys, self.layers, self._internal_shapes):
            params[name] = layer.init_params(k, shape)
            state[name] = layer.init_state(shape)
            shape = out_shape
        return Variables(params, state)

    def apply(
        self,
        params: Params,
        state: Params,
        x: jax.Array,
        *,
        train: bool = False,
        key: jax.Array | None = None,
        logits: bool = False,
    ) -> tuple[jax.Array, Params]:
        """Run a channels-first batch ``x``; returns the output (images channels-first) and the new state.

        ``logits=True`` stops before a final Softmax. ``key`` feeds Dropout while training.
        """
        if x.ndim == 4:
            x = jnp.transpose(x, (0, 2, 3, 1))
        layers = self.layers[:-1] if logits and self.ends_in_softmax else self.layers
        new_state: Params = dict(state)
        for i, (name, layer) in enumerate(layers):
            layer_key = jax.random.fold_in(key, i) if key is not None and layer.uses_rng else None
            x, new_state[name] = layer.apply(params[name], state[name], x, train=train, key=layer_key)
        if x.ndim == 4:
            x = jnp.transpose(x, (0, 3, 1, 2))
        return x, new_state

    # -- description -----------------------------------------------------------

    def spec(self, name: str | None = None, *, batch_size: int = 1, dtype_bytes: int = 4) -> ModelSpec:
        """A ``ModelSpec`` for the architecture printer: arguments, output shapes, parameter counts,
        multiply-adds per layer and training FLOPs per example."""
        layer_specs = []
        for (layer_name, layer), out_shape, (trainable, frozen), mult_adds in zip(
            self.layers, self._internal_shapes, self._counts, self._mult_adds
        ):
            layer_specs.append(
                LayerSpec(
                    name=layer_name,
                    kind=layer.kind,
                    args=layer.args(),
                    params=trainable + frozen,
                    trainable_params=trainable,
                    output_shape=to_chw(out_shape),
                    mult_adds=mult_adds,
                )
            )
        return ModelSpec(
            name=name or self.name,
            input_shape=self.input_shape,
            layers=layer_specs,
            dtype_bytes=dtype_bytes,
            batch_size=batch_size,
            train_flops_per_example=self.train_flops_per_example,
        )

    def __repr__(self) -> str:
        body = "".join(f"\n  ({n}): {layer!r}" for n, layer in self.layers)
        return f"{self.name}({body}\n)"


def _abstract_variables(layer: Layer, shape: Shape) -> tuple[Any, Any]:
    """A layer's params and state as shapes only: nothing is allocated, no backend starts."""
    key = jax.eval_shape(jax.random.key, 0)
    params = jax.eval_shape(functools.partial(layer.init_params, shape=shape), key)
    state = jax.eval_shape(functools.partial(layer.init_state, shape=shape))
    return params, state


def _count(tree: Any) -> int:
    return sum(math.prod(leaf.shape) for leaf in jax.tree_util.tree_leaves(tree))


__all__ = ["Params", "Sequential", "Variables"]
