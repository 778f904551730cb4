"""Layers: PyTorch-style arguments, parameter counts, output shapes and numerics."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trainscope_jax import (
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    Sequential,
    Softmax,
)


def spec_of(layer: object, input_shape: tuple[int, ...]):  # type: ignore[no-untyped-def]
    return Sequential([layer], input_shape=input_shape).spec().layers[0]  # type: ignore[list-item]


def run(model: Sequential, x: np.ndarray, **kwargs: object) -> np.ndarray:
    variables = model.init(jax.random.key(0))
    out, _ = model.apply(variables.params, variables.state, jnp.asarray(x), **kwargs)  # type: ignore[arg-type]
    return np.asarray(out)


def test_argument_strings_match_pytorch_printout() -> None:
    assert repr(Conv2d(3, 32, 3, stride=1, padding=1)) == (
        "Conv2d(3, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=true)"
    )
    assert repr(Linear(32768, 512)) == "Linear(in_features=32768, out_features=512, bias=true)"
    assert repr(Linear(4, 2, bias=False)) == "Linear(in_features=4, out_features=2, bias=false)"
    assert repr(ReLU()) == "ReLU()"
    assert repr(Softmax()) == "Softmax(dim=-1)"
    assert repr(MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0)"
    assert repr(Dropout(0.25)) == "Dropout(p=0.25)"
    assert repr(Flatten()) == "Flatten(start_dim=1, end_dim=-1)"


@pytest.mark.parametrize(
    ("layer", "input_shape", "params", "trainable", "output_shape"),
    [
        (Conv2d(3, 8, 3), (3, 9, 9), 3 * 8 * 3 * 3 + 8, 3 * 8 * 3 * 3 + 8, (8, 7, 7)),
        (Conv2d(3, 8, 3, stride=2, padding=1), (3, 9, 9), 3 * 8 * 9 + 8, 3 * 8 * 9 + 8, (8, 5, 5)),
        (Conv2d(2, 4, (1, 3), bias=False), (2, 5, 6), 2 * 4 * 3, 2 * 4 * 3, (4, 5, 4)),
        (Linear(12, 5), (12,), 12 * 5 + 5, 12 * 5 + 5, (5,)),
        (Linear(2 * 3 * 4, 5), (2, 3, 4), 24 * 5 + 5, 24 * 5 + 5, (5,)),
        (BatchNorm2d(6), (6, 4, 4), 4 * 6, 2 * 6, (6, 4, 4)),
        (MaxPool2d(2), (3, 8, 6), 0, 0, (3, 4, 3)),
        (AvgPool2d(3, stride=1, padding=1), (3, 8, 6), 0, 0, (3, 8, 6)),
        (Flatten(), (3, 4, 5), 0, 0, (60,)),
        (ReLU(), (7,), 0, 0, (7,)),
        (Dropout(0.5), (7,), 0, 0, (7,)),
        (Softmax(), (7,), 0, 0, (7,)),
    ],
)
def test_spec_counts_and_shapes(
    layer: object, input_shape: tuple[int, ...], params: int, trainable: int, output_shape: tuple[int, ...]
) -> None:
    spec = spec_of(layer, input_shape)
    assert (spec.params, spec.trainable_params, spec.output_shape) == (params, trainable, output_shape)
    model = Sequential([layer], input_shape=input_shape)  # type: ignore[list-item]
    variables = model.init(jax.random.key(0))
    x = jax.ShapeDtypeStruct((2, *input_shape), jnp.float32)
    out = jax.eval_shape(lambda v: model.apply(variables.params, variables.state, v)[0], x)
    assert out.shape == (2, *output_shape)
    real = sum(a.size for a in jax.tree_util.tree_leaves(variables))
    assert real == params


def test_conv2d_matches_a_direct_channels_first_convolution() -> None:
    model = Sequential([Conv2d(2, 3, 3, stride=2, padding=1)], input_shape=(2, 5, 5))
    variables = model.init(jax.random.key(1))
    weight = np.asarray(variables.params["conv1"]["weight"])  # (kh, kw, in, out)
    bias = np.asarray(variables.params["conv1"]["bias"]) + 0.5
    params = {"conv1": {"weight": jnp.asarray(weight), "bias": jnp.asarray(bias)}}
    x = np.random.default_rng(0).normal(size=(1, 2, 5, 5)).astype(np.float32)
    got, _ = model.apply(params, variables.state, jnp.asarray(x))
    padded = np.pad(x[0], ((0, 0), (1, 1), (1, 1)))
    expected = np.zeros((3, 3, 3), np.float32)
    for o in range(3):
        for i in range(3):
            for j in range(3):
                window = padded[:, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3]  # (in, kh, kw)
                expected[o, i, j] = np.sum(window * weight[:, :, :, o].transpose(2, 0, 1)) + bias[o]
    np.testing.assert_allclose(np.asarray(got)[0], expected, rtol=1e-4, atol=1e-5)


def test_pooling_values() -> None:
    x = np.arange(2 * 4 * 4, dtype=np.float32).reshape(1, 2, 4, 4)
    max_out = run(Sequential([MaxPool2d(2), Flatten()], input_shape=(2, 4, 4)), x)
    avg_out = run(Sequential([AvgPool2d(2), Flatten()], input_shape=(2, 4, 4)), x)
    blocks = (
        x.reshape(1, 2, 2, 2, 2, 2).transpose(0, 2, 4, 1, 3, 5).reshape(1, 2, 2, 2, 4)
    )  # (N, H', W', C, 4)
    np.testing.assert_allclose(max_out, blocks.max(-1).reshape(1, -1))
    np.testing.assert_allclose(avg_out, blocks.mean(-1).reshape(1, -1))


def test_relu_softmax_linear() -> None:
    x = np.array([[-1.0, 0.0, 2.0]], np.float32)
    np.testing.assert_allclose(run(Sequential([ReLU()], input_shape=(3,)), x), [[0.0, 0.0, 2.0]])
    probs = run(Sequential([Softmax()], input_shape=(3,)), x)
    np.testing.assert_allclose(probs.sum(), 1.0, rtol=1e-6)
    assert probs.argmax() == 2
    model = Sequential([Linear(3, 2)], input_shape=(3,))
    variables = model.init(jax.random.key(0))
    out, _ = model.apply(variables.params, variables.state, jnp.asarray(x))
    p = variables.params["fc1"]
    np.testing.assert_allclose(out, x @ np.asarray(p["weight"]) + np.asarray(p["bias"]), rtol=1e-6)


def test_batchnorm_normalises_in_training_and_uses_running_statistics_in_evaluation() -> None:
    model = Sequential([BatchNorm2d(2, momentum=0.1)], input_shape=(2, 3, 3))
    variables = model.init(jax.random.key(0))
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(8, 2, 3, 3)).astype(np.float32)
    out, state = model.apply(variables.params, variables.state, jnp.asarray(x), train=True)
    out = np.asarray(out)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1.0, atol=1e-3)
    batch_mean = x.mean(axis=(0, 2, 3))
    np.testing.assert_allclose(state["bn1"]["running_mean"], 0.1 * batch_mean, rtol=1e-5)
    evaluated, same = model.apply(variables.params, state, jnp.asarray(x), train=False)
    assert same is not None
    expected = (x - 0.1 * batch_mean[None, :, None, None]) / np.sqrt(
        np.asarray(state["bn1"]["running_var"])[None, :, None, None] + 1e-5
    )
    np.testing.assert_allclose(np.asarray(evaluated), expected, rtol=1e-4, atol=1e-4)


def test_dropout_only_while_training() -> None:
    model = Sequential([Dropout(0.5)], input_shape=(1000,))
    x = np.ones((1, 1000), np.float32)
    np.testing.assert_array_equal(run(model, x), x)
    dropped = run(model, x, train=True, key=jax.random.key(3))
    assert set(np.unique(dropped)) == {0.0, 2.0}
    assert 350 < (dropped == 0).sum() < 650
    with pytest.raises(ValueError, match="random key"):
        run(model, x, train=True)


def test_sequential_names_layers_like_pytorch() -> None:
    model = Sequential(
        [
            Conv2d(1, 2, 3, padding=1),
            ReLU(),
            MaxPool2d(2),
            Flatten(),
            Linear(8, 3),
            ReLU(),
            Linear(3, 2),
            Softmax(),
        ],
        input_shape=(1, 4, 4),
    )
    assert [name for name, _ in model.layers] == [
        "conv1", "relu1", "pool1", "flatten", "fc1", "relu2", "fc2", "softmax",
    ]  # fmt: skip
    named = Sequential([("encoder", Linear(4, 2)), ("act", ReLU())], input_shape=(4,))
    assert [layer.name for layer in named.spec().layers] == ["encoder", "act"]


def test_layers_that_do_not_fit_together_name_the_layer() -> None:
    with pytest.raises(ValueError, match=r"layer 'fc1'.*expects 10 input features.*\(2, 2, 2\) = 8"):
        Sequential([Conv2d(1, 2, 3), Linear(10, 2)], input_shape=(1, 4, 4))
    with pytest.raises(ValueError, match="expects 3 input channels"):
        Sequential([Conv2d(3, 2, 3)], input_shape=(1, 4, 4))
    with pytest.raises(ValueError, match="unique"):
        Sequential([("a", ReLU()), ("a", ReLU())], input_shape=(2,))


def test_initial_values_follow_the_key_within_the_layers_bounds() -> None:
    model = Sequential([Conv2d(1, 4, 3), Flatten(), Linear(4 * 4 * 4, 3)], input_shape=(1, 6, 6))
    first, again, other = (model.init(jax.random.key(seed)) for seed in (0, 0, 1))
    for name in ("conv1", "fc1"):
        weight = np.asarray(first.params[name]["weight"])
        assert weight.dtype == np.float32
        np.testing.assert_array_equal(weight, np.asarray(again.params[name]["weight"]))
        assert not np.array_equal(weight, np.asarray(other.params[name]["weight"]))
        np.testing.assert_array_equal(np.asarray(first.params[name]["bias"]), 0.0)
    conv_bound = np.sqrt(6 / 9)  # fan in: 1 channel, 3 x 3
    assert np.abs(np.asarray(first.params["conv1"]["weight"])).max() < conv_bound
    assert np.abs(np.asarray(first.params["fc1"]["weight"])).max() < np.sqrt(6 / 64)
    assert np.asarray(first.params["fc1"]["weight"]).std() > 0.3 * np.sqrt(6 / 64) / np.sqrt(3)


def test_an_init_traced_inside_jit_gives_arrays_of_the_same_shapes() -> None:
    model = Sequential([Conv2d(1, 4, 3), Flatten(), Linear(4 * 4 * 4, 3)], input_shape=(1, 6, 6))
    traced = jax.jit(model.init)(jax.random.key(0))
    eager = model.init(jax.random.key(0))
    assert jax.tree.map(np.shape, traced.params) == jax.tree.map(np.shape, eager.params)
