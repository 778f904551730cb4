"""Output shapes of layers whose outputs have no batch axis, checked against the frameworks' tabulate."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trainscope import LayerSpec, ModelSpec
from trainscope_jax import model_spec

nnx = pytest.importorskip("flax.nnx", reason="flax is not installed (pip install trainscope-jax[flax])")
nn = pytest.importorskip("flax.linen")
eqx = pytest.importorskip("equinox", reason="equinox is not installed (pip install trainscope-jax[equinox])")

LENGTH, VOCAB, WIDTH = 64, 100, 16
PLAIN = {"console_kwargs": {"width": 400, "force_terminal": False}}

Row = tuple[tuple[int, ...], int]
"""A layer's whole output shape (batch included where it has one) and element size."""


def tabulate_outputs(table: str) -> dict[str, Row]:
    """``nnx.tabulate``/``Module.tabulate`` text: path -> the whole output shape and its element size."""
    lines = table.splitlines()
    header = next(line for line in lines if line.startswith("┃"))
    columns = [cell.strip() for cell in header.strip("┃").split("┃")]
    rows: dict[str, Row] = {}
    for line in lines:
        if not line.startswith("│"):
            continue
        cells = dict(zip(columns, (cell.strip() for cell in line.strip("│").split("│"))))
        found = re.search(r"(\w+)\[([\d,]*)\]", cells["outputs"])
        if cells["path"] and found:
            shape = tuple(int(d) for d in found.group(2).split(",") if d)
            rows[cells["path"].replace("/", ".")] = (shape, np.dtype(found.group(1)).itemsize)
    return rows


def flat_layers(spec: ModelSpec) -> Iterator[tuple[str, LayerSpec]]:
    def walk(layers: Any, prefix: str) -> Iterator[tuple[str, LayerSpec]]:
        for layer in layers:
            yield f"{prefix}{layer.name}", layer
            yield from walk(layer.children, f"{prefix}{layer.name}.")

    yield from walk(spec.layers, "")


def whole_shape(spec: ModelSpec, layer: LayerSpec) -> tuple[int, ...]:
    """A layer's output shape with the batch put back where it has one."""
    return (spec.batch_size, *layer.output_shape) if layer.per_example else layer.output_shape


def check_against(spec: ModelSpec, table: str) -> None:
    """Every layer the framework tabulates has its shape, and forward/backward is torchinfo's on them."""
    rows = tabulate_outputs(table)
    layers = dict(flat_layers(spec))
    assert rows
    assert {path: whole_shape(spec, layers[path]) for path in rows} == {
        path: shape for path, (shape, _) in rows.items()
    }
    with_params = [(shape, size) for path, (shape, size) in rows.items() if layers[path].params]
    assert spec.forward_backward_bytes == 2 * sum(math.prod(shape) * size for shape, size in with_params)


class NnxLanguageModel(nnx.Module):
    """Tokens and a position table (``Embed`` on ``arange``), learned queries through a layer, and a
    statistic over the batch: three outputs without a batch axis."""

    def __init__(self, rngs: Any) -> None:
        self.tokens = nnx.Embed(VOCAB, WIDTH, rngs=rngs)
        self.positions = nnx.Embed(LENGTH, WIDTH, rngs=rngs)
        self.queries = nnx.Param(jnp.zeros((4, WIDTH)))
        self.project = nnx.Linear(WIDTH, WIDTH, rngs=rngs)
        self.centre = nnx.Linear(WIDTH, WIDTH, rngs=rngs)
        self.head = nnx.Linear(WIDTH, 10, rngs=rngs)

    def __call__(self, ids: jax.Array) -> jax.Array:
        h = self.tokens(ids) + self.positions(jnp.arange(ids.shape[1]))
        keys = self.project(self.queries[...])  # a layer on a parameter: once per batch
        h = h - self.centre(h.mean(axis=0))  # a layer on a statistic of the batch
        return self.head(h @ keys.T @ keys)


@pytest.mark.parametrize("batch", [32, LENGTH], ids=["batch-32", "batch-equal-to-the-length"])
def test_nnx_shapes_of_unbatched_calls_are_nnx_tabulates(batch: int) -> None:
    model = NnxLanguageModel(nnx.Rngs(0))
    ids = jnp.zeros((batch, LENGTH), jnp.int32)
    spec = model_spec(model, ids)
    check_against(spec, nnx.tabulate(model, ids, **PLAIN))
    layers = dict(flat_layers(spec))
    assert (layers["positions"].output_shape, layers["positions"].per_example) == ((LENGTH, WIDTH), False)
    assert (layers["project"].output_shape, layers["project"].per_example) == ((4, WIDTH), False)
    assert (layers["centre"].output_shape, layers["centre"].per_example) == ((LENGTH, WIDTH), False)
    assert (layers["tokens"].output_shape, layers["tokens"].per_example) == ((LENGTH, WIDTH), True)
    assert (layers["head"].output_shape, layers["head"].per_example) == ((LENGTH, 10), True)


class LinenLanguageModel(nn.Module):
    """The same model in Flax Linen."""

    @nn.compact
    def __call__(self, ids: jax.Array) -> jax.Array:
        h = nn.Embed(VOCAB, WIDTH, name="tokens")(ids)
        h = h + nn.Embed(LENGTH, WIDTH, name="positions")(jnp.arange(ids.shape[1]))
        queries = self.param("queries", nn.initializers.zeros, (4, WIDTH))
        keys = nn.Dense(WIDTH, name="project")(queries)
        h = h - nn.Dense(WIDTH, name="centre")(h.mean(axis=0))
        return nn.Dense(10, name="head")(h @ keys.T @ keys)


@pytest.mark.parametrize("batch", [32, LENGTH], ids=["batch-32", "batch-equal-to-the-length"])
def test_linen_shapes_of_unbatched_calls_are_linen_tabulates(batch: int) -> None:
    module = LinenLanguageModel()
    ids = jnp.zeros((batch, LENGTH), jnp.int32)
    spec = model_spec(module, ids)
    check_against(spec, module.tabulate(jax.random.key(0), ids, **PLAIN))
    layers = dict(flat_layers(spec))
    assert [layers[name].per_example for name in ("tokens", "positions", "project", "centre", "head")] == [
        True,
        False,
        False,
        False,
        True,
    ]


class NnxFixedBatch(nnx.Module):
    """A model with its batch size written in: it takes no other batch."""

    def __init__(self, rngs: Any) -> None:
        self.conv = nnx.Conv(1, 4, (3, 3), rngs=rngs)
        self.linear = nnx.Linear(4 * 8 * 8, 10, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.linear(self.conv(x).reshape(8, -1))


def test_a_model_that_takes_one_batch_only_shows_whole_shapes() -> None:
    model = NnxFixedBatch(nnx.Rngs(0))
    x = jnp.zeros((8, 8, 8, 1))
    spec = model_spec(model, x)
    check_against(spec, nnx.tabulate(model, x, **PLAIN))
    assert [(layer.output_shape, layer.per_example) for layer in spec.layers] == [
        ((8, 8, 8, 4), False),
        ((8, 10), False),
    ]


def test_batched_outputs_are_per_example_as_before() -> None:
    model = nnx.Sequential(nnx.Linear(3, 5, rngs=nnx.Rngs(0)), nnx.relu, nnx.Linear(5, 2, rngs=nnx.Rngs(1)))
    spec = model_spec(model, jnp.zeros((6, 3)))
    assert [(layer.output_shape, layer.per_example) for layer in spec.walk()] == [
        ((5,), True),
        ((5,), True),
        ((2,), True),
    ]
    assert spec.forward_backward_bytes == 2 * 6 * 4 * (5 + 2)


class EqxPositions(eqx.Module):
    """Equinox takes one example: every output is one example's, each layer's as it was called."""

    tokens: Any
    positions: Any

    def __init__(self, key: jax.Array) -> None:
        k1, k2 = jax.random.split(key)
        self.tokens = eqx.nn.Embedding(VOCAB, WIDTH, key=k1)
        self.positions = eqx.nn.Embedding(LENGTH, WIDTH, key=k2)

    def __call__(self, ids: jax.Array) -> jax.Array:
        return jax.vmap(self.tokens)(ids) + jax.vmap(self.positions)(jnp.arange(ids.shape[0]))


def test_equinox_outputs_are_one_examples() -> None:
    model = EqxPositions(jax.random.key(0))
    ids = jnp.zeros((LENGTH,), jnp.int32)
    spec = model_spec(model, ids)
    real = jax.eval_shape(model.positions, jnp.zeros((), jnp.int32)).shape  # called on one index, in vmap
    assert [(layer.output_shape, layer.per_example) for layer in spec.layers] == [(real, True), (real, True)]
    assert spec.batch_size == 1


def test_the_table_view_shows_an_unbatched_output_whole() -> None:
    from trainscope_arch import ModelArchitecturePrinter

    model = NnxLanguageModel(nnx.Rngs(0))
    spec = model_spec(model, jnp.zeros((32, LENGTH), jnp.int32))
    text = ModelArchitecturePrinter("LM", view="table").format_architecture(spec)
    rows = {line.split()[0]: line for line in text.splitlines() if line.strip()}
    assert f"[{LENGTH}, {WIDTH}]" in rows["positions"]
    assert f"[32, {LENGTH}, {WIDTH}]" in rows["tokens"]
