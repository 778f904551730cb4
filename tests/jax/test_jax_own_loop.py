"""model_spec_from_params, and the runnable example of docs/jax/own-loop.md."""

from __future__ import annotations

import re
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

from trainscope import TrainingSession
from trainscope_jax import create_model, model_spec_from_params

DOC = Path(__file__).resolve().parents[2] / "docs" / "jax" / "own-loop.md"


def test_flax_style_params_with_batch_stats() -> None:
    params = {
        "params": {
            "Conv_0": {"kernel": jnp.zeros((3, 3, 1, 8)), "bias": jnp.zeros(8)},
            "BatchNorm_0": {"scale": jnp.zeros(8), "bias": jnp.zeros(8)},
            "Dense_0": {"kernel": jnp.zeros((128, 10)), "bias": jnp.zeros(10)},
        }
    }
    state = {"batch_stats": {"BatchNorm_0": {"mean": jnp.zeros(8), "var": jnp.zeros(8)}}}
    spec = model_spec_from_params("FlaxCNN", params, (28, 28, 1), state=state)
    lines = [(layer.name, layer.kind, layer.args, layer.params, layer.trainable) for layer in spec.layers]
    assert lines == [
        ("Conv_0", "Conv2d", "1, 8, kernel_size=(3, 3), bias=true", 3 * 3 * 8 + 8, 3 * 3 * 8 + 8),
        ("BatchNorm_0", "Params", "scale=(8,), bias=(8,), mean=(8,), var=(8,)", 32, 16),
        ("Dense_0", "Linear", "in_features=128, out_features=10, bias=true", 1290, 1290),
    ]
    assert spec.non_trainable_params == 16
    assert spec.input_shape == (28, 28, 1)


def test_torch_style_and_plain_lists() -> None:
    spec = model_spec_from_params(
        "Eqx", {"layers": [{"weight": jnp.zeros((5, 3)), "bias": jnp.zeros(5)}]}, (3,)
    )
    assert (spec.layers[0].name, spec.layers[0].args) == (
        "layers.0",
        "in_features=3, out_features=5, bias=true",
    )
    conv = model_spec_from_params("C", {"c": {"weight": jnp.zeros((4, 2, 3, 3))}}, (2, 8, 8))
    assert conv.layers[0].args == "2, 4, kernel_size=(3, 3), bias=false"
    flat = model_spec_from_params("L", [jnp.zeros((2, 2)), jnp.zeros(2)], (2,))
    assert [layer.params for layer in flat.layers] == [6]
    assert flat.dtype_bytes == 4


def test_counts_match_a_sequential_model() -> None:
    model = create_model("digits-cnn", (1, 8, 8), 10)
    params, _ = model.init(jax.random.key(0))
    spec = model_spec_from_params("DigitsCNN", params, (1, 8, 8))
    assert spec.total_params == model.spec().total_params


def test_the_own_loop_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAINSCOPE_PLUGINS", "")
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert blocks, "the page has no runnable python example"
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    session = namespace["session"]
    assert isinstance(session, TrainingSession)
    assert session.run.model is not None
    assert session.run.model.total_params == 64 * 128 + 128 + 128 * 10 + 10
    assert float(namespace["accuracy"]) > 0.8  # type: ignore[arg-type]


def test_a_step_returning_its_new_weights_with_the_loss_names_the_fix() -> None:
    import jax
    import jax.numpy as jnp

    from trainscope import TrainingSession

    @jax.jit
    def train_step(w: jax.Array, batch: jax.Array) -> tuple[jax.Array, jax.Array]:
        loss = jnp.mean((batch @ w) ** 2)
        return w - 0.1 * jax.grad(lambda w: jnp.mean((batch @ w) ** 2))(w), loss

    batch = jnp.ones((16, 4))
    with TrainingSession("Net", total_steps=2, plugins=[]) as session:
        step = session.training_step(train_step)
        with pytest.raises(TypeError, match=r"item 0 is an array of shape \(4, 4\), not a metric") as caught:
            step(jnp.eye(4), batch)
        assert "values=lambda out: {'loss': out[1]}" in str(caught.value)
        fixed = session.training_step(train_step, values=lambda out: {"loss": out[1]})
        w, _ = fixed(jnp.eye(4), batch)
        assert w.shape == (4, 4)
