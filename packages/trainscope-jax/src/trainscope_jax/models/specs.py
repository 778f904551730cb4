"""``model_spec_from_params``: a ``ModelSpec`` for any JAX model from its parameter pytree.

Works with Flax Linen (``{"params": {"Dense_0": {"kernel", "bias"}}}``), Flax NNX
(a module, or its ``nnx.State``: ``Variable``s unwrapped), Equinox modules, Haiku
dicts and hand-written dicts or lists of arrays. Arrays are grouped into one layer per
parent node; a recognisable kernel prints as ``Linear(...)`` or ``Conv2d(...)``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import jax
import numpy as np

import trainscope_jax.models.nnx as nnx_models
from trainscope import LayerSpec, ModelSpec

_TORCH_STYLE = frozenset({"weight"})
"""Leaf names whose kernels are laid out ``(out, in)`` / ``(out, in, kh, kw)`` (PyTorch, Equinox)."""
_IN_OUT_STYLE = frozenset({"kernel", "w"})
"""Leaf names whose kernels are ``(in, out)`` / ``(kh, kw, in, out)`` (Flax, Haiku)."""
_BIAS = frozenset({"bias", "b"})
_COLLECTIONS = frozenset({"params", "batch_stats", "state"})
"""Top-level Flax collection names, left out of layer names so params and state line up."""


def with_parameters_cast(spec: ModelSpec, itemsize: int) -> ModelSpec:
    """``spec`` once the model's trainable parameters, its inputs and its computation are cast to
    ``itemsize`` bytes (as ``ModelTrainer`` trains in its dtype); non-trainable state, such as
    batch statistics, keeps the element size it had."""

    if itemsize == spec.dtype_bytes:
        return spec

    def cast(layer: LayerSpec) -> LayerSpec:
        params_bytes = layer.params_bytes
        if params_bytes is None:  # every array at the model's size: only the trainable ones change
            params_bytes = layer.trainable * itemsize + (layer.params - layer.trainable) * spec.dtype_bytes
        return dataclasses.replace(
            layer, params_bytes=params_bytes, children=tuple(cast(child) for child in layer.children)
        )

    return dataclasses.replace(spec, layers=[cast(layer) for layer in spec.layers], dtype_bytes=itemsize)


def _key_name(key: Any) -> str:
    for attr in ("key", "name", "idx"):
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key)


def _is_array(leaf: Any) -> bool:
    return hasattr(leaf, "shape") and hasattr(leaf, "dtype")


def _leaves_with_names(tree: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every array (or NNX ``Variable``) with its path; dicts in insertion order (as layers were made)."""
    if nnx_models.is_nnx_variable(tree):
        yield prefix, tree
    elif nnx_models.is_nnx_module(tree):
        for path, variable in nnx_models.variables_in_order(tree):
            yield (*prefix, *path), variable
    elif isinstance(tree, Mapping):
        for key, value in tree.items():
            yield from _leaves_with_names(value, (*prefix, str(key)))
    elif isinstance(tree, (list, tuple)) and not hasattr(tree, "_fields"):
        for index, value in enumerate(tree):
            yield from _leaves_with_names(value, (*prefix, str(index)))
    else:
        flat = jax.tree_util.tree_flatten_with_path(tree, is_leaf=nnx_models.is_nnx_variable)[0]
        for path, leaf in flat:
            if _is_array(leaf) or nnx_models.is_nnx_variable(leaf):
                yield (*prefix, *(_key_name(k) for k in path)), leaf


Layers = dict[tuple[str, ...], dict[str, Any]]


def _arrays_by_layer(tree: Any, trainable: bool) -> tuple[Layers, Layers]:
    """``(trainable, non-trainable)`` arrays by layer path; an NNX ``Variable`` says which it is.

    Plain arrays count as ``trainable``; NNX RNG state (keys, counters) is left out.
    """
    found: tuple[Layers, Layers] = ({}, {})
    for names, leaf in _leaves_with_names(tree):
        is_trainable = trainable
        if nnx_models.is_nnx_variable(leaf):
            flag = nnx_models.is_trainable_variable(leaf)
            if flag is None:
                continue
            is_trainable, leaf = flag, nnx_models.variable_value(leaf)
        if len(names) > 1 and names[0] in _COLLECTIONS:
            names = names[1:]
        parent, leaf_name = (names[:-1], names[-1]) if names else ((), "value")
        found[0 if is_trainable else 1].setdefault(parent, {})[leaf_name] = leaf
    return found


def _describe(arrays: dict[str, Any]) -> tuple[str, str]:
    """(kind, args) for a layer's arrays: Linear/Conv2d when a kernel is recognised."""
    has_bias = "true" if any(name in _BIAS for name in arrays) else "false"
    for name, array in arrays.items():
        shape = tuple(array.shape)
        if name in _TORCH_STYLE and len(shape) == 2:
            return "Linear", f"in_features={shape[1]}, out_features={shape[0]}, bias={has_bias}"
        if name in _IN_OUT_STYLE and len(shape) == 2:
            return "Linear", f"in_features={shape[0]}, out_features={shape[1]}, bias={has_bias}"
        if name in _TORCH_STYLE and len(shape) == 4:
            o, i, kh, kw = shape
            return "Conv2d", f"{i}, {o}, kernel_size=({kh}, {kw}), bias={has_bias}"
        if name in _IN_OUT_STYLE and len(shape) == 4:
            kh, kw, i, o = shape
            return "Conv2d", f"{i}, {o}, kernel_size=({kh}, {kw}), bias={has_bias}"
    shapes = ", ".join(f"{name}={tuple(array.shape)}" for name, array in arrays.items())
    return "Params", shapes


def model_spec_from_params(
    name: str,
    params: Any,
    input_shape: Sequence[int],
    *,
    state: Any = None,
    batch_size: int = 1,
) -> ModelSpec:
    """A ``ModelSpec`` from a parameter pytree, for the architecture printer.

    :param name: the model's name, as printed.
    :param params: the trainable parameters: any pytree of arrays (Flax variables,
        an Equinox module, nested dicts or lists). A Flax NNX module, or its state
        (``nnx.state(model)``), sorts itself: ``Param`` variables are trainable, the
        others (batch statistics) not, RNG state is left out. A module keeps its
        definition order; an ``nnx.State`` is ordered by name by NNX itself.
    :param input_shape: one example's input shape, without the batch dimension.
    :param state: optional non-trainable arrays (e.g. Flax ``batch_stats``), counted
        as non-trainable parameters.
    :param batch_size: the batch size the memory estimates are for.

    Output shapes are unknown from parameters alone, so the forward/backward size
    estimate is 0; the model's element size is the first parameter's, and every array
    counts at its own.
    """
    trainable, frozen = _arrays_by_layer(params, trainable=True)
    if state is not None:
        for found, more in zip((trainable, frozen), _arrays_by_layer(state, trainable=False)):
            for parent, arrays in more.items():
                found.setdefault(parent, {}).update(arrays)
    leaves = [leaf for arrays in trainable.values() for leaf in arrays.values()]
    itemsize = np.dtype(leaves[0].dtype).itemsize if leaves else 4
    layers = []
    for parent in list(dict.fromkeys([*trainable, *frozen])):
        arrays = {**trainable.get(parent, {}), **frozen.get(parent, {})}
        kind, args = _describe(arrays)
        n_trainable = sum(math.prod(a.shape) for a in trainable.get(parent, {}).values())
        n_frozen = sum(math.prod(a.shape) for a in frozen.get(parent, {}).values())
        n_bytes = sum(math.prod(a.shape) * np.dtype(a.dtype).itemsize for a in arrays.values())
        label = ".".join(parent) or "params"
        own_bytes = None if n_bytes == (n_trainable + n_frozen) * itemsize else n_bytes
        layers.append(
            LayerSpec(
                label,
                kind,
                args,
                params=n_trainable + n_frozen,
                trainable_params=n_trainable,
                params_bytes=own_bytes,
            )
        )
    return ModelSpec(
        name=name, input_shape=tuple(input_shape), layers=layers, dtype_bytes=itemsize, batch_size=batch_size
    )


__all__ = ["model_spec_from_params", "with_parameters_cast"]
