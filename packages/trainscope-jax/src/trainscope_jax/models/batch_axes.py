"""Which layer outputs carry the batch: found by tracing the model again on a batch twice as large.

A Flax model takes a batch, but not every output of its layers has a batch axis: a
table of positions (``nnx.Embed`` called on ``jnp.arange(length)``), a layer applied to
a parameter, a reduction over the batch. The second trace tells them apart from the
outputs whose leading axis is the batch, whatever the sizes happen to be.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax

from trainscope_jax.models.calls import LayerNode, is_array

Trace = Callable[[tuple[Any, ...], dict[str, Any]], list[LayerNode]]
"""Traces the model on ``(args, kwargs)``; its layer tree, with whole output shapes."""


def _doubled(tree: Any, batch: int) -> Any:
    """``tree`` with every array whose leading dimension is ``batch`` as an abstract one twice as long."""

    def double(leaf: Any) -> Any:
        if is_array(leaf) and len(leaf.shape) and int(leaf.shape[0]) == batch:
            return jax.ShapeDtypeStruct((2 * batch, *leaf.shape[1:]), leaf.dtype)
        return leaf

    return jax.tree_util.tree_map(double, tree)


def trace_doubled(
    trace: Trace, args: tuple[Any, ...], kwargs: dict[str, Any], batch: int
) -> list[LayerNode] | None:
    """The layer tree of the model traced on a batch of ``2 * batch``; None when it takes no
    other batch (a batch size written into the model) or the tree differs."""
    try:
        return trace(_doubled(args, batch), _doubled(kwargs, batch))
    except Exception:  # noqa: BLE001 - any failure of the user's model means: no other batch
        return None


def _batch_axis(shape: tuple[int, ...], doubled: tuple[int, ...], batch: int) -> bool:
    return (
        len(shape) == len(doubled) > 0
        and (shape[0], doubled[0]) == (batch, 2 * batch)
        and shape[1:] == doubled[1:]
    )


def mark_batch_axes(nodes: list[LayerNode], doubled: list[LayerNode] | None, batch: int) -> None:
    """Leave the batch axis out of every output shape that has one.

    An output has a batch axis when its leading dimension is ``batch`` and becomes
    ``2 * batch`` in ``doubled`` (the same model traced on twice the batch) while the rest
    stays. Any other output keeps its whole shape, marked as made once for the batch; so
    does every output when the model took no other batch (``doubled`` is None).
    """
    tree = [node for root in nodes for node in root.walk()]
    other = [node for root in doubled or [] for node in root.walk()]
    if [(n.name, n.kind) for n in tree] != [(n.name, n.kind) for n in other]:
        other = []
    for index, node in enumerate(tree):
        if not node.output_shape:
            continue
        if other and _batch_axis(node.output_shape, other[index].output_shape, batch):
            node.output_shape = node.output_shape[1:]
        else:
            node.per_example = False


__all__ = ["Trace", "mark_batch_axes", "trace_doubled"]
