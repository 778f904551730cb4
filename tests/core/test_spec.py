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
