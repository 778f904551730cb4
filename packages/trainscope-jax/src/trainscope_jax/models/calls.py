"""Recording one abstract forward pass: which layer ran when, what it returned, what it cost.

Shared by the Flax NNX, Flax Linen and Equinox descriptions: a tree of
:class:`LayerNode` (a model's modules with their own parameter counts and bytes), a
:class:`CallRecorder` that stamps each node with its first call and the whole shape
of its output and runs every call in the node's own ``jax.named_scope``, and :func:`abstract_call`,
which traces a function on shapes only and counts each scope's multiply-adds.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import jax
import numpy as np

from trainscope import LayerSpec
from trainscope_jax.models.arguments import function_args, function_name
from trainscope_jax.models.costs import Counts, count_mult_adds, per_example, scope_name


@dataclass
class LayerNode:
    """A module (or a function used as a layer) while a model is being described."""

    name: str
    kind: str
    args: str = ""
    trainable: int = 0
    frozen: int = 0
    children: list[LayerNode] = field(default_factory=list)
    first_call: int | None = None
    param_bytes: int = 0
    """Bytes of this node's own arrays, each at its own element size."""
    output_shape: tuple[int, ...] = ()
    """The whole output shape, until :func:`~trainscope_jax.models.batch_axes.mark_batch_axes`
    leaves out a batch axis."""
    output_itemsize: int | None = None
    per_example: bool = True
    """``output_shape`` is one example's (a batch dimension left out, or Equinox's one example)."""
    array: bool = False
    """A row for one of the model's own arrays: not a layer, it computes nothing itself."""
    mult_adds: float | None = None
    """Multiply-adds of this node's own calls for one example (:meth:`CallRecorder.charge`)."""

    def add(self, child: LayerNode) -> LayerNode:
        """Append ``child`` (in definition order) and return it."""
        self.children.append(child)
        return child

    def _order(self) -> float:
        """The first call of this node or of anything inside it (uncalled ones go last)."""
        calls = [node.first_call for node in self.walk() if node.first_call is not None]
        return min(calls) if calls else math.inf

    def walk(self) -> Iterator[LayerNode]:
        """This node, then every descendant, depth first in definition order."""
        yield self
        for child in self.children:
            yield from child.walk()

    def spec(self, itemsize: int) -> LayerSpec:
        """This node as a ``LayerSpec``: children in call order, then those never called.

        Sizes that are the model's element size ``itemsize`` are left to the model spec.
        """
        params = self.trainable + self.frozen
        output_itemsize = self.output_itemsize
        return LayerSpec(
            name=self.name,
            kind=self.kind,
            args=self.args,
            params=params,
            trainable_params=self.trainable,
            output_shape=self.output_shape,
            children=layer_specs(self.children, itemsize),
            mult_adds=self.mult_adds,
            per_example=self.per_example,
            params_bytes=None if self.param_bytes == params * itemsize else self.param_bytes,
            output_dtype_bytes=None if output_itemsize == itemsize else output_itemsize,
        )


def layer_specs(nodes: Iterable[LayerNode], itemsize: int) -> list[LayerSpec]:
    """``LayerSpec`` of each node, in call order (a stable sort keeps definition order for ties);
    ``itemsize``: the model's element size."""
    return [node.spec(itemsize) for node in sorted(nodes, key=lambda node: node._order())]


def is_array(value: Any) -> bool:
    """A JAX or NumPy array, or an abstract one (``jax.ShapeDtypeStruct``)."""
    return isinstance(value, (jax.Array, np.ndarray, jax.ShapeDtypeStruct))


def first_array(*trees: Any) -> Any:
    """The first array (or ``jax.ShapeDtypeStruct``) among the leaves of ``trees``, else None."""
    for leaf in jax.tree_util.tree_leaves(trees):
        if is_array(leaf):
            return leaf
    return None


def leading_size(*trees: Any) -> int:
    """The batch size of a sample: the leading dimension of its first array (1 for none)."""
    sample = first_array(*trees)
    return int(sample.shape[0]) if sample is not None and len(sample.shape) else 1


def first_output(output: Any) -> tuple[tuple[int, ...], int | None]:
    """Whole shape and element size of the first array in ``output`` (``()`` and None for none)."""
    for leaf in jax.tree_util.tree_leaves(output):
        shape, dtype = getattr(leaf, "shape", None), getattr(leaf, "dtype", None)
        if shape is not None:
            return tuple(int(d) for d in shape), (None if dtype is None else np.dtype(dtype).itemsize)
    return (), None


class CallRecorder:
    """Stamps layer nodes with the order of their first call and the whole shape of its output."""

    def __init__(self) -> None:
        self.nodes: dict[int, LayerNode] = {}
        self.scopes: dict[str, LayerNode] = {}
        self._scope_of: dict[int, str] = {}
        self._counter = itertools.count()
        self._active: set[int] = set()

    def track(self, obj: Any, node: LayerNode) -> None:
        """Record calls of ``obj`` (a module instance) on ``node``."""
        self.nodes[id(obj)] = node

    def call(
        self, obj: Any, node: LayerNode | None, fn: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Any:
        """Run ``fn(*args, **kwargs)`` as a call of ``obj``, recording it on ``node`` the first time."""
        if node is None or id(obj) in self._active:
            return fn(*args, **kwargs)
        index = next(self._counter)
        self._active.add(id(obj))
        try:
            with jax.named_scope(self._scope(node)):
                output = fn(*args, **kwargs)
        finally:
            self._active.discard(id(obj))
        if node.first_call is None:
            node.first_call = index
            node.output_shape, node.output_itemsize = first_output(output)
        return output

    def _scope(self, node: LayerNode) -> str:
        if id(node) not in self._scope_of:
            name = scope_name(len(self.scopes))
            self._scope_of[id(node)] = name
            self.scopes[name] = node
        return self._scope_of[id(node)]

    def charge(self, counts: Counts, batch: int, nodes: Iterable[LayerNode]) -> None:
        """Give every node of the tree ``nodes`` its own multiply-adds per example (of ``batch``).

        A layer never called did no work of its own, unless work ran outside every called
        layer: then it may have done that work (through a method other than its call),
        so its count is unknown. A row for one of the model's own arrays counts 0: the
        model's own code that uses it is no layer (as in torchinfo).
        """
        tree = [node for root in nodes for node in root.walk()]
        rows = {id(node) for node in tree}
        outside = [counts.get(None, 0)]  # the model's own call is no row
        outside += [counts.get(name, 0) for name, node in self.scopes.items() if id(node) not in rows]
        for node in tree:
            node.mult_adds = 0 if node.array or all(work == 0 for work in outside) else None
        for name, node in self.scopes.items():
            node.mult_adds = per_example(counts.get(name, 0), batch)

    @contextlib.contextmanager
    def intercept(self, classes: Iterable[type]) -> Iterator[None]:
        """Wrap ``__call__`` of ``classes`` while the block runs, so calls of tracked instances record."""
        call = "__call__"
        originals = {cls: (cls.__dict__.get(call), getattr(cls, call)) for cls in set(classes)}
        try:
            for cls, (_, method) in originals.items():
                setattr(cls, call, self._wrapper(method))
            yield
        finally:
            for cls, (own, _) in originals.items():
                if own is None:
                    delattr(cls, call)
                else:
                    setattr(cls, call, own)

    def _wrapper(self, call: Callable[..., Any]) -> Callable[..., Any]:
        def recorded(obj: Any, *args: Any, **kwargs: Any) -> Any:
            return self.call(obj, self.nodes.get(id(obj)), call, obj, *args, **kwargs)

        return recorded


class RecordedFunction:
    """A function used as a layer (``jax.nn.relu`` in a list of layers), recording its calls."""

    def __init__(self, fn: Callable[..., Any], node: LayerNode, recorder: CallRecorder) -> None:
        self.fn, self.node, self.recorder = fn, node, recorder

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.recorder.call(self, self.node, self.fn, *args, **kwargs)


class MemberWalker(Protocol):
    """A framework's walk over a module's members (see ``walk_container``)."""

    recorder: CallRecorder

    def member(self, node: LayerNode, name: str, value: Any, *, in_container: bool, user: bool) -> Any: ...


def walk_container(
    walker: MemberWalker, node: LayerNode, name: str, value: Any, *, in_container: bool, user: bool
) -> Any:
    """Walk a list, tuple or dict member item by item (``name.0``, ``name.key``), and record a
    function found in one (or set by the user's own code) as a layer; returns what should
    replace ``value`` (the container with recording wrappers, or ``value`` itself)."""
    if type(value) in (list, tuple):
        items = [
            walker.member(node, f"{name}.{i}", item, in_container=True, user=user)
            for i, item in enumerate(value)
        ]
        if any(new is not old for new, old in zip(items, value)):
            return type(value)(items)
    elif type(value) is dict:
        entries = {
            k: walker.member(node, f"{name}.{k}", item, in_container=True, user=user)
            for k, item in value.items()
        }
        if any(entries[k] is not value[k] for k in value):
            return entries
    elif is_function(value) and (in_container or user):
        child = node.add(LayerNode(name, function_name(value), function_args(value)))
        return RecordedFunction(value, child, walker.recorder)
    return value


def is_function(value: Any) -> bool:
    """A plain callable that may act as a parameter-free layer (not a class, array or module)."""
    return callable(value) and not isinstance(value, type) and not is_array(value)


def abstract_call(
    fn: Callable[..., None], *trees: Any, data: Callable[[int, Any], bool] = lambda tree, leaf: False
) -> Counts:
    """Trace ``fn(*trees)`` on shapes only (nothing is computed); the multiply-adds by layer scope.

    Leaves that are not arrays (flags such as ``train=False``, functions) are passed as
    they are. ``data(index, leaf)`` tells whether an array leaf of ``trees[index]`` is the
    data (the sample input) rather than a parameter or state.
    """
    leaves: list[Any] = []
    owners: list[int] = []
    treedefs = []
    for index, tree in enumerate(trees):
        tree_leaves, treedef = jax.tree_util.tree_flatten(tree)
        leaves += tree_leaves
        owners += [index] * len(tree_leaves)
        treedefs.append((treedef, len(tree_leaves)))
    dynamic = [is_array(leaf) for leaf in leaves]

    def run(arrays: list[Any]) -> None:
        it = iter(arrays)
        values = iter([next(it) if d else leaf for leaf, d in zip(leaves, dynamic)])
        fn(*(jax.tree_util.tree_unflatten(tree, [next(values) for _ in range(n)]) for tree, n in treedefs))

    arrays = [leaf for leaf, d in zip(leaves, dynamic) if d]
    flags = [data(owner, leaf) for leaf, owner, d in zip(leaves, owners, dynamic) if d]
    return count_mult_adds(jax.make_jaxpr(run)(arrays), flags)


def count(shape: Iterable[int]) -> int:
    """Number of elements of an array of ``shape``."""
    return math.prod(int(d) for d in shape)


__all__ = [
    "CallRecorder",
    "LayerNode",
    "RecordedFunction",
    "abstract_call",
    "count",
    "first_array",
    "first_output",
    "is_array",
    "is_function",
    "layer_specs",
    "leading_size",
]
