"""The architecture printer: figures checked against numbers computed by hand."""

from __future__ import annotations

import dataclasses

import pytest

from trainscope import LayerSpec, ModelSpec
from trainscope_arch import (
    ModelArchitecturePrinter,
    format_operations,
    format_parameter_count,
    format_size,
    significant,
)

CONV = "kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=true"


def conv2d(name: str, cin: int, cout: int, hw: int) -> LayerSpec:
    """A 3x3 convolution, padding 1: every output has cin*9 taps and a bias, per out channel."""
    return LayerSpec(
        name,
        "Conv2d",
        f"{cin}, {cout}, {CONV}",
        cin * cout * 9 + cout,
        output_shape=(cout, hw, hw),
        mult_adds=(cin * 9 + 1) * cout * hw * hw,
    )


def linear(name: str, fin: int, fout: int) -> LayerSpec:
    return LayerSpec(
        name,
        "Linear",
        f"in_features={fin}, out_features={fout}, bias=true",
        fin * fout + fout,
        output_shape=(fout,),
        mult_adds=fin * fout + fout,
    )


def relu(name: str, *shape: int) -> LayerSpec:
    return LayerSpec(name, "ReLU", output_shape=shape, mult_adds=0)


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
            LayerSpec("softmax", "Softmax", "dim=-1", output_shape=(2,), mult_adds=0),
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
Total mult-adds (M): 40.7
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
    # conv1 28*32*256 = 229,376; conv2 289*64*256 = 4,734,976; conv3 577*128*256 = 18,907,136;
    # fc1 32768*512 + 512 = 16,777,728; fc2 1,026: 40,650,242 (torchinfo's figure, same network).
    assert spec.total_mult_adds == 40_650_242
    assert lines["Total mult-adds (M)"] == "40.7"
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
    # mult-adds 32 * 101,770 = 3,256,640 (a linear layer: one per weight and bias).
    assert lines == {
        "Total parameters": "101,770",
        "Trainable parameters": "101,770",
        "Non-trainable parameters": "0",
        "Total mult-adds (M)": "3.26",
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


def nested_model(bn_mult_adds: int | None = None) -> ModelSpec:
    """Blocks own no work of their own but ``scale``'s 128 multiplications; ``bn``'s is unknown."""
    block = LayerSpec(
        "block1",
        "ResidualBlock",
        children=[
            conv2d("conv", 8, 8, 4),
            LayerSpec(
                "bn",
                "BatchNorm2d",
                "8",
                params=32,
                trainable_params=16,
                output_shape=(8, 4, 4),
                mult_adds=bn_mult_adds,
            ),
            LayerSpec("act", "Sequential", children=[relu("relu", 8, 4, 4)], mult_adds=0),
        ],
        mult_adds=0,
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
                mult_adds=128,
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


def test_table_view_lists_shapes_parameters_and_mult_adds_per_layer() -> None:
    text = ModelArchitecturePrinter("Net", view="table").format_architecture(nested_model())
    table, _ = text.split("\n\n")
    # conv: 73 taps and bias x 8 channels x 16 positions = 9,344 ("9.34K" in short counts).
    assert (
        table
        == """\
Model Architecture:
Net
======================================================================
Layer (type)            Output Shape                Param #  Mult-Adds
======================================================================
block1 (ResidualBlock)  --                               --          0
  conv (Conv2d)         [1, 8, 4, 4]                    584      9.34K
  bn (BatchNorm2d)      [1, 8, 4, 4]  32 (16 non-trainable)         --
  act (Sequential)      --                               --          0
    relu (ReLU)         [1, 8, 4, 4]                     --          0
scale (Scale)           [1, 8, 4, 4]                      1        128
  relu (ReLU)           [1, 8, 4, 4]                     --          0
======================================================================"""
    )
    # input 8*4*4*4 = 512 B, forward/backward 3,072 B, params 617*4 = 2,468 B: 6,052 B.
    assert summary(text)["Estimated Total Size (MB)"] == "0.00605"
    # bn's cost is unknown, so the total is too: never the sum of the known part.
    assert summary(text)["Total mult-adds (M)"] == "--"


def test_table_mult_adds_are_for_the_whole_batch_as_torchinfo_shows_them() -> None:
    spec = dataclasses.replace(nested_model(bn_mult_adds=256), batch_size=16)
    printer = ModelArchitecturePrinter(view="table", parameter_format="full")
    text = printer.format_architecture(spec)
    rows = {line.split()[0]: line.split()[-1] for line in text.splitlines()[5:12]}
    assert rows["conv"] == "149,504"  # 16 x 9,344
    assert rows["bn"] == "4,096"
    assert rows["scale"] == "2,048"
    assert spec.total_mult_adds == 16 * (9_344 + 256 + 128) == 155_648
    assert summary(text)["Total mult-adds (M)"] == "0.156"


def test_training_flops_per_example_print_under_the_mult_adds_when_known() -> None:
    spec = dataclasses.replace(cat_dog_cnn(), train_flops_per_example=215_172_912.0)
    lines = ModelArchitecturePrinter().format_architecture(spec).splitlines()
    index = lines.index("Total mult-adds (M): 40.7")
    assert lines[index + 1] == "Forward/backward FLOPs per example (M): 215"
    assert lines[index + 2].startswith("Input size")
    unknown = ModelArchitecturePrinter().format_architecture(cat_dog_cnn())
    assert "FLOPs" not in unknown


def test_a_spec_without_costs_prints_unknown_mult_adds() -> None:
    spec = ModelSpec("Net", (4,), [LayerSpec("fc", "Linear", "4, 2", params=10, output_shape=(2,))])
    assert spec.total_mult_adds is None
    assert summary(ModelArchitecturePrinter().format_architecture(spec))["Total mult-adds (M)"] == "--"
    table = ModelArchitecturePrinter(view="table").format_architecture(spec).splitlines()
    assert table[5].split() == ["fc", "(Linear)", "[1,", "2]", "10", "--"]


@pytest.mark.parametrize(
    ("count", "unit", "text"),
    [
        (350_602, "M", "0.351"),
        (0, "M", "0"),
        (10, "M", "0.00001"),
        (999_999_999, "M", "1000"),
        (1_000_000_000, "G", "1"),
        (1_821_524_040, "G", "1.82"),
        (4_089_184_256_000, "T", "4.09"),
        (None, "M", "--"),
    ],
)
def test_operation_counts_use_torchinfos_units(count: int | None, unit: str, text: str) -> None:
    assert format_operations(count) == (unit, text)


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
