"""Multiply-adds of layers that update batch statistics: work once per batch makes a fractional
per-example figure, never an unknown one."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import pytest

from trainscope import ModelSpec
from trainscope_arch import ModelArchitecturePrinter
from trainscope_jax import model_spec

nnx = pytest.importorskip("flax.nnx", reason="flax is not installed (pip install trainscope-jax[flax])")
nn = pytest.importorskip("flax.linen")

BATCH = 64
SAMPLE = jnp.zeros((BATCH, 8, 8, 3))
CONV = 8 * 8 * 8 * (3 * 3 * 3) + 8 * 8 * 8  # per example: every tap of the 3x3x3 kernel, then the bias


class LinenTrainingBatchNorm(nn.Module):
    """A Conv and a BatchNorm that always normalises with the batch's statistics (and updates them)."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return nn.BatchNorm(use_running_average=False)(nn.Conv(8, (3, 3))(x))


class NnxTrainingBatchNorm(nnx.Module):
    """The same in Flax NNX: the call asks for the batch's statistics."""

    def __init__(self, rngs: Any) -> None:
        self.conv = nnx.Conv(3, 8, (3, 3), rngs=rngs)
        self.norm = nnx.BatchNorm(8, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.norm(self.conv(x), use_running_average=False)


def batch_norm_figures(spec: ModelSpec, stats: Any, output: tuple[int, ...]) -> None:
    """C*H*W (the bias add) per example, and 2C (the mean and variance updates) once per batch."""
    channels = stats["mean"].shape[-1]
    elements = math.prod(output[1:])
    norm = spec.layers[-1]
    assert norm.mult_adds == pytest.approx(elements + 2 * channels / BATCH)
    assert spec.total_mult_adds == BATCH * (CONV + elements) + 2 * channels


def test_linen_batch_norm_updating_its_statistics_has_known_mult_adds() -> None:
    module = LinenTrainingBatchNorm()
    variables = module.init(jax.random.key(0), SAMPLE)
    spec = model_spec(module, SAMPLE, variables=variables)
    output = jax.eval_shape(lambda x: module.apply(variables, x, mutable=["batch_stats"])[0], SAMPLE).shape
    batch_norm_figures(spec, variables["batch_stats"]["BatchNorm_0"], output)
    assert spec.layers[-1].mult_adds == 8 * 8 * 8 + 16 / 64


def test_nnx_batch_norm_updating_its_statistics_has_known_mult_adds() -> None:
    model = NnxTrainingBatchNorm(nnx.Rngs(0))
    spec = model_spec(model, SAMPLE)
    stats = {"mean": model.norm.mean[...], "var": model.norm.var[...]}
    batch_norm_figures(spec, stats, model(SAMPLE).shape)


def test_whole_per_example_counts_stay_integers() -> None:
    module = LinenTrainingBatchNorm()
    spec = model_spec(module, SAMPLE, variables=module.init(jax.random.key(0), SAMPLE))
    assert type(spec.layers[0].mult_adds) is int
    assert type(spec.total_mult_adds) is int


def test_the_printer_shows_a_fractional_figure_as_the_batchs_whole_count() -> None:
    module = LinenTrainingBatchNorm()
    spec = model_spec(module, SAMPLE, variables=module.init(jax.random.key(0), SAMPLE))
    full = ModelArchitecturePrinter("Net", parameter_format="full", view="table").format_architecture(spec)
    short = ModelArchitecturePrinter("Net", view="table").format_architecture(spec)
    norm = BATCH * 8 * 8 * 8 + 16
    assert f" {norm:,}\n" in full
    assert f"{norm:,}." not in full
    assert " 32.8K\n" in short
    assert "Total mult-adds (M): 0.95\n" in full  # 950,288
