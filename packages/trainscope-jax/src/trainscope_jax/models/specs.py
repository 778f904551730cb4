"""``model_spec_from_params``: a ``ModelSpec`` for any JAX model from its parameter pytree.

Works with Flax (``{"params": {"Dense_0": {"kernel", "bias"}}}``), Equinox modules,
Haiku dicts and hand-written dicts or lists of arrays. Arrays are grouped into one
layer per parent node; a recognisable kernel prints as ``Linear(...)`` or ``Conv2d(...)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import jax
import numpy as np

from trainscope import LayerSpec, ModelSpec

_TORCH_STYLE = frozenset({"weight"})
"""Leaf names whose kernels are laid out ``(out, in)`` / ``(out, in, kh, kw)`` (PyTorch, Equinox)."""
_IN_OUT_STYLE = frozenset({"kernel", "w"})
"""Leaf names whose kernels are ``(in, out)`` / ``(kh, kw, in, out)`` (Flax, Haiku)."""
_BIAS = frozenset({"bias", "b"})
_COLLECTIONS = frozenset({"params", "batch_stats", "state"})
"""Top-level Flax collection names, left out of layer names so params and state line up."""


def _key_name(key: Any) -> str:
    for attr in ("key", "name", "idx"):
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key)


def _is_array(leaf: Any) -> bool:
    return hasattr(leaf, "shape") and hasattr(leaf, "dtype")


def _leaves_with_names(tree: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every array leaf with its path; dicts in insertion order (the order layers were made)."""
    if isinstance(tree, Mapping):
        for key, value in tree.items():
            yield from _leaves_with_names(value, (*prefix, str(key)))
    elif isinstance(tree, (list, tuple)) and not hasattr(tree, "_fields"):
        for index, value in enumerate(tree):
            yield from _leaves_with_names(value, (*prefix, str(index)))
    else:
        for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
            if _is_array(leaf):
                yield (*prefix, *(_key_name(k) for k in path)), leaf


def _arrays_by_layer(tree: Any) -> dict[tuple[str, ...], dict[str, Any]]:
    layers: dict[tuple[str, ...], dict[str, Any]] = {}
    for names, leaf in _leaves_with_names(tree):
        if len(names) > 1 and names[0] in _COLLECTIONS:
            names = names[1:]
        parent, leaf_name = (names[:-1], names[-1]) if names else ((), "value")
        layers.setdefault(parent, {})[leaf_name] = leaf
    return layers


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
        an Equinox module, nested dicts or lists).
    :param input_shape: one example's input shape, without the batch dimension.
    :param state: optional non-trainable arrays (e.g. Flax ``batch_stats``), counted
        as non-trainable parameters.
    :param batch_size: the batch size the memory estimates are for.

    Output shapes are unknown from parameters alone, so the forward/backward size
    estimate is 0; element size is taken from the first parameter.
    """
    trainable = _arrays_by_layer(params)
    frozen = _arrays_by_layer(state) if state is not None else {}
    layers = []
    for parent in list(dict.fromkeys([*trainable, *frozen])):
        arrays = {**trainable.get(parent, {}), **frozen.get(parent, {})}
        kind, args = _describe(arrays)
        n_trainable = sum(math.prod(a.shape) for a in trainable.get(parent, {}).values())
        n_frozen = sum(math.prod(a.shape) for a in frozen.get(parent, {}).values())
        label = ".".join(parent) or "params"
        layers.append(
            LayerSpec(label, kind, args, params=n_trainable + n_frozen, trainable_params=n_trainable)
        )
    leaves = [leaf for leaf in jax.tree_util.tree_leaves(params) if _is_array(leaf)]
    itemsize = np.dtype(leaves[0].dtype).itemsize if leaves else 4
    return ModelSpec(
        name=name, input_shape=tuple(input_shape), layers=layers, dtype_bytes=itemsize, batch_size=batch_size
    )


__all__ = ["model_spec_from_params"]
