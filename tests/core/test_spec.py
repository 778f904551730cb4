"""ModelSpec arithmetic (torchinfo's definitions)."""

from __future__ import annotations

import pytest

from trainscope import LayerSpec, ModelSpec


def test_totals_recurse_into_nested_blocks_and_count_frozen_apart() -> None:
    block = LayerSpec(
        "block",
        "Sequential",
        children=[
            LayerSpec("conv", "Conv2d", params=10, output_shape=(2, 3, 3)),
            LayerSpec("bn", "BatchNorm2d", params=8, trainable_params=4, output_shape=(2, 3, 3)),
        ],
    )
    spec = ModelSpec(
        "Net", (1, 3, 3), [block, LayerSpec("fc", "Linear", params=5, output_shape=(4,))], batch_size=2
    )
    assert (spec.total_params, spec.trainable_params, spec.non_trainable_params) == (23, 19, 4)
    assert spec.input_bytes == 9 * 2 * 4
    assert spec.forward_backward_bytes == 2 * 2 * 4 * (18 + 18 + 4)
    assert spec.params_bytes == 23 * 4
    assert spec.total_bytes == spec.input_bytes + spec.forward_backward_bytes + spec.params_bytes


def test_layer_validation() -> None:
    assert LayerSpec("a", "ReLU").trainable_params == 0
    assert LayerSpec("a", "Linear", params=3).trainable_params == 3
    with pytest.raises(ValueError, match="trainable_params"):
        LayerSpec("a", "Linear", params=3, trainable_params=4)


def test_total_mult_adds_are_for_the_whole_batch_and_unknown_if_any_layer_is() -> None:
    block = LayerSpec(
        "block",
        "Sequential",
        children=[
            LayerSpec("conv", "Conv2d", params=10, mult_adds=90),
            LayerSpec("relu", "ReLU", mult_adds=0),
        ],
        mult_adds=4,
    )
    fc = LayerSpec("fc", "Linear", params=5, mult_adds=5)
    spec = ModelSpec("Net", (1, 3, 3), [block, fc], batch_size=8)
    assert spec.total_mult_adds == 8 * (90 + 0 + 4 + 5)
    unknown = ModelSpec("Net", (1, 3, 3), [block, LayerSpec("fc", "Linear", params=5)], batch_size=8)
    assert unknown.total_mult_adds is None
    assert ModelSpec("Empty", (1,), []).total_mult_adds == 0


def test_cost_validation() -> None:
    assert LayerSpec("a", "ReLU").mult_adds is None
    with pytest.raises(ValueError, match="mult_adds must be >= 0 or None"):
        LayerSpec("a", "Linear", mult_adds=-1)
    assert ModelSpec("Net", (1,), [], train_flops_per_example=6.0).train_flops_per_example == 6.0
    for flops in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="train_flops_per_example must be a positive number"):
            ModelSpec("Net", (1,), [], train_flops_per_example=flops)
