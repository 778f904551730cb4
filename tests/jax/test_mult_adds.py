"""Multiply-adds and training FLOPs of trainscope's own models: by hand and against torchinfo."""

from __future__ import annotations

import jax.numpy as jnp
import pytest

from trainscope_jax import (
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Layer,
    Linear,
    MaxPool2d,
    ReLU,
    Sequential,
    Softmax,
    create_model,
    model_spec,
)

# torchinfo 1.8.0 on the same networks built in PyTorch 2.13 (nn.Conv2d(..., padding=1),
# nn.MaxPool2d(2), nn.Flatten(), nn.Linear, nn.ReLU, in create_model's order):
# summary(model, input_size=(batch, 1, 8, 8)), its per-layer ``macs`` and ``total_mult_adds``.
TORCHINFO_DIGITS_CNN_LAYERS = [20_480, 0, 0, 295_936, 0, 0, 0, 32_896, 0, 1_290]
TORCHINFO_DIGITS_CNN_TOTAL = {1: 350_602, 16: 5_609_632}
TORCHINFO_MLP_LAYERS = [0, 16_640, 0, 32_896, 0, 1_290]
TORCHINFO_MLP_TOTAL = {1: 50_826, 32: 1_626_432}
TORCHINFO_CATDOG_CNN_TOTAL = 40_650_242  # input (1, 3, 16, 16), batch 1, softmax included


def one_layer(layer: Layer, input_shape: tuple[int, ...]) -> int | None:
    (spec,) = Sequential([layer], input_shape=input_shape).spec().layers
    return spec.mult_adds


@pytest.mark.parametrize(
    ("layer", "input_shape", "expected"),
    [
        # (in channels x kernel taps + bias) x out channels x output positions
        (Conv2d(3, 8, 3), (3, 10, 10), (3 * 9 + 1) * 8 * 8 * 8),
        (Conv2d(3, 8, 3, bias=False), (3, 10, 10), 3 * 9 * 8 * 8 * 8),
        # padding 1 keeps 10x10 outputs: the taps on the zero border count too, as in torchinfo
        (Conv2d(3, 8, 3, padding=1), (3, 10, 10), (3 * 9 + 1) * 8 * 10 * 10),
        # stride 2, padding 1: (9 + 2 - 3) // 2 + 1 = 5 outputs per side
        (Conv2d(2, 4, (3, 5), stride=2, padding=(1, 2)), (2, 9, 9), (2 * 15 + 1) * 4 * 5 * 5),
        (Linear(64, 10), (64,), 64 * 10 + 10),
        (Linear(64, 10, bias=False), (64,), 64 * 10),
        (Linear(48, 7), (3, 4, 4), 48 * 7 + 7),  # flattened first
    ],
)
def test_conv2d_and_linear_multiply_adds_match_hand_computation(
    layer: Layer, input_shape: tuple[int, ...], expected: int
) -> None:
    assert one_layer(layer, input_shape) == expected


@pytest.mark.parametrize(
    "layer", [ReLU(), MaxPool2d(2), AvgPool2d(2), Flatten(), Dropout(0.5), Softmax()], ids=repr
)
def test_layers_without_weights_have_no_multiply_adds(layer: Layer) -> None:
    shape = (3,) if isinstance(layer, Softmax) else (3, 4, 4)
    assert one_layer(layer, shape) == 0


def test_batch_norm_counts_its_bias_add_per_element() -> None:
    # torchinfo counts parameters x batch (2 x 8); trainscope counts the work on the data: the
    # bias added to each of the 8 x 4 x 4 elements (the normalisation itself is not a mult-add).
    assert one_layer(BatchNorm2d(8), (8, 4, 4)) == 8 * 4 * 4


def test_digits_cnn_matches_torchinfo() -> None:
    model = create_model("digits-cnn", (1, 8, 8), 10)
    spec = model.spec()
    assert [layer.mult_adds for layer in spec.layers] == TORCHINFO_DIGITS_CNN_LAYERS
    for batch, total in TORCHINFO_DIGITS_CNN_TOTAL.items():
        assert model.spec(batch_size=batch).total_mult_adds == total
        assert model_spec(model, jnp.zeros((batch, 1, 8, 8))).total_mult_adds == total


def test_mlp_matches_torchinfo() -> None:
    model = create_model("mlp", (1, 8, 8), 10)
    assert [layer.mult_adds for layer in model.spec().layers] == TORCHINFO_MLP_LAYERS
    for batch, total in TORCHINFO_MLP_TOTAL.items():
        assert model.spec(batch_size=batch).total_mult_adds == total


def test_catdog_cnn_matches_torchinfo() -> None:
    spec = create_model("catdog-cnn", (3, 16, 16), 2).spec()
    assert spec.total_mult_adds == TORCHINFO_CATDOG_CNN_TOTAL


def test_training_flops_per_example_grow_by_two_products_per_weight() -> None:
    """One more input feature of a linear layer adds, per output, a multiply-add in the forward pass
    and one in the weight gradient: 2 x 2 FLOPs (the input itself needs no gradient)."""

    def flops(features: int, classes: int) -> float:
        flops = Sequential([Linear(features, classes)], input_shape=(features,)).train_flops_per_example
        assert flops is not None
        return flops

    assert flops(64, 10) - flops(32, 10) == 4 * 32 * 10
    assert flops(32, 20) - flops(16, 20) == 4 * 16 * 20
    assert flops(64, 10) > 4 * 64 * 10


def test_training_flops_are_per_example_and_cover_the_whole_model() -> None:
    model = create_model("digits-cnn", (1, 8, 8), 10)
    spec = model.spec()
    assert spec.train_flops_per_example == model.spec(batch_size=64).train_flops_per_example
    flops = spec.train_flops_per_example
    assert flops is not None
    forward = 2 * (spec.total_mult_adds or 0)
    # the backward pass costs about twice the forward (less for the first convolution, whose
    # input needs no gradient; XLA does not count the taps on zero padding)
    assert 2 * forward < flops < 3 * forward


def test_a_model_ending_in_softmax_is_trained_on_its_logits() -> None:
    with_softmax = Sequential([Linear(16, 4), Softmax()], input_shape=(16,))
    without = Sequential([Linear(16, 4)], input_shape=(16,))
    assert with_softmax.train_flops_per_example == without.train_flops_per_example


def test_the_printer_shows_the_mult_adds_and_training_flops() -> None:
    arch = pytest.importorskip("trainscope_arch")
    spec = create_model("digits-cnn", (1, 8, 8), 10).spec(batch_size=16)
    text = arch.ModelArchitecturePrinter(view="table", parameter_format="full").format_architecture(spec)
    lines = text.splitlines()
    assert lines[3].split()[-1] == "Mult-Adds"
    rows = {line.split()[0]: line.split()[-1] for line in lines[5:15]}
    assert rows["conv1"] == "327,680"  # 16 x 20,480, torchinfo's column for a batch of 16
    assert rows["relu1"] == "0"
    assert rows["fc2"] == "20,640"
    assert "Total mult-adds (M): 5.61" in lines
    flops = spec.train_flops_per_example
    assert flops is not None
    assert f"Forward/backward FLOPs per example (M): {arch.significant(flops / 1e6)}" in lines
