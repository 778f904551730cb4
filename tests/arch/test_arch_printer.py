"""The architecture printer: figures checked against numbers computed by hand."""

from __future__ import annotations

import pytest

from trainscope import LayerSpec, ModelSpec
from trainscope_arch import ModelArchitecturePrinter, format_parameter_count, format_size, significant

CONV = "kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=true"


def conv2d(name: str, cin: int, cout: int, hw: int) -> LayerSpec:
    return LayerSpec(
        name, "Conv2d", f"{cin}, {cout}, {CONV}", cin * cout * 9 + cout, output_shape=(cout, hw, hw)
    )


def linear(name: str, fin: int, fout: int) -> LayerSpec:
    return LayerSpec(
        name,
        "Linear",
        f"in_features={fin}, out_features={fout}, bias=true",
        fin * fout + fout,
        output_shape=(fout,),
    )


def relu(name: str, *shape: int) -> LayerSpec:
    return LayerSpec(name, "ReLU", output_shape=shape)


def cat_dog_cnn() -> ModelSpec:
    """The seed's CatDogCNN at input (3, 16, 16), batch 1, float32."""
    return ModelSpec(
        "CatDogCNN",
        (3, 16, 16),
        [
            conv2d("conv1", 3, 32, 16),
            relu("relu1", 32, 16, 16),
            conv2d("conv2", 32, 64, 16),
            relu("relu2", 64, 16, 16),
            conv2d("conv3", 64, 128, 16),
            relu("relu3", 128, 16, 16),
            linear("fc1", 32768, 512),
            relu("relu4", 512),
            linear("fc2", 512, 2),
            LayerSpec("softmax", "Softmax", "dim=-1", output_shape=(2,)),
        ],
    )


CAT_DOG_OUTPUT = """\
Model Architecture:
CatDogCNN(
  (conv1): Conv2d(3, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=true)
  (relu1): ReLU()
  (conv2): Conv2d(32, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=true)
  (relu2): ReLU()
  (conv3): Conv2d(64, 128, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=true)
  (relu3): ReLU()
  (fc1): Linear(in_features=32768, out_features=512, bias=true)
  (relu4): ReLU()
  (fc2): Linear(in_features=512, out_features=2, bias=true)
  (softmax): Softmax(dim=-1)
)

Total parameters: 16.9M
Trainable parameters: 16.9M
Non-trainable parameters: 0
Input size (MB): 0.00307
Forward/backward pass size (MB): 0.463
Params size (MB): 67.5
Estimated Total Size (MB): 68"""


def summary(text: str) -> dict[str, str]:
    """The ``Label: value`` lines after the tree."""
    tail = text.split("\n\n", 1)[1]
    return dict(line.split(": ", 1) for line in tail.splitlines())


def test_convolutional_network_prints_as_the_seed_with_real_figures() -> None:
    assert ModelArchitecturePrinter("CatDogCNN").format_architecture(cat_dog_cnn()) == CAT_DOG_OUTPUT


def test_convolutional_figures_match_hand_computation() -> None:
    spec = cat_dog_cnn()
    assert [layer.params for layer in spec.layers if layer.params] == [896, 18_496, 73_856, 16_777_728, 1_026]
    lines = summary(ModelArchitecturePrinter(parameter_format="full").format_architecture(spec))
    assert lines["Total parameters"] == "16,872,002"
    assert lines["Trainable parameters"] == "16,872,002"
    # input 3*16*16*4 = 3,072 B; forward/backward 2*4*(8192+16384+32768+512+2) = 462,864 B;
    # params 16,872,002*4 = 67,488,008 B; total 67,953,944 B.
    assert lines["Input size (MB)"] == "0.00307"
    assert lines["Forward/backward pass size (MB)"] == "0.463"
    assert lines["Params size (MB)"] == "67.5"
    assert lines["Estimated Total Size (MB)"] == "68"
    gigabytes = summary(ModelArchitecturePrinter(memory_units="GB").format_architecture(spec))
    assert gigabytes["Estimated Total Size (GB)"] == "0.068"


def test_print_architecture_writes_the_text_and_a_newline(capsys: pytest.CaptureFixture[str]) -> None:
    ModelArchitecturePrinter("CatDogCNN").print_architecture(cat_dog_cnn())
    assert capsys.readouterr().out == CAT_DOG_OUTPUT + "\n"


def test_model_name_defaults_to_the_spec_name() -> None:
    text = ModelArchitecturePrinter().format_architecture(cat_dog_cnn())
    assert text.splitlines()[1] == "CatDogCNN("


def test_linear_network_with_a_batch_of_32_in_gigabytes() -> None:
    spec = ModelSpec(
        "MLP",
        (784,),
        [linear("fc1", 784, 128), relu("relu", 128), linear("fc2", 128, 10)],
        batch_size=32,
    )
    lines = summary(
        ModelArchitecturePrinter("MLP", parameter_format="full", memory_units="GB").format_architecture(spec)
    )
    # params 100,480 + 1,290 = 101,770 (407,080 B); input 32*784*4 = 100,352 B;
    # forward/backward 2*32*4*(128+10) = 35,328 B; total 542,760 B.
    assert lines == {
        "Total parameters": "101,770",
        "Trainable parameters": "101,770",
        "Non-trainable parameters": "0",
        "Input size (GB)": "0.0001",
        "Forward/backward pass size (GB)": "0.0000353",
        "Params size (GB)": "0.000407",
        "Estimated Total Size (GB)": "0.000543",
    }


def test_non_trainable_parameters_are_counted_apart() -> None:
    # BatchNorm2d(16): weight and bias train (32); running mean and variance do not (32).
    # A frozen Linear(10, 4): 44 parameters, none trainable.
    spec = ModelSpec(
        "Frozen",
        (3, 8, 8),
        [
            conv2d("conv", 3, 16, 8),
            LayerSpec("bn", "BatchNorm2d", "16", params=64, trainable_params=32, output_shape=(16, 8, 8)),
            LayerSpec(
                "fc",
                "Linear",
                "in_features=10, out_features=4",
                params=44,
                trainable_params=0,
                output_shape=(4,),
            ),
        ],
    )
    lines = summary(ModelArchitecturePrinter(parameter_format="full").format_architecture(spec))
    assert lines["Total parameters"] == "556"  # 448 + 64 + 44
    assert lines["Trainable parameters"] == "480"  # 448 + 32
    assert lines["Non-trainable parameters"] == "76"  # 32 + 44
    assert lines["Params size (MB)"] == "0.00222"  # 556 * 4 = 2,224 bytes
    # Forward/backward counts every layer with parameters, trainable or not:
    # 2 * 4 * (1024 + 1024 + 4) = 16,416 bytes.
    assert lines["Forward/backward pass size (MB)"] == "0.0164"


def nested_model() -> ModelSpec:
    block = LayerSpec(
        "block1",
        "ResidualBlock",
        children=[
            conv2d("conv", 8, 8, 4),
            LayerSpec("bn", "BatchNorm2d", "8", params=32, trainable_params=16, output_shape=(8, 4, 4)),
            LayerSpec("act", "Sequential", children=[relu("relu", 8, 4, 4)]),
        ],
    )
    return ModelSpec(
        "Net",
        (8, 4, 4),
        [
            block,
            LayerSpec(
                "scale",
                "Scale",
                "init=1.0",
                params=1,
                children=[relu("relu", 8, 4, 4)],
                output_shape=(8, 4, 4),
            ),
        ],
    )


def test_nested_blocks_print_indented_like_pytorch() -> None:
    text = ModelArchitecturePrinter().format_architecture(nested_model())
    assert (
        text.split("\n\n")[0]
        == """\
Model Architecture:
Net(
  (block1): ResidualBlock(
    (conv): Conv2d(8, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=true)
    (bn): BatchNorm2d(8)
    (act): Sequential(
      (relu): ReLU()
    )
  )
  (scale): Scale(
    init=1.0
    (relu): ReLU()
  )
)"""
    )


def test_nested_totals_recurse_into_blocks() -> None:
    lines = summary(ModelArchitecturePrinter(parameter_format="full").format_architecture(nested_model()))
    assert lines["Total parameters"] == "617"  # 8*8*9 + 8 = 584, + 32 + 1
    assert lines["Trainable parameters"] == "601"
    assert lines["Non-trainable parameters"] == "16"
    # conv, bn and scale have parameters: 2 * 4 * 3 * 128 = 3,072 bytes.
    assert lines["Forward/backward pass size (MB)"] == "0.00307"


def test_table_view_lists_shapes_and_parameters_per_layer() -> None:
    text = ModelArchitecturePrinter("Net", view="table").format_architecture(nested_model())
    table, _ = text.split("\n\n")
    assert (
        table
        == """\
Model Architecture:
Net
===========================================================
Layer (type)            Output Shape                Param #
===========================================================
block1 (ResidualBlock)  --                               --
  conv (Conv2d)         [1, 8, 4, 4]                    584
  bn (BatchNorm2d)      [1, 8, 4, 4]  32 (16 non-trainable)
  act (Sequential)      --                               --
    relu (ReLU)         [1, 8, 4, 4]                     --
scale (Scale)           [1, 8, 4, 4]                      1
  relu (ReLU)           [1, 8, 4, 4]                     --
==========================================================="""
    )
    # input 8*4*4*4 = 512 B, forward/backward 3,072 B, params 617*4 = 2,468 B: 6,052 B.
    assert summary(text)["Estimated Total Size (MB)"] == "0.00605"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.003072, "0.00307"),
        (0.463456, "0.463"),
        (67.488008, "67.5"),
        (67.954536, "68"),
        (0.0, "0"),
        (100.0, "100"),
        (0.1, "0.1"),
        (12_345.0, "12300"),
        (999.96, "1000"),
        (0.0000123, "0.0000123"),
    ],
)
def test_three_significant_digits_without_trailing_zeros(value: float, text: str) -> None:
    assert significant(value) == text


@pytest.mark.parametrize(
    ("count", "short"),
    [
        (0, "0"),
        (896, "896"),
        (18_496, "18.5K"),
        (1_000, "1K"),
        (999_999, "1M"),
        (16_872_002, "16.9M"),
        (1_200_000_000, "1.2B"),
        (2_500_000_000_000, "2.5T"),
    ],
)
def test_parameter_counts_short(count: int, short: str) -> None:
    assert format_parameter_count(count) == short
    assert format_parameter_count(count, "full") == f"{count:,}"


def test_sizes_use_decimal_units() -> None:
    assert format_size(67_488_008) == "67.5"
    assert format_size(67_488_008, "GB") == "0.0675"


@pytest.mark.parametrize("kwargs", [{"parameter_format": "long"}, {"memory_units": "KiB"}, {"view": "graph"}])
def test_invalid_options_are_rejected_naming_the_choices(kwargs: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="must be one of"):
        ModelArchitecturePrinter("x", **kwargs)  # type: ignore[arg-type]
