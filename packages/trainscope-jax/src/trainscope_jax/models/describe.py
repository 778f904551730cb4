"""``model_spec``: the ``ModelSpec`` of any JAX model, from one abstract forward pass.

Flax NNX, Flax Linen and Equinox modules are recognised without importing the
frameworks (a module of one of them means it is already imported); trainscope's own
``Sequential`` describes itself; anything else is taken as a parameter pytree.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

import trainscope_jax.models.equinox as eqx_models
import trainscope_jax.models.linen as linen_models
import trainscope_jax.models.nnx as nnx_models
import trainscope_jax.models.train_flops as train_flops
from trainscope import ModelSpec
from trainscope_jax.models.calls import LayerNode, first_array, layer_specs
from trainscope_jax.models.sequential import Sequential
from trainscope_jax.models.specs import model_spec_from_params


def framework_of(model: Any) -> str | None:
    """``trainscope``, ``flax.nnx``, ``flax.linen`` or ``equinox`` for a model of that kind, else None."""
    if isinstance(model, Sequential):
        return "trainscope"
    if nnx_models.is_nnx_module(model):
        return "flax.nnx"
    if linen_models.is_linen_module(model):
        return "flax.linen"
    if eqx_models.is_equinox_module(model):
        return "equinox"
    return None


def model_spec(
    model: Any,
    *sample_args: Any,
    name: str | None = None,
    variables: Any = None,
    **sample_kwargs: Any,
) -> ModelSpec:
    """The ``ModelSpec`` of ``model`` called on a sample, for the architecture printer.

    :param model: a Flax NNX module, a Flax Linen module (bound, given ``variables``, or
        initialised from the sample), an Equinox module, a trainscope ``Sequential``, or
        any parameter pytree (described by :func:`model_spec_from_params`).
    :param sample_args: the model's inputs, as arrays or ``jax.ShapeDtypeStruct``: a batch
        for Flax (channels-last images), one example for Equinox (as its modules take it).
        Only shapes are used: the pass is traced, nothing is computed.
    :param name: the name printed; the model's class name by default.
    :param variables: a Linen module's variables (``{"params": ..., "batch_stats": ...}``).
    :param sample_kwargs: keyword arguments of the call (``train=False``).

    Layers come in call order, nested modules as children; each has its attribute
    path as name, the framework's class name and arguments, its output shape, and the
    multiply-adds of its own calls per example. ``train_flops_per_example`` comes from
    XLA's cost analysis of the gradient of a loss on one example (None where the model
    takes more than one input).
    """
    framework = framework_of(model)
    sample = first_array(sample_args, dict(sample_kwargs))
    if framework == "trainscope":
        return _sequential_spec(model, sample, name)
    if framework is None:
        shape = () if sample is None else tuple(sample.shape)
        spec = model_spec_from_params(name or "Model", model, shape[1:], batch_size=shape[0] if shape else 1)
        return spec if sample is None else _with_input_dtype(spec, sample)
    if sample is None:
        raise TypeError(
            f"model_spec needs a sample input for a {framework} module: "
            f"model_spec(model, x) with x an array (or jax.ShapeDtypeStruct) of the model's input"
        )
    nodes: list[LayerNode]
    if framework == "flax.nnx":
        nodes, itemsize = nnx_models.describe(model, sample_args, sample_kwargs)
        flops = train_flops.nnx_train_flops(model, sample_args, sample_kwargs)
    elif framework == "flax.linen":
        nodes, itemsize = linen_models.describe(model, variables, sample_args, sample_kwargs)
        module, bound_variables = linen_models.unbind(model, variables)
        flops = train_flops.linen_train_flops(module, bound_variables, sample_args, sample_kwargs)
    else:
        nodes, itemsize = eqx_models.describe(model, sample_args, sample_kwargs)
        flops = train_flops.equinox_train_flops(model, sample_args, sample_kwargs)
    batched = framework != "equinox"
    shape = tuple(int(d) for d in sample.shape)
    dtype_bytes = itemsize or np.dtype(sample.dtype).itemsize
    spec = ModelSpec(
        name=name or type(model).__name__,
        input_shape=shape[1:] if batched else shape,
        layers=layer_specs(nodes, dtype_bytes),
        dtype_bytes=dtype_bytes,
        batch_size=shape[0] if batched and shape else 1,
        train_flops_per_example=flops,
    )
    return _with_input_dtype(spec, sample)


def _with_input_dtype(spec: ModelSpec, sample: Any) -> ModelSpec:
    """``spec`` with the sample's element size where it is not the model's."""
    itemsize = np.dtype(sample.dtype).itemsize
    return spec if itemsize == spec.dtype_bytes else dataclasses.replace(spec, input_dtype_bytes=itemsize)


def _sequential_spec(model: Sequential, sample: Any, name: str | None) -> ModelSpec:
    if sample is None:
        return model.spec(name)
    shape = tuple(int(d) for d in sample.shape)
    if shape[1:] != model.input_shape:
        raise ValueError(
            f"the sample has shape {shape[1:]} per example but {model.name} takes {model.input_shape}: "
            "give a batch of the model's input shape"
        )
    return _with_input_dtype(model.spec(name, batch_size=shape[0]), sample)


__all__ = ["framework_of", "model_spec"]
