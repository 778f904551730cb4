"""model_spec on Equinox modules, checked against Equinox's own leaves and real layer calls."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trainscope_jax import load_digits, model_spec

eqx = pytest.importorskip("equinox", reason="equinox is not installed (pip install trainscope-jax[equinox])")

EXAMPLE = jnp.asarray(load_digits()[0].images[0])  # one digit, (1, 8, 8), as Equinox layers take it


class CNN(eqx.Module):
    """Equinox's "CNN on MNIST" example, for 8x8 digits (the first Linear takes 3 * 4 * 4)."""

    layers: list[Any]

    def __init__(self, key: jax.Array) -> None:
        key1, key2, key3, key4 = jax.random.split(key, 4)
        self.layers = [
            eqx.nn.Conv2d(1, 3, kernel_size=4, key=key1),
            eqx.nn.MaxPool2d(kernel_size=2),
            jax.nn.relu,
            jnp.ravel,
            eqx.nn.Linear(48, 512, key=key2),
            jax.nn.sigmoid,
            eqx.nn.Linear(512, 64, key=key3),
            jax.nn.relu,
            eqx.nn.Linear(64, 10, key=key4),
            jax.nn.log_softmax,
        ]

    def __call__(self, x: jax.Array) -> jax.Array:
        for layer in self.layers:
            x = layer(x)
        return x


class BatchNormCNN(eqx.Module):
    conv: eqx.nn.Conv2d
    norm: eqx.nn.BatchNorm
    dropout: eqx.nn.Dropout
    head: eqx.nn.Linear

    def __init__(self, key: jax.Array) -> None:
        key1, key2 = jax.random.split(key)
        self.conv = eqx.nn.Conv2d(1, 8, 3, stride=2, padding=1, use_bias=False, key=key1)
        self.norm = eqx.nn.BatchNorm(8, axis_name="batch", mode="batch")
        self.dropout = eqx.nn.Dropout(0.2)
        self.head = eqx.nn.Linear(8 * 4 * 4, 10, key=key2)

    def __call__(self, x: jax.Array, state: Any, *, key: jax.Array | None = None) -> tuple[jax.Array, Any]:
        x, state = self.norm(self.conv(x), state)
        x = self.dropout(jax.nn.relu(x), key=key)
        return self.head(x.ravel()), state


def sequential_mlp(key: jax.Array) -> Any:
    key1, key2 = jax.random.split(key)
    return eqx.nn.Sequential(
        [
            eqx.nn.Lambda(jnp.ravel),
            eqx.nn.MLP(64, 32, width_size=48, depth=2, key=key1),
            eqx.nn.Lambda(jax.nn.relu),
            eqx.nn.Linear(32, 10, key=key2),
        ]
    )


def trainable_count(model: Any) -> int:
    return sum(x.size for x in jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array)))


def lines(layers: Any) -> list[str]:
    return [f"({layer.name}): {layer.kind}({layer.args})" for layer in layers]


def test_equinox_cnn_example() -> None:
    model = CNN(jax.random.key(0))
    spec = model_spec(model, EXAMPLE)
    assert lines(spec.layers) == [
        "(layers.0): Conv2d(1, 3, kernel_size=(4, 4), stride=(1, 1), padding=((0, 0), (0, 0)))",
        "(layers.1): MaxPool2d(kernel_size=(2, 2), stride=(1, 1))",
        "(layers.2): relu()",
        "(layers.3): ravel()",
        "(layers.4): Linear(in_features=48, out_features=512)",
        "(layers.5): sigmoid()",
        "(layers.6): Linear(in_features=512, out_features=64)",
        "(layers.7): relu()",
        "(layers.8): Linear(in_features=64, out_features=10)",
        "(layers.9): log_softmax()",
    ]
    x, shapes = EXAMPLE, []
    for layer in model.layers:  # Equinox's own layers, run for real
        x = layer(x)
        shapes.append(x.shape)
    assert [layer.output_shape for layer in spec.layers] == shapes
    assert spec.trainable_params == spec.total_params == trainable_count(model)
    assert (spec.name, spec.input_shape, spec.batch_size) == ("CNN", (1, 8, 8), 1)


def test_equinox_batch_norm_state_is_non_trainable() -> None:
    model, state = eqx.nn.make_with_state(BatchNormCNN)(jax.random.key(0))
    spec = model_spec(model, EXAMPLE, state)
    assert lines(spec.layers) == [
        "(conv): Conv2d(1, 8, kernel_size=(3, 3), stride=(2, 2), padding=((1, 1), (1, 1)), use_bias=False)",
        "(norm): BatchNorm(8, momentum=0.99, eps=1e-05)",
        "(dropout): Dropout(p=0.2)",
        "(head): Linear(in_features=128, out_features=10)",
    ]
    assert spec.trainable_params == trainable_count(model)
    statistics = [leaf for leaf in jax.tree.leaves(state) if jnp.issubdtype(leaf.dtype, jnp.inexact)]
    assert spec.non_trainable_params == sum(leaf.size for leaf in statistics) == 16  # running mean, var
    inference = eqx.nn.inference_mode(model)
    conv = inference.conv(EXAMPLE)
    normed, _ = inference.norm(conv, state)
    assert [layer.output_shape for layer in spec.layers] == [conv.shape, normed.shape, normed.shape, (10,)]


def test_equinox_sequential_shows_lambdas_by_name_and_nests_the_mlp() -> None:
    model = sequential_mlp(jax.random.key(0))
    spec = model_spec(model, EXAMPLE, name="SeqMLP")
    assert spec.name == "SeqMLP"
    assert lines(spec.layers) == [
        "(layers.0): ravel()",
        "(layers.1): MLP(in_size=64, out_size=32, width_size=48, depth=2)",
        "(layers.2): relu()",
        "(layers.3): Linear(in_features=32, out_features=10)",
    ]
    mlp = spec.layers[1]
    assert lines(mlp.children) == [
        "(layers.0): Linear(in_features=64, out_features=48)",
        "(layers.1): Linear(in_features=48, out_features=48)",
        "(layers.2): Linear(in_features=48, out_features=32)",
    ]
    x, shapes = EXAMPLE, []
    for layer in model.layers:
        x = layer(x)
        shapes.append(x.shape)
    assert [layer.output_shape for layer in spec.layers] == shapes
    assert spec.total_params == trainable_count(model)


def test_equinox_description_leaves_the_model_untouched() -> None:
    model = CNN(jax.random.key(0))
    leaves = jax.tree.leaves(model)
    model_spec(model, jax.ShapeDtypeStruct((1, 8, 8), jnp.float32))
    assert model.layers[2] is jax.nn.relu  # no recording wrapper left behind
    assert all(a is b for a, b in zip(leaves, jax.tree.leaves(model)))
    np.testing.assert_array_equal(model(EXAMPLE), CNN(jax.random.key(0))(EXAMPLE))
