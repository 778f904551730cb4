"""Flax NNX modules described from one abstract forward pass.

The module is split into its graph and state, merged again inside an abstract trace
(so the caller's module is never touched), switched to evaluation mode, and called
on the sample while ``__call__`` of every module class records (as ``nnx.tabulate``
intercepts calls) and counts each layer's multiply-adds; a second trace on twice the
batch tells which outputs carry the batch. ``Param`` variables are
trainable; batch statistics and other variables are not; RNG state (keys and
counters) is not counted.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from typing import Any

from trainscope_jax.models.arguments import (
    Formatter,
    call_args,
    constructor_args,
    is_one,
    per_dim,
    text,
)
from trainscope_jax.models.batch_axes import mark_batch_axes, trace_doubled
from trainscope_jax.models.calls import (
    CallRecorder,
    LayerNode,
    abstract_call,
    count,
    leading_size,
    walk_container,
)
from trainscope_jax.models.costs import Counts
from trainscope_jax.models.modes import with_mode

_MODES = frozenset({"deterministic", "use_running_average"})


def is_nnx_module(obj: Any) -> bool:
    """Whether ``obj`` is a Flax NNX module (without importing Flax)."""
    nnx = sys.modules.get("flax.nnx")
    return nnx is not None and isinstance(obj, nnx.Module)


def is_nnx_variable(obj: Any) -> bool:
    """Whether ``obj`` is a Flax NNX ``Variable`` (or an older Flax's ``VariableState``)."""
    nnx = sys.modules.get("flax.nnx")
    if nnx is None:
        return False
    # Flax before 0.11 puts ``VariableState`` in a state; newer ones only alias it, with a warning.
    kinds = tuple(k for k in (nnx.Variable, vars(nnx).get("VariableState")) if isinstance(k, type))
    return isinstance(obj, kinds)


def variable_value(variable: Any) -> Any:
    """The array a ``Variable`` holds."""
    get = getattr(variable, "get_value", None)
    return get() if callable(get) else variable.value


def variable_type(variable: Any) -> type:
    """The ``Variable`` subclass (``Param``, ``BatchStat``) of a variable or variable state."""
    kind = getattr(variable, "type", None)
    return kind if isinstance(kind, type) else type(variable)


def is_trainable_variable(variable: Any) -> bool | None:
    """True for ``Param``, False for other state, None for RNG state (not a parameter)."""
    from flax import nnx

    kind = variable_type(variable)
    if issubclass(kind, nnx.RngState):
        return None
    return issubclass(kind, nnx.Param)


def _attributes(module: Any) -> list[tuple[str, Any]]:
    """A module's attributes in definition order, without NNX's own bookkeeping."""
    return [(key, value) for key, value in vars(module).items() if not key.startswith("_pytree__")]


def variables_in_order(module: Any) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every ``Variable`` of ``module`` with its attribute path, in definition order (each once)."""
    from flax import nnx

    seen: set[int] = set()

    def visit(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
        if id(value) in seen:
            return
        if isinstance(value, nnx.Variable):
            seen.add(id(value))
            yield path, value
        elif isinstance(value, nnx.Module):
            seen.add(id(value))
            for key, item in _attributes(value):
                yield from visit(item, (*path, key))
        elif type(value) in (list, tuple):
            for index, item in enumerate(value):
                yield from visit(item, (*path, str(index)))
        elif type(value) is dict:
            for key, item in value.items():
                yield from visit(item, (*path, str(key)))

    yield from visit(module, ())


def _from_flax(cls: type) -> bool:
    return cls.__module__.split(".")[0] == "flax"


class _Walker:
    """Builds the layer tree of a merged module and instruments its function layers."""

    def __init__(self, recorder: CallRecorder) -> None:
        from flax import nnx

        self.nnx = nnx
        self.recorder = recorder
        self.classes: set[type] = set()
        self.seen: set[int] = set()
        self.itemsize: int | None = None
        self.root = LayerNode("", "")
        containers = [getattr(nnx, name, None) for name in ("List", "Dict")]
        self.containers = tuple(c for c in containers if isinstance(c, type))
        rngs = [getattr(nnx, name, None) for name in ("Rngs", "RngStream")]
        self.rngs = tuple(c for c in rngs if isinstance(c, type))

    def module(self, module: Any, node: LayerNode) -> None:
        self.recorder.track(module, node)
        self.classes.add(type(module))
        user = not _from_flax(type(module))
        for key, value in _attributes(module):
            new = self.member(node, key, value, in_container=False, user=user)
            if new is not value:
                object.__setattr__(module, key, new)

    def member(self, node: LayerNode, name: str, value: Any, *, in_container: bool, user: bool) -> Any:
        """Walk one attribute; returns what should replace it (a recording wrapper for a function)."""
        nnx = self.nnx
        if isinstance(value, self.rngs) or id(value) in self.seen:
            pass
        elif isinstance(value, nnx.Variable):
            self.seen.add(id(value))
            self.variable(node, name, value)
        elif isinstance(value, self.containers):
            self.seen.add(id(value))
            for key, item in _attributes(value):
                new = self.member(node, f"{name}.{key}", item, in_container=True, user=user)
                if new is not item:
                    object.__setattr__(value, key, new)
        elif isinstance(value, nnx.Module):
            self.seen.add(id(value))
            self.module(value, node.add(LayerNode(name, type(value).__name__, describe_args(value))))
        else:
            return walk_container(self, node, name, value, in_container=in_container, user=user)
        return value

    def variable(self, node: LayerNode, name: str, variable: Any) -> None:
        trainable = is_trainable_variable(variable)
        if trainable is None:
            return
        array = variable_value(variable)
        n = count(array.shape)
        if trainable and self.itemsize is None:
            self.itemsize = array.dtype.itemsize
        if node is self.root:  # the model's own arrays: one row each
            node = node.add(
                LayerNode(name, variable_type(variable).__name__, text(tuple(array.shape)), array=True)
            )
        node.param_bytes += n * array.dtype.itemsize
        if trainable:
            node.trainable += n
        else:
            node.frozen += n


def describe(
    model: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> tuple[list[LayerNode], int | None]:
    """The layer tree of an NNX ``model`` called on ``args``/``kwargs``, and its parameters' element size.

    Each node's multiply-adds are per example of the batch ``args`` holds.
    """
    batch = leading_size(args, kwargs)
    walker, recorder, counts = _trace(model, args, dict(kwargs))
    recorder.charge(counts, batch, walker.root.children)
    doubled = trace_doubled(lambda a, k: _trace(model, a, k)[0].root.children, args, dict(kwargs), batch)
    mark_batch_axes(walker.root.children, doubled, batch)
    return walker.root.children, walker.itemsize


def _trace(model: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[_Walker, CallRecorder, Counts]:
    """One abstract call of a copy of ``model`` in evaluation mode: its walker, recorder and counts."""
    from flax import nnx

    graphdef, state = nnx.split(model)
    recorder = CallRecorder()
    found: list[_Walker] = []

    def run(state: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        merged = nnx.merge(graphdef, state)
        merged.eval()
        walker = _Walker(recorder)
        found.append(walker)
        walker.module(merged, walker.root)
        kwargs = with_mode(merged, kwargs, train=False)
        with recorder.intercept(walker.classes):
            merged(*args, **kwargs)

    counts = abstract_call(run, state, args, kwargs, data=lambda tree, leaf: tree > 0)
    return found[0], recorder, counts


# -- arguments of NNX's own layers ------------------------------------------------------


def _linear(m: Any, _: Mapping[str, tuple[int, ...]]) -> str:
    bias = {} if m.use_bias else {"use_bias": False}
    return call_args(in_features=m.in_features, out_features=m.out_features, **bias)


def _conv(m: Any, _: Mapping[str, tuple[int, ...]]) -> str:
    dims = len(m.kernel_size)
    named: dict[str, Any] = {
        "kernel_size": tuple(m.kernel_size),
        "strides": per_dim(m.strides, dims),
        "padding": m.padding,
    }
    if not is_one(m.kernel_dilation):
        named["kernel_dilation"] = per_dim(m.kernel_dilation, dims)
    if m.feature_group_count != 1:
        named["feature_group_count"] = m.feature_group_count
    if not m.use_bias:
        named["use_bias"] = False
    return call_args(m.in_features, m.out_features, **named)


def _norm(m: Any, _: Mapping[str, tuple[int, ...]]) -> str:
    named = {"momentum": m.momentum} if hasattr(m, "momentum") else {}
    if hasattr(m, "num_groups"):
        named["num_groups"] = m.num_groups
    return call_args(m.num_features, **named, epsilon=m.epsilon)


def _dropout(m: Any, _: Mapping[str, tuple[int, ...]]) -> str:
    extra = {"broadcast_dims": tuple(m.broadcast_dims)} if m.broadcast_dims else {}
    return call_args(rate=m.rate, **extra)


def _embed(m: Any, _: Mapping[str, tuple[int, ...]]) -> str:
    return call_args(m.num_embeddings, m.features)


_FORMATTERS: dict[str, Formatter] = {
    "Linear": _linear,
    "Conv": _conv,
    "ConvTranspose": _conv,
    "BatchNorm": _norm,
    "LayerNorm": _norm,
    "RMSNorm": _norm,
    "GroupNorm": _norm,
    "Dropout": _dropout,
    "Embed": _embed,
}


def describe_args(module: Any) -> str:
    """The text inside ``Kind(...)`` for an NNX module: NNX's own argument names."""
    formatter = _FORMATTERS.get(type(module).__name__) if _from_flax(type(module)) else None
    if formatter is not None:
        try:
            return formatter(module, {})
        except AttributeError:  # another Flax version's attribute names: the generic form
            pass
    return constructor_args(module, skip=_MODES)


__all__ = [
    "describe",
    "describe_args",
    "is_nnx_module",
    "is_nnx_variable",
    "is_trainable_variable",
    "variable_type",
    "variable_value",
    "variables_in_order",
]
