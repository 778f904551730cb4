"""create_model: the reference networks, their printouts and parameter counts."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from trainscope_jax import MODEL_NAMES, ModelTrainer, TrainerConfig, create_model


def conv(cin: int, cout: int, k: int = 3) -> int:
    return cin * cout * k * k + cout


def linear(fin: int, fout: int) -> int:
    return fin * fout + fout


def test_catdog_cnn_matches_the_reference_printout() -> None:
    spec = create_model("catdog-cnn", (3, 16, 16), 2).spec("CatDogCNN")
    lines = [f"({layer.name}): {layer.kind}({layer.args})" for layer in spec.layers]
    assert lines == [
        "(conv1): Conv2d(3, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=true)",
        "(relu1): ReLU()",
        "(conv2): Conv2d(32, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=true)",
        "(relu2): ReLU()",
        "(conv3): Conv2d(64, 128, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=true)",
        "(relu3): ReLU()",
        "(fc1): Linear(in_features=32768, out_features=512, bias=true)",
        "(relu4): ReLU()",
        "(fc2): Linear(in_features=512, out_features=2, bias=true)",
        "(softmax): Softmax(dim=-1)",
    ]
    expected = conv(3, 32) + conv(32, 64) + conv(64, 128) + linear(128 * 16 * 16, 512) + linear(512, 2)
    assert expected == 16_872_002
    assert spec.total_params == expected
    assert spec.trainable_params == expected
    assert spec.non_trainable_params == 0
    assert spec.input_shape == (3, 16, 16)
    shapes = {layer.name: layer.output_shape for layer in spec.layers}
    assert shapes["conv3"] == (128, 16, 16)
    assert shapes["fc1"] == (512,)
    assert shapes["softmax"] == (2,)


def test_digits_cnn_layers_and_counts() -> None:
    model = create_model("digits-cnn", (1, 8, 8), 10)
    spec = model.spec()
    assert [layer.kind for layer in spec.layers] == [
        "Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "ReLU", "Linear",
    ]  # fmt: skip
    assert spec.layers[7].args == "in_features=256, out_features=128, bias=true"
    assert spec.total_params == conv(1, 32) + conv(32, 64) + linear(256, 128) + linear(128, 10)
    assert [layer.output_shape for layer in spec.layers][:3] == [(32, 8, 8), (32, 8, 8), (32, 4, 4)]
    assert model.output_shape == (10,)


def test_mlp_and_unknown_names() -> None:
    spec = create_model("mlp", (1, 8, 8), 3).spec()
    assert spec.total_params == linear(64, 256) + linear(256, 128) + linear(128, 3)
    assert set(MODEL_NAMES) == {"catdog-cnn", "digits-cnn", "mlp"}
    with pytest.raises(
        ValueError, match="unknown model 'resnet'; choose one of: catdog-cnn, digits-cnn, mlp"
    ):
        create_model("resnet", (1, 8, 8), 10)
    with pytest.raises(ValueError, match="num_classes"):
        create_model("mlp", (4,), 1)


def test_model_ending_in_softmax_trains_on_the_logits_before_it() -> None:
    model = create_model("catdog-cnn", (3, 4, 4), 2)
    assert model.ends_in_softmax
    trainer = ModelTrainer(model, TrainerConfig(batch_size=4, platform="cpu"))
    x = np.random.default_rng(0).normal(size=(4, 3, 4, 4)).astype(np.float32)
    y = np.array([0, 1, 1, 0], np.int32)
    params, state = trainer.params, trainer.state.model_state
    logits, _ = model.apply(params, state, jnp.asarray(x), logits=True)
    probs, _ = model.apply(params, state, jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(probs), np.asarray(jax.nn.softmax(logits)), rtol=1e-5)
    expected = optax.softmax_cross_entropy_with_integer_labels(logits, jnp.asarray(y)).mean()
    result = trainer.evaluate_batch(x, y)
    np.testing.assert_allclose(float(result.loss), float(expected), rtol=1e-5)
    trainer.cleanup()
