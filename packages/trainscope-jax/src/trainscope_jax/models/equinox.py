"""Equinox modules described from one abstract forward pass.

Equinox modules are pytrees: the module is rebuilt from shapes inside an abstract
trace (so the caller's module is never touched), switched to inference mode, its
fields walked in definition order, and called on one example while ``__call__`` of
every module class records (and counts each layer's multiply-adds). Functions used as layers (``jax.nn.relu``
in a list of layers, ``eqx.nn.Lambda``) are shown by name. Inexact arrays are
trainable; other arrays, and the arrays of an ``eqx.nn.State`` passed to the call
(batch statistics), are not.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from trainscope_jax.models.arguments import (
    call_args,
    constructor_args,
    function_args,
    function_name,
    is_one,
    text,
)
from trainscope_jax.models.calls import (
    CallRecorder,
    LayerNode,
    abstract_call,
    count,
    is_array,
    walk_container,
)
from trainscope_jax.models.modes import with_mode


def is_equinox_module(obj: Any) -> bool:
    """Whether ``obj`` is an Equinox module (without importing Equinox)."""
    eqx = sys.modules.get("equinox")
    return eqx is not None and isinstance(obj, eqx.Module)


def _from_equinox(cls: type) -> bool:
    return cls.__module__.split(".")[0] == "equinox"


def _is_inexact(array: Any) -> bool:
    return bool(jnp.issubdtype(array.dtype, jnp.inexact))


class _Walker:
    """Builds the layer tree of a rebuilt module and instruments its function layers."""

    def __init__(self, recorder: CallRecorder, state: Any) -> None:
        import equinox as eqx

        self.eqx = eqx
        self.recorder = recorder
        self.state = state
        self.classes: set[type] = set()
        self.seen: set[int] = set()
        self.itemsize: int | None = None
        self.root = LayerNode("", "")

    def module(self, module: Any, node: LayerNode) -> None:
        self.recorder.track(module, node)
        self.classes.add(type(module))
        user = not _from_equinox(type(module))
        for field in dataclasses.fields(module):
            value = getattr(module, field.name, None)
            if field.metadata.get("static", False):
                continue
            new = self.member(node, field.name, value, in_container=False, user=user)
            if new is not value:
                object.__setattr__(module, field.name, new)

    def member(self, node: LayerNode, name: str, value: Any, *, in_container: bool, user: bool) -> Any:
        """Walk one field; returns what should replace it (a recording wrapper for a function)."""
        eqx = self.eqx
        if id(value) in self.seen:
            pass
        elif is_array(value):
            self.seen.add(id(value))
            self.array(node, name, value, trainable=_is_inexact(value))
        elif isinstance(value, eqx.nn.StateIndex):
            self.seen.add(id(value))
            self.state_arrays(node, value)
        elif isinstance(value, eqx.Module):
            self.seen.add(id(value))
            kind, args = describe_layer(value)
            self.module(value, node.add(LayerNode(name, kind, args)))
        else:
            return walk_container(self, node, name, value, in_container=in_container, user=user)
        return value

    def array(self, node: LayerNode, name: str, array: Any, *, trainable: bool) -> None:
        if trainable and self.itemsize is None:
            self.itemsize = array.dtype.itemsize
        if node is self.root:  # the model's own arrays: one row each
            node = node.add(LayerNode(name, "Array", text(tuple(array.shape)), array=True))
        node.param_bytes += count(array.shape) * array.dtype.itemsize
        if trainable:
            node.trainable += count(array.shape)
        else:
            node.frozen += count(array.shape)

    def state_arrays(self, node: LayerNode, index: Any) -> None:
        """Batch statistics kept in the ``eqx.nn.State`` the model was called with: non-trainable."""
        if self.state is None:
            return
        try:
            value = self.state.get(index)
        except (KeyError, ValueError, TypeError):
            return
        for leaf in jax.tree_util.tree_leaves(value):
            if is_array(leaf) and _is_inexact(leaf):
                node.frozen += count(leaf.shape)
                node.param_bytes += count(leaf.shape) * leaf.dtype.itemsize


def describe(
    model: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> tuple[list[LayerNode], int | None]:
    """The layer tree of an Equinox ``model`` called on one example, and its parameters' element size.

    Each node's multiply-adds are for that one example.
    """
    import equinox as eqx

    recorder = CallRecorder()
    found: list[_Walker] = []
    kwargs = with_mode(model, kwargs, train=False)

    def run(model: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        model = eqx.nn.inference_mode(model)
        state = next((leaf for leaf in _leaves((args, kwargs)) if isinstance(leaf, eqx.nn.State)), None)
        walker = _Walker(recorder, state)
        found.append(walker)
        walker.module(model, walker.root)
        with recorder.intercept(walker.classes):
            model(*args, **kwargs)

    state_leaves = {id(leaf) for leaf in _state_leaves((args, kwargs))}
    counts = abstract_call(
        run, model, args, dict(kwargs), data=lambda tree, leaf: tree > 0 and id(leaf) not in state_leaves
    )
    walker = found[0]
    recorder.charge(counts, 1, walker.root.children)
    return walker.root.children, walker.itemsize


def _leaves(tree: Any) -> list[Any]:
    import equinox as eqx

    return jax.tree_util.tree_leaves(tree, is_leaf=lambda x: isinstance(x, eqx.nn.State))


def _state_leaves(tree: Any) -> list[Any]:
    """The arrays of every ``eqx.nn.State`` in ``tree`` (batch statistics: not the data)."""
    import equinox as eqx

    states = [leaf for leaf in _leaves(tree) if isinstance(leaf, eqx.nn.State)]
    return jax.tree_util.tree_leaves(states)


# -- arguments of Equinox's own layers --------------------------------------------------


def _linear(m: Any) -> str:
    bias = {} if m.use_bias else {"use_bias": False}
    return call_args(in_features=m.in_features, out_features=m.out_features, **bias)


def _conv(m: Any) -> str:
    named: dict[str, Any] = {"kernel_size": m.kernel_size, "stride": m.stride, "padding": m.padding}
    if not is_one(m.dilation):
        named["dilation"] = m.dilation
    if m.groups != 1:
        named["groups"] = m.groups
    if not m.use_bias:
        named["use_bias"] = False
    return call_args(m.in_channels, m.out_channels, **named)


def _pool(m: Any) -> str:
    named: dict[str, Any] = {"kernel_size": m.kernel_size, "stride": m.stride}
    if any(p != (0, 0) for p in m.padding):
        named["padding"] = m.padding
    return call_args(**named)


def _batch_norm(m: Any) -> str:
    return call_args(m.input_size, momentum=m.momentum, eps=m.eps)


def _layer_norm(m: Any) -> str:
    return call_args(m.shape, eps=m.eps)


def _group_norm(m: Any) -> str:
    return call_args(m.groups, m.channels, eps=m.eps)


def _dropout(m: Any) -> str:
    return call_args(p=m.p)


def _embedding(m: Any) -> str:
    return call_args(m.num_embeddings, m.embedding_size)


_FORMATTERS: dict[str, Callable[[Any], str]] = {
    "Linear": _linear,
    **dict.fromkeys(
        ["Conv", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose", "ConvTranspose1d", "ConvTranspose2d"],
        _conv,
    ),
    **dict.fromkeys(
        ["Pool", "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d"], _pool
    ),
    "BatchNorm": _batch_norm,
    "LayerNorm": _layer_norm,
    "RMSNorm": _layer_norm,
    "GroupNorm": _group_norm,
    "Dropout": _dropout,
    "Embedding": _embedding,
}


def describe_layer(module: Any) -> tuple[str, str]:
    """``(kind, args)`` of an Equinox module; an ``eqx.nn.Lambda`` shows its function (``relu()``)."""
    cls = type(module)
    if _from_equinox(cls) and cls.__name__ == "Lambda":
        return function_name(module.fn), function_args(module.fn)
    formatter = _FORMATTERS.get(cls.__name__) if _from_equinox(cls) else None
    if formatter is not None:
        try:
            return cls.__name__, str(formatter(module))
        except AttributeError:  # another Equinox version's names: the generic form
            pass
    return cls.__name__, constructor_args(module, skip={"inference", "axis_name"})


__all__ = ["describe", "describe_layer", "is_equinox_module"]
