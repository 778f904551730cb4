"""model_spec on Flax NNX and Linen modules, checked against the frameworks' own tabulate."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import pytest

from trainscope import LayerSpec, ModelSpec
from trainscope_jax import model_spec, model_spec_from_params

nnx = pytest.importorskip("flax.nnx", reason="flax is not installed (pip install trainscope-jax[flax])")
nn = pytest.importorskip("flax.linen")

BATCH = jnp.ones((4, 8, 8, 1))  # the embedded digits, channels-last as Flax takes them
ModuleList = getattr(nnx, "List", list)  # Flax 0.11+ wants nnx.List for a list of modules; older ones a list


# -- reading the frameworks' own tables -------------------------------------------------------


def tabulate_rows(table: str) -> tuple[dict[str, tuple[str, tuple[int, ...]]], dict[str, int]]:
    """``nnx.tabulate``/``Module.tabulate`` text: path -> (type, output shape without batch), and totals."""
    lines = table.splitlines()
    header = next(line for line in lines if line.startswith("┃"))
    columns = [cell.strip() for cell in header.strip("┃").split("┃")]
    rows: dict[str, tuple[str, tuple[int, ...]]] = {}
    totals: dict[str, int] = {}
    for line in lines:
        if not line.startswith("│"):
            continue
        cells = dict(zip(columns, (cell.strip() for cell in line.strip("│").split("│"))))
        kind = cells.get("type") or cells.get("module")
        if cells["outputs"] == "Total":
            for column, cell in cells.items():
                if match := re.match(r"([\d,]+) \(", cell):
                    totals[column] = int(match.group(1).replace(",", ""))
        elif kind and cells["path"]:
            shape = re.search(r"\[([\d,]*)\]", cells["outputs"])
            assert shape is not None, line
            dims = tuple(int(d) for d in shape.group(1).split(","))
            rows[cells["path"].replace("/", ".")] = (kind, dims[1:])
    return rows, totals


def flat_layers(spec: ModelSpec) -> Iterator[tuple[str, LayerSpec]]:
    """Every layer with its full dotted path (``block1.linear``)."""

    def walk(layers: Any, prefix: str) -> Iterator[tuple[str, LayerSpec]]:
        for layer in layers:
            path = f"{prefix}{layer.name}"
            yield path, layer
            yield from walk(layer.children, f"{path}.")

    yield from walk(spec.layers, "")


def module_layers(spec: ModelSpec) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Path -> (kind, output shape) of the layers that are modules (functions are lower-case)."""
    return {
        path: (layer.kind, layer.output_shape) for path, layer in flat_layers(spec) if layer.kind[0].isupper()
    }


def lines(spec: ModelSpec) -> list[str]:
    return [f"({layer.name}): {layer.kind}({layer.args})" for layer in spec.layers]


# -- Flax NNX ----------------------------------------------------------------------------------


class NnxCNN(nnx.Module):
    """The Flax NNX MNIST tutorial's model, for 8x8 digits (linear1 takes 64 * 2 * 2)."""

    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.conv1 = nnx.Conv(1, 32, kernel_size=(3, 3), rngs=rngs)
        self.batch_norm1 = nnx.BatchNorm(32, rngs=rngs)
        self.dropout1 = nnx.Dropout(rate=0.025, rngs=rngs)
        self.conv2 = nnx.Conv(32, 64, kernel_size=(3, 3), rngs=rngs)
        self.batch_norm2 = nnx.BatchNorm(64, rngs=rngs)
        self.avg_pool = partial(nnx.avg_pool, window_shape=(2, 2), strides=(2, 2))
        self.linear1 = nnx.Linear(256, 256, rngs=rngs)
        self.dropout2 = nnx.Dropout(rate=0.025, rngs=rngs)
        self.linear2 = nnx.Linear(256, 10, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = self.avg_pool(nnx.relu(self.batch_norm1(self.dropout1(self.conv1(x)))))
        x = self.avg_pool(nnx.relu(self.batch_norm2(self.conv2(x))))
        x = x.reshape(x.shape[0], -1)
        x = nnx.relu(self.dropout2(self.linear1(x)))
        return self.linear2(x)


class NnxMLP(nnx.Module):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.hidden = nnx.Linear(64, 128, rngs=rngs)
        self.out = nnx.Linear(128, 10, use_bias=False, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.out(nnx.relu(self.hidden(x.reshape(x.shape[0], -1))))


class NnxBlock(nnx.Module):
    def __init__(self, din: int, dout: int, *, rngs: nnx.Rngs) -> None:
        self.linear = nnx.Linear(din, dout, rngs=rngs)
        self.norm = nnx.LayerNorm(dout, rngs=rngs)
        self.dropout = nnx.Dropout(0.1, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return nnx.relu(self.dropout(self.norm(self.linear(x))))


class NnxNested(nnx.Module):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.blocks = ModuleList([NnxBlock(64, 32, rngs=rngs), NnxBlock(32, 16, rngs=rngs)])
        self.head = nnx.Sequential(nnx.Linear(16, 16, rngs=rngs), nnx.gelu, nnx.Linear(16, 10, rngs=rngs))
        self.unused = nnx.Linear(3, 3, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = x.reshape(x.shape[0], -1)
        for block in self.blocks:
            x = block(x)
        return self.head(x)


NNX_MODELS = [NnxCNN, NnxMLP, NnxNested]


@pytest.mark.parametrize("cls", NNX_MODELS, ids=lambda cls: cls.__name__)
def test_nnx_layers_and_totals_match_nnx_tabulate(cls: Any) -> None:
    model = cls(rngs=nnx.Rngs(0))
    spec = model_spec(model, BATCH)
    rows, totals = tabulate_rows(
        nnx.tabulate(model, BATCH, console_kwargs={"width": 400, "force_terminal": False})
    )
    called = {path: row for path, row in module_layers(spec).items() if path in rows}
    assert called == rows  # every call nnx.tabulate sees, with its type and output shape
    assert spec.trainable_params == totals["Param"]
    assert spec.non_trainable_params == totals.get("BatchStat", 0)
    assert (spec.name, spec.input_shape, spec.batch_size) == (cls.__name__, (8, 8, 1), 4)


def test_nnx_tutorial_cnn_prints_in_call_order_with_nnx_arguments() -> None:
    spec = model_spec(NnxCNN(rngs=nnx.Rngs(0)), BATCH, name="DigitsCNN")
    assert spec.name == "DigitsCNN"
    assert lines(spec) == [
        "(conv1): Conv(1, 32, kernel_size=(3, 3), strides=(1, 1), padding='SAME')",
        "(dropout1): Dropout(rate=0.025)",
        "(batch_norm1): BatchNorm(32, momentum=0.99, epsilon=1e-05)",
        "(avg_pool): avg_pool(window_shape=(2, 2), strides=(2, 2))",
        "(conv2): Conv(32, 64, kernel_size=(3, 3), strides=(1, 1), padding='SAME')",
        "(batch_norm2): BatchNorm(64, momentum=0.99, epsilon=1e-05)",
        "(linear1): Linear(in_features=256, out_features=256)",
        "(dropout2): Dropout(rate=0.025)",
        "(linear2): Linear(in_features=256, out_features=10)",
    ]
    shapes = {layer.name: layer.output_shape for layer in spec.layers}
    assert shapes["avg_pool"] == (4, 4, 32)  # its first call
    assert shapes["linear1"] == (256,)
    batch_norm = next(layer for layer in spec.layers if layer.name == "batch_norm1")
    assert (batch_norm.params, batch_norm.trainable) == (128, 64)  # scale, bias | mean, var
    # torchinfo's rule on real shapes: 2 x the outputs of the layers with parameters, batch 4, float32.
    with_params = [layer.output_shape for layer in spec.layers if layer.params]
    expected = 2 * 4 * 4 * sum(int(jnp.prod(jnp.array(s))) for s in with_params)
    assert spec.forward_backward_bytes == expected > 0


def test_nnx_nested_modules_are_children_named_by_attribute_path() -> None:
    spec = model_spec(NnxNested(rngs=nnx.Rngs(0)), BATCH)
    tree = [(path, layer.kind, layer.args) for path, layer in flat_layers(spec)]
    assert tree == [
        ("blocks.0", "NnxBlock", ""),  # keeps no constructor argument as an attribute
        ("blocks.0.linear", "Linear", "in_features=64, out_features=32"),
        ("blocks.0.norm", "LayerNorm", "32, epsilon=1e-06"),
        ("blocks.0.dropout", "Dropout", "rate=0.1"),
        ("blocks.1", "NnxBlock", ""),
        ("blocks.1.linear", "Linear", "in_features=32, out_features=16"),
        ("blocks.1.norm", "LayerNorm", "16, epsilon=1e-06"),
        ("blocks.1.dropout", "Dropout", "rate=0.1"),
        ("head", "Sequential", ""),
        ("head.layers.0", "Linear", "in_features=16, out_features=16"),
        ("head.layers.1", "gelu", ""),
        ("head.layers.2", "Linear", "in_features=16, out_features=10"),
        ("unused", "Linear", "in_features=3, out_features=3"),  # never called: last, no shape
    ]
    by_path = dict(flat_layers(spec))
    assert by_path["head.layers.1"].output_shape == (16,)
    assert by_path["unused"].output_shape == ()
    assert spec.total_params == sum(
        x.size for x in jax.tree.leaves(nnx.state(NnxNested(rngs=nnx.Rngs(0)), nnx.Param))
    )


def test_nnx_description_leaves_the_model_untouched() -> None:
    model = NnxCNN(rngs=nnx.Rngs(0))
    calls = {cls: cls.__dict__.get("__call__") for cls in (NnxCNN, nnx.Conv, nnx.Linear, nnx.Dropout)}
    before = jax.tree.map(lambda a: a, nnx.state(model))
    model_spec(model, jax.ShapeDtypeStruct((2, 8, 8, 1), jnp.float32))
    assert not model.dropout1.deterministic  # still in training mode
    assert callable(model.avg_pool)
    assert not hasattr(model.avg_pool, "node")
    after = nnx.state(model)
    assert jax.tree.structure(before) == jax.tree.structure(after)
    assert all(jnp.array_equal(a, b) for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(after)))
    assert {cls: cls.__dict__.get("__call__") for cls in calls} == calls  # the classes are restored


def test_model_spec_from_params_unwraps_nnx_variables() -> None:
    model = NnxCNN(rngs=nnx.Rngs(0))
    from_state = model_spec_from_params("CNN", nnx.state(model), (8, 8, 1))
    names = [layer.name for layer in from_state.layers]
    assert names == sorted(names)  # an nnx.State is ordered by name by NNX itself
    conv = next(layer for layer in from_state.layers if layer.name == "conv1")
    assert (conv.kind, conv.args) == ("Conv2d", "1, 32, kernel_size=(3, 3), bias=true")
    assert from_state.trainable_params == sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
    assert from_state.non_trainable_params == sum(
        x.size for x in jax.tree.leaves(nnx.state(model, nnx.BatchStat))
    )
    from_module = model_spec_from_params("CNN", model, (8, 8, 1))
    assert [layer.name for layer in from_module.layers] == [
        "conv1", "batch_norm1", "conv2", "batch_norm2", "linear1", "linear2",
    ]  # fmt: skip
    assert from_module.total_params == from_state.total_params
    params_only = model_spec_from_params("CNN", nnx.state(model, nnx.Param), (8, 8, 1))
    assert params_only.non_trainable_params == 0
    assert all("value" not in layer.args for layer in params_only.layers)


def test_no_known_shapes_means_no_forward_backward_size() -> None:
    spec = model_spec_from_params("CNN", NnxCNN(rngs=nnx.Rngs(0)), (8, 8, 1))
    assert spec.forward_backward_bytes == 0


def test_nnx_model_without_a_sample_is_refused() -> None:
    with pytest.raises(TypeError, match=r"model_spec needs a sample input for a flax.nnx module"):
        model_spec(NnxMLP(rngs=nnx.Rngs(0)))


# -- Flax Linen --------------------------------------------------------------------------------


class LinenCNN(nn.Module):
    """The Flax Linen MNIST example's model."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.Conv(features=32, kernel_size=(3, 3))(x)
        x = nn.relu(x)
        x = nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
        x = nn.Conv(features=64, kernel_size=(3, 3))(x)
        x = nn.relu(x)
        x = nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
        x = x.reshape((x.shape[0], -1))
        x = nn.Dense(features=256)(x)
        x = nn.relu(x)
        return nn.Dense(features=10)(x)


class LinenBatchNormCNN(nn.Module):
    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        x = nn.Conv(16, (3, 3), strides=2, padding="VALID", use_bias=False)(x)
        x = nn.BatchNorm(use_running_average=not train)(x)
        x = nn.relu(x).reshape((x.shape[0], -1))
        x = nn.Dropout(0.3, deterministic=not train)(x)
        return nn.Dense(10)(x)


class LinenBlock(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return nn.relu(nn.LayerNorm()(nn.Dense(self.features)(x)))


class LinenNested(nn.Module):
    def setup(self) -> None:
        self.blocks = [LinenBlock(32), LinenBlock(16)]
        self.head = nn.Dense(10)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = x.reshape((x.shape[0], -1))
        for block in self.blocks:
            x = block(x)
        return self.head(x)


LINEN_MODELS = [LinenCNN, LinenBatchNormCNN, LinenNested]


@pytest.mark.parametrize("cls", LINEN_MODELS, ids=lambda cls: cls.__name__)
def test_linen_layers_and_totals_match_linen_tabulate(cls: Any) -> None:
    module = cls()
    kwargs = {"train": False} if cls is LinenBatchNormCNN else {}
    spec = model_spec(module, BATCH, **kwargs)
    table = module.tabulate(
        jax.random.key(0), BATCH, console_kwargs={"width": 400, "force_terminal": False}, **kwargs
    )
    rows, totals = tabulate_rows(table)
    assert module_layers(spec) == rows
    assert spec.trainable_params == totals["params"]
    assert spec.non_trainable_params == totals.get("batch_stats", 0)
    total = re.search(r"Total Parameters: ([\d,]+)", table)
    assert total is not None
    assert spec.total_params == int(total.group(1).replace(",", ""))


def test_linen_mnist_cnn_prints_linen_arguments() -> None:
    spec = model_spec(LinenCNN(), BATCH)
    assert lines(spec) == [
        "(Conv_0): Conv(1, 32, kernel_size=(3, 3), strides=(1, 1), padding='SAME')",
        "(Conv_1): Conv(32, 64, kernel_size=(3, 3), strides=(1, 1), padding='SAME')",
        "(Dense_0): Dense(in_features=256, features=256)",
        "(Dense_1): Dense(in_features=256, features=10)",
    ]
    spec = model_spec(LinenBatchNormCNN(), BATCH)  # the required train flag is filled in: evaluation
    assert lines(spec) == [
        "(Conv_0): Conv(1, 16, kernel_size=(3, 3), strides=(2, 2), padding='VALID', use_bias=False)",
        "(BatchNorm_0): BatchNorm(16, momentum=0.99, epsilon=1e-05)",
        "(Dropout_0): Dropout(rate=0.3)",
        "(Dense_0): Dense(in_features=144, features=10)",
    ]


def test_linen_variables_given_bound_or_initialised_agree() -> None:
    module = LinenBatchNormCNN()
    variables = module.init(jax.random.key(1), BATCH, train=False)
    initialised = model_spec(module, BATCH)
    given = model_spec(module, BATCH, variables=variables)
    bound = model_spec(module.bind(variables), BATCH)
    assert initialised == given == bound
    assert given.non_trainable_params == sum(x.size for x in jax.tree.leaves(variables["batch_stats"]))


def test_linen_nested_modules_are_children() -> None:
    spec = model_spec(LinenNested(), BATCH)
    assert [(path, layer.kind, layer.output_shape) for path, layer in flat_layers(spec)] == [
        ("blocks_0", "LinenBlock", (32,)),
        ("blocks_0.Dense_0", "Dense", (32,)),
        ("blocks_0.LayerNorm_0", "LayerNorm", (32,)),
        ("blocks_1", "LinenBlock", (16,)),
        ("blocks_1.Dense_0", "Dense", (16,)),
        ("blocks_1.LayerNorm_0", "LayerNorm", (16,)),
        ("head", "Dense", (10,)),
    ]
    assert spec.layers[0].args == "features=32"
