"""The FLOPs of training on one example, from XLA's cost analysis of the loss gradient.

The model is applied as it trains (training mode; dropout draws from a key), a softmax
cross-entropy loss is taken on its output, and the gradient with respect to the
trainable parameters is lowered on shapes (nothing runs, nothing is compiled) for the
CPU. XLA's cost analysis of that program, before any backend optimisation, gives the
same figure on every machine. The figure is what one more example adds: the FLOPs of
a batch of 3 less those of a batch of 2, so work that does not grow with the batch is
left out. None where the model cannot be applied so (several inputs, an output that
is not an array of logits) or XLA reports no FLOPs: the figure is left out, never guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import optax

from trainscope_jax.models.calls import is_array
from trainscope_jax.models.modes import accepts, with_mode

if TYPE_CHECKING:
    from trainscope_jax.models.sequential import Sequential

Loss = Callable[..., jax.Array]


def cross_entropy(logits: Any) -> jax.Array:
    """Mean softmax cross-entropy of ``logits`` (classes last) against class 0."""
    if not is_array(logits) or not jnp.issubdtype(logits.dtype, jnp.floating) or logits.ndim < 1:
        raise TypeError(f"the model's output is not an array of logits: {type(logits).__name__}")
    labels = jnp.zeros(logits.shape[:-1], jnp.int32)
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def _abstract_key() -> Any:
    return jax.eval_shape(jax.random.key, 0)


def _cpu() -> Any:
    """A sharding on the CPU, or None where JAX runs without its CPU backend."""
    try:
        return jax.sharding.SingleDeviceSharding(jax.devices("cpu")[0])
    except RuntimeError:
        return None


def gradient_flops(loss: Loss, *args: Any) -> float:
    """FLOPs of ``jax.grad(loss)(*args)`` (gradient with respect to ``args[0]``), on shapes only.

    XLA's cost analysis of the lowered program; a ValueError when it reports none.
    """
    sharding = _cpu()
    abstract = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=sharding), args)
    analysis = jax.jit(jax.grad(loss)).lower(*abstract).cost_analysis()
    if isinstance(analysis, (list, tuple)):  # older JAX: one dict per program
        analysis = analysis[0] if analysis else {}
    flops = float((analysis or {}).get("flops", 0.0))
    if not flops > 0:
        raise ValueError("XLA's cost analysis reports no FLOPs for the gradient")
    return flops


def flops_per_example(loss: Loss, *args: Any, example: Any) -> float | None:
    """FLOPs one more example adds to ``jax.grad(loss)(*args, x)``, ``x`` a batch of ``example``s.

    None when the gradient cannot be lowered or XLA reports no FLOPs.
    """

    def batch(size: int) -> Any:
        return jax.ShapeDtypeStruct((size, *example.shape), example.dtype)

    try:
        flops = gradient_flops(loss, *args, batch(3)) - gradient_flops(loss, *args, batch(2))
    except Exception:  # noqa: BLE001 - optional figure: a model that cannot be differentiated so has none
        return None
    return flops if flops > 0 else None


def sequential_train_flops(model: Sequential) -> float | None:
    """Training FLOPs of one example for trainscope's ``Sequential`` (on the logits before a Softmax)."""
    key = _abstract_key()
    params, state = jax.eval_shape(model.init, key)

    def loss(params: Any, state: Any, key: Any, x: Any) -> jax.Array:
        logits, _ = model.apply(params, state, x, train=True, key=key, logits=True)
        return cross_entropy(logits)

    example = jax.ShapeDtypeStruct(model.input_shape, jnp.float32)
    return flops_per_example(loss, params, state, key, example=example)


def _example(batch: Any) -> Any:
    """One example of a batch, as shapes."""
    return jax.ShapeDtypeStruct(tuple(batch.shape[1:]), batch.dtype)


def _flags_only(kwargs: Mapping[str, Any]) -> bool:
    """Whether the keyword arguments are flags (``train=False``), not inputs."""
    return not any(is_array(leaf) for leaf in jax.tree_util.tree_leaves(dict(kwargs)))


def nnx_train_flops(model: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> float | None:
    """Training FLOPs of one example for a Flax NNX module called on a batch ``args[0]``."""
    from flax import nnx

    if len(args) != 1 or not is_array(args[0]) or not _flags_only(kwargs):
        return None
    parts: Any = nnx.split(model, nnx.Param, ...)
    graphdef, params, rest = parts
    takes_rngs = accepts(model, "rngs")

    def loss(params: Any, rest: Any, key: Any, x: Any) -> jax.Array:
        params, rest = jax.tree.map(lambda a: a, (params, rest))  # variables of this trace
        merged = nnx.merge(graphdef, params, rest)
        merged.train()
        call = with_mode(merged, kwargs, train=True, override=True)
        if takes_rngs:
            call["rngs"] = nnx.Rngs(key)
        return cross_entropy(merged(x, **call))

    return flops_per_example(loss, params, rest, _abstract_key(), example=_example(args[0]))


def linen_train_flops(
    module: Any, variables: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> float | None:
    """Training FLOPs of one example for a Flax Linen module (unbound) applied to a batch ``args[0]``."""
    if len(args) != 1 or not is_array(args[0]) or not _flags_only(kwargs):
        return None
    example, key = _example(args[0]), _abstract_key()
    if variables is None:
        init = with_mode(module.__call__, kwargs, train=False)
        x = jax.ShapeDtypeStruct((1, *example.shape), example.dtype)
        variables = jax.eval_shape(lambda k, x: module.init({"params": k, "dropout": k}, x, **init), key, x)
    params = variables["params"]
    state = {name: tree for name, tree in variables.items() if name not in ("params", "intermediates")}
    call = with_mode(module.__call__, kwargs, train=True, override=True)

    def loss(params: Any, state: Any, key: Any, x: Any) -> jax.Array:
        variables, rngs = {"params": params, **state}, {"dropout": key}
        if state:
            logits, _ = module.apply(variables, x, rngs=rngs, mutable=list(state), **call)
        else:
            logits = module.apply(variables, x, rngs=rngs, **call)
        return cross_entropy(logits)

    return flops_per_example(loss, params, state, key, example=example)


def equinox_train_flops(model: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> float | None:
    """Training FLOPs for an Equinox module called on one example ``args[0]`` (and its ``eqx.nn.State``)."""
    import equinox as eqx

    state = args[1] if len(args) == 2 and isinstance(args[1], eqx.nn.State) else None
    if len(args) != (1 if state is None else 2) or not is_array(args[0]) or not _flags_only(kwargs):
        return None
    params, static = eqx.partition(model, eqx.is_inexact_array)
    takes_key = accepts(model, "key")

    def loss(params: Any, state: Any, key: Any, x: Any) -> jax.Array:
        merged = eqx.nn.inference_mode(eqx.combine(params, static), value=False)
        call = with_mode(merged, kwargs, train=True, override=True)
        keys = jax.random.split(key, x.shape[0]) if takes_key else None  # one per example, as in training

        def one(example: Any, state: Any, key: Any) -> Any:
            extra = {"key": key} if key is not None else {}
            if state is None:
                return merged(example, **call, **extra), state
            return merged(example, state, **call, **extra)

        key_axis = None if keys is None else 0
        batched = jax.vmap(one, in_axes=(0, None, key_axis), out_axes=(0, None), axis_name="batch")
        return cross_entropy(batched(x, state, keys)[0])

    example = jax.ShapeDtypeStruct(args[0].shape, args[0].dtype)
    return flops_per_example(loss, params, state, _abstract_key(), example=example)


__all__ = [
    "cross_entropy",
    "equinox_train_flops",
    "flops_per_example",
    "gradient_flops",
    "linen_train_flops",
    "nnx_train_flops",
    "sequential_train_flops",
]
