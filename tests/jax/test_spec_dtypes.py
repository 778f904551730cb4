"""Low-precision models: every array counts at its own element size, and counts of work do not
depend on the dtype; checked against the frameworks' own arrays and tables."""

from __future__ import annotations

import math
import re
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trainscope import ModelSpec
from trainscope_jax import model_spec, model_spec_from_params

nnx = pytest.importorskip("flax.nnx", reason="flax is not installed (pip install trainscope-jax[flax])")
nn = pytest.importorskip("flax.linen")
eqx = pytest.importorskip("equinox", reason="equinox is not installed (pip install trainscope-jax[equinox])")

DTYPES = ["float32", "bfloat16", "float16"]
SAMPLE = jnp.zeros((16, 8, 8, 3), jnp.float32)  # a float32 batch, whatever the model's dtype
PLAIN = {"console_kwargs": {"width": 400, "force_terminal": False}}


def nbytes(*trees: Any) -> int:
    """Bytes of every array in ``trees``, each at its own element size."""
    return sum(leaf.size * leaf.dtype.itemsize for leaf in jax.tree_util.tree_leaves(trees))


def mult_adds(spec: ModelSpec) -> list[tuple[str, float | None]]:
    return [(layer.name, layer.mult_adds) for layer in spec.walk()]


def tabulated_forward_backward(spec: ModelSpec, table: str) -> int:
    """torchinfo's forward/backward on the outputs ``tabulate`` shows: 2 x the bytes of every
    output of a layer with parameters, at the output's own dtype."""
    params = {layer.name: layer.params for layer in spec.walk()}
    lines = table.splitlines()
    header = next(line for line in lines if line.startswith("┃"))
    columns = [cell.strip() for cell in header.strip("┃").split("┃")]
    total = 0
    for line in lines:
        cells = dict(zip(columns, (cell.strip() for cell in line.strip("│").split("│"))))
        found = re.search(r"(\w+)\[([\d,]*)\]", cells.get("outputs", ""))
        if line.startswith("│") and found and params.get(cells["path"]):
            shape = [int(d) for d in found.group(2).split(",") if d]
            total += math.prod(shape) * np.dtype(found.group(1)).itemsize
    return 2 * total


class NnxNormalised(nnx.Module):
    """A Conv and every NNX normalisation in ``dtype``; batch statistics stay float32 (NNX's choice)."""

    def __init__(self, dtype: str, rngs: Any) -> None:
        kinds = {"dtype": dtype, "param_dtype": dtype, "rngs": rngs}
        self.conv = nnx.Conv(3, 8, (3, 3), **kinds)
        self.batch_norm = nnx.BatchNorm(8, **kinds)
        self.layer_norm = nnx.LayerNorm(8, **kinds)
        self.group_norm = nnx.GroupNorm(8, num_groups=2, **kinds)
        self.head = nnx.Linear(8, 10, **kinds)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = self.group_norm(self.layer_norm(self.batch_norm(self.conv(x))))
        return self.head(x.mean(axis=(1, 2)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_nnx_sizes_are_of_each_arrays_own_dtype(dtype: str) -> None:
    model = NnxNormalised(dtype, nnx.Rngs(0))
    spec = model_spec(model, SAMPLE)
    assert spec.params_bytes == nbytes(nnx.state(model, nnx.Param), nnx.state(model, nnx.BatchStat))
    assert spec.input_bytes == SAMPLE.nbytes
    table = nnx.tabulate(model, SAMPLE, **PLAIN)
    assert spec.forward_backward_bytes == tabulated_forward_backward(spec, table)
    assert mult_adds(spec) == mult_adds(model_spec(NnxNormalised("float32", nnx.Rngs(0)), SAMPLE))


def test_a_bfloat16_nnx_model_counts_its_float32_statistics_at_4_bytes() -> None:
    spec = model_spec(NnxNormalised("bfloat16", nnx.Rngs(0)), SAMPLE)
    assert spec.dtype_bytes == 2
    batch_norm = next(layer for layer in spec.walk() if layer.name == "batch_norm")
    assert batch_norm.params_bytes == 2 * 8 * 2 + 2 * 8 * 4  # scale, bias | mean, var
    assert spec.input_dtype_bytes == 4


class LinenNormalised(nn.Module):
    """The same in Flax Linen."""

    dtype: str = "float32"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kinds = {"dtype": self.dtype, "param_dtype": self.dtype}
        x = nn.Conv(8, (3, 3), **kinds)(x)
        x = nn.BatchNorm(use_running_average=True, **kinds)(x)
        x = nn.GroupNorm(num_groups=2, **kinds)(nn.LayerNorm(**kinds)(x))
        return nn.Dense(10, **kinds)(x.mean(axis=(1, 2)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_linen_sizes_are_of_each_arrays_own_dtype(dtype: str) -> None:
    module = LinenNormalised(dtype)
    variables = module.init(jax.random.key(0), SAMPLE)
    spec = model_spec(module, SAMPLE, variables=variables)
    assert spec.params_bytes == nbytes(variables)
    assert spec.input_bytes == SAMPLE.nbytes
    table = module.tabulate(jax.random.key(0), SAMPLE, **PLAIN)
    assert spec.forward_backward_bytes == tabulated_forward_backward(spec, table)
    assert mult_adds(spec) == mult_adds(model_spec(LinenNormalised(), SAMPLE))


class EqxNormalised(eqx.Module):
    """The same in Equinox, on one channels-first example; the state holds the batch statistics."""

    conv: Any
    batch_norm: Any
    layer_norm: Any
    group_norm: Any
    head: Any

    def __init__(self, dtype: str, key: jax.Array) -> None:
        k1, k2 = jax.random.split(key)
        self.conv = eqx.nn.Conv2d(3, 8, 3, padding=1, key=k1, dtype=dtype)
        self.batch_norm = eqx.nn.BatchNorm(8, axis_name="batch", mode="batch", dtype=dtype)
        self.layer_norm = eqx.nn.LayerNorm((8, 8, 8), dtype=dtype)
        self.group_norm = eqx.nn.GroupNorm(2, 8, dtype=dtype)
        self.head = eqx.nn.Linear(8, 10, key=k2, dtype=dtype)

    def __call__(self, x: jax.Array, state: Any) -> tuple[jax.Array, Any]:
        x, state = self.batch_norm(self.conv(x.astype(self.conv.weight.dtype)), state)
        x = self.group_norm(self.layer_norm(x))
        return self.head(x.mean(axis=(1, 2))), state


@pytest.mark.parametrize("dtype", DTYPES)
def test_equinox_sizes_are_of_each_arrays_own_dtype(dtype: str) -> None:
    model, state = eqx.nn.make_with_state(EqxNormalised)(dtype, jax.random.key(0))
    example = SAMPLE[0].transpose(2, 0, 1)
    spec = model_spec(model, example, state)
    statistics = [leaf for leaf in jax.tree_util.tree_leaves(state) if eqx.is_inexact_array(leaf)]
    assert spec.params_bytes == nbytes(eqx.filter(model, eqx.is_inexact_array), statistics)  # no counter
    assert spec.input_bytes == example.nbytes
    baseline, baseline_state = eqx.nn.make_with_state(EqxNormalised)("float32", jax.random.key(0))
    assert mult_adds(spec) == mult_adds(model_spec(baseline, example, baseline_state))
    assert spec.layers[1].mult_adds == 8 * 8 * 8  # the batch norm's bias add, in any dtype


@pytest.mark.parametrize("dtype", ["bfloat16", "float8_e4m3fn", "float8_e5m2"])
def test_bias_adds_count_in_every_floating_dtype(dtype: str) -> None:
    model = nnx.Sequential(nnx.Linear(16, 8, dtype=dtype, param_dtype=dtype, rngs=nnx.Rngs(0)))
    spec = model_spec(model, jnp.zeros((4, 16), dtype))
    assert [layer.mult_adds for layer in spec.walk()] == [16 * 8 + 8]
    assert spec.input_bytes == 4 * 16 * np.dtype(dtype).itemsize


def test_parameters_alone_count_each_array_at_its_own_size() -> None:
    params = {"dense": {"kernel": jnp.zeros((4, 3), jnp.bfloat16), "bias": jnp.zeros(3, jnp.bfloat16)}}
    state = {"norm": {"mean": jnp.zeros(3, jnp.float32), "var": jnp.zeros(3, jnp.float32)}}
    spec = model_spec_from_params("Net", params, (4,), state=state)
    assert spec.dtype_bytes == 2
    assert spec.params_bytes == nbytes(params, state) == 15 * 2 + 6 * 4


def test_a_hand_made_spec_counts_each_size_given_and_the_model_dtype_for_the_rest() -> None:
    from trainscope import LayerSpec

    layers = [
        LayerSpec(
            "positions",
            "Embed",
            params=64,
            output_shape=(8, 4),
            per_example=False,
            params_bytes=128,
            mult_adds=0,
        ),
        LayerSpec("norm", "BatchNorm", params=8, output_shape=(8, 4), output_dtype_bytes=4, mult_adds=32.25),
        LayerSpec("head", "Linear", params=10, output_shape=(2,), mult_adds=8),
    ]
    spec = ModelSpec("Net", (8,), layers, dtype_bytes=2, batch_size=4, input_dtype_bytes=4)
    assert spec.input_bytes == 8 * 4 * 4
    assert spec.params_bytes == 128 + (8 + 10) * 2
    assert spec.forward_backward_bytes == 2 * (8 * 4 * 2 + 4 * 8 * 4 * 4 + 4 * 2 * 2)
    assert spec.total_mult_adds == 4 * 32 + 1 + 4 * 8
    for bad in ({"params_bytes": -1}, {"output_dtype_bytes": 0}, {"mult_adds": float("nan")}):
        with pytest.raises(ValueError, match="layer 'x'"):
            LayerSpec("x", "Linear", **bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="input_dtype_bytes"):
        ModelSpec("Net", (8,), [], input_dtype_bytes=0)
