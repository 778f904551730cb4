"""Flax Linen modules described from one abstract forward pass.

The module is applied to its variables (or initialised from the sample) inside an
abstract trace while ``nn.intercept_methods`` records each submodule's first call, as
Linen's own ``tabulate`` does, and counts each submodule's multiply-adds; a second trace
on twice the batch tells which outputs carry the batch. The
``params`` collection is trainable; the other collections (``batch_stats``, ...) are
not; ``intermediates`` are not counted.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

import jax

from trainscope_jax.models.arguments import Formatter, call_args, constructor_args, is_one, per_dim, text
from trainscope_jax.models.batch_axes import mark_batch_axes, trace_doubled
from trainscope_jax.models.calls import (
    CallRecorder,
    LayerNode,
    abstract_call,
    count,
    is_array,
    leading_size,
)
from trainscope_jax.models.costs import Counts
from trainscope_jax.models.modes import with_mode

Path = tuple[str, ...]
Arrays = Mapping[str, tuple[int, ...]]
_NOT_COUNTED = frozenset({"intermediates"})


def is_linen_module(obj: Any) -> bool:
    """Whether ``obj`` is a Flax Linen module (without importing Flax)."""
    linen = sys.modules.get("flax.linen")
    return linen is not None and isinstance(obj, linen.Module)


def unbind(module: Any, variables: Any) -> tuple[Any, Any]:
    """An unbound module and its variables (a bound module carries its own)."""
    if variables is None and getattr(module, "scope", None) is not None:
        return module.unbind()
    return module, variables


def arrays_by_module(variables: Any) -> dict[Path, dict[str, dict[str, Any]]]:
    """Module path -> collection -> array name -> array (or its shape and dtype), from a variables dict."""
    found: dict[Path, dict[str, dict[str, Any]]] = {}

    def visit(tree: Any, collection: str, path: Path) -> None:
        for key, value in tree.items():
            if isinstance(value, Mapping):
                visit(value, collection, (*path, str(key)))
            elif is_array(value):
                found.setdefault(path, {}).setdefault(collection, {})[str(key)] = value

    for collection, tree in variables.items():
        if collection not in _NOT_COUNTED and isinstance(tree, Mapping):
            visit(tree, str(collection), ())
    return found


def describe(
    module: Any, variables: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> tuple[list[LayerNode], int | None]:
    """The layer tree of a Linen ``module`` applied to ``args``, and its parameters' element size.

    Each node's multiply-adds are per example of the batch ``args`` holds; a second trace on
    twice the batch tells which outputs carry the batch.
    """
    module, variables = unbind(module, variables)
    kwargs = with_mode(module.__call__, kwargs, train=False)
    batch = leading_size(args, kwargs)
    root, recorder, counts, found = _layer_tree(module, variables, args, dict(kwargs))
    recorder.charge(counts, batch, root.children)
    doubled = trace_doubled(
        lambda a, k: _layer_tree(module, variables, a, k)[0].children, args, dict(kwargs), batch
    )
    mark_batch_axes(root.children, doubled, batch)
    params_leaves = [leaf for leaf in jax.tree_util.tree_leaves(found.get("params", {})) if is_array(leaf)]
    return root.children, (params_leaves[0].dtype.itemsize if params_leaves else None)


def _layer_tree(
    module: Any, variables: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[LayerNode, CallRecorder, Counts, Any]:
    """One abstract application of ``module``: the root of its layer tree (modules in call order,
    the model's own arrays as rows), the recorder, the multiply-adds by scope and the variables."""
    import flax.linen as nn

    recorder = CallRecorder()
    root = LayerNode("", "")
    nodes: dict[Path, LayerNode] = {(): root}
    modules: dict[Path, Any] = {}

    def node_for(path: Path, kind: str) -> LayerNode:
        if path not in nodes:
            parent = node_for(path[:-1], "Module")
            nodes[path] = parent.add(LayerNode(path[-1], kind))
        return nodes[path]

    def interceptor(next_fun: Callable[..., Any], a: Any, k: Any, context: Any) -> Any:
        method, instance = context.method_name, context.module
        if method == "setup" or (method.startswith("_") and method != "__call__"):
            return next_fun(*a, **k)
        path = tuple(instance.path)
        node = node_for(path, type(instance).__name__)
        modules.setdefault(path, instance)
        return recorder.call(instance, node if path else None, next_fun, *a, **k)

    keys = jax.eval_shape(lambda: dict(zip(("params", "dropout"), jax.random.split(jax.random.key(0)))))
    result: list[Any] = []

    def run(rngs: Any, variables: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        with nn.intercept_methods(interceptor):
            if variables is None:
                variables = module.init(rngs, *args, **kwargs)
            else:
                module.apply(variables, *args, rngs=rngs, mutable=True, **kwargs)
        result.append(jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), variables))

    counts = abstract_call(run, keys, variables, args, kwargs, data=lambda tree, leaf: tree > 1)
    arrays = arrays_by_module(result[0])
    for path, collections in arrays.items():
        if not path:  # the model's own arrays: one row each
            for collection, own in collections.items():
                for key, array in own.items():
                    kind = "Param" if collection == "params" else collection
                    row = root.add(LayerNode(key, kind, text(tuple(array.shape)), array=True))
                    _count(row, collection, {key: array})
            continue
        node = node_for(path, "Params")
        for collection, own in collections.items():
            _count(node, collection, own)
    for path, node in nodes.items():
        params = {key: tuple(a.shape) for key, a in arrays.get(path, {}).get("params", {}).items()}
        if path in modules:
            node.args = describe_args(modules[path], params)
    return root, recorder, counts, result[0]


def _count(node: LayerNode, collection: str, arrays: Mapping[str, Any]) -> None:
    n = sum(count(array.shape) for array in arrays.values())
    node.param_bytes += sum(count(array.shape) * array.dtype.itemsize for array in arrays.values())
    if collection == "params":
        node.trainable += n
    else:
        node.frozen += n


# -- arguments of Linen's own layers ----------------------------------------------------


def _dense(m: Any, arrays: Arrays) -> str:
    kernel = arrays["kernel"]
    bias = {} if m.use_bias else {"use_bias": False}
    return call_args(in_features=kernel[0], features=m.features, **bias)


def _conv(m: Any, arrays: Arrays) -> str:
    kernel = arrays["kernel"]
    kernel_size = tuple(kernel[:-2])
    dims = len(kernel_size)
    named: dict[str, Any] = {
        "kernel_size": kernel_size,
        "strides": per_dim(m.strides, dims),
        "padding": m.padding,
    }
    if not is_one(m.kernel_dilation):
        named["kernel_dilation"] = per_dim(m.kernel_dilation, dims)
    if getattr(m, "feature_group_count", 1) != 1:
        named["feature_group_count"] = m.feature_group_count
    if not m.use_bias:
        named["use_bias"] = False
    in_features = kernel[-2] * getattr(m, "feature_group_count", 1)
    return call_args(in_features, m.features, **named)


def _norm(m: Any, arrays: Arrays) -> str:
    shape = arrays.get("scale") or arrays.get("bias")
    positional = [shape[-1]] if shape else []
    named = {"momentum": m.momentum} if hasattr(m, "momentum") else {}
    if getattr(m, "num_groups", None) is not None:
        named["num_groups"] = m.num_groups
    return call_args(*positional, **named, epsilon=m.epsilon)


def _dropout(m: Any, _: Arrays) -> str:
    extra = {"broadcast_dims": tuple(m.broadcast_dims)} if m.broadcast_dims else {}
    return call_args(rate=m.rate, **extra)


def _embed(m: Any, _: Arrays) -> str:
    return call_args(m.num_embeddings, m.features)


_FORMATTERS: dict[str, Formatter] = {
    "Dense": _dense,
    "Conv": _conv,
    "ConvTranspose": _conv,
    "BatchNorm": _norm,
    "LayerNorm": _norm,
    "RMSNorm": _norm,
    "GroupNorm": _norm,
    "Dropout": _dropout,
    "Embed": _embed,
}


def describe_args(module: Any, params: Arrays) -> str:
    """The text inside ``Kind(...)`` for a Linen module: Linen's own argument names."""
    cls = type(module)
    formatter = _FORMATTERS.get(cls.__name__) if cls.__module__.startswith("flax.") else None
    if formatter is not None:
        try:
            return formatter(module, params)
        except (AttributeError, KeyError, IndexError):  # another Flax version's names: the generic form
            pass
    return constructor_args(module, skip={"use_running_average", "deterministic", "axis_name"})


__all__ = ["arrays_by_module", "describe", "describe_args", "is_linen_module", "unbind"]
