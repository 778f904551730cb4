"""model_spec for trainscope's own models and plain pytrees; trainscope_jax without the frameworks."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import pytest

from trainscope_jax import create_model, model_spec, model_spec_from_params


def test_a_sequential_describes_itself() -> None:
    model = create_model("digits-cnn", (1, 8, 8), 10)
    assert model_spec(model) == model.spec()
    batched = model_spec(model, jnp.zeros((16, 1, 8, 8)), name="Digits")
    assert batched == model.spec("Digits", batch_size=16)
    with pytest.raises(
        ValueError, match=r"the sample has shape \(8, 8, 1\) per example but .* takes \(1, 8, 8\)"
    ):
        model_spec(model, jnp.zeros((16, 8, 8, 1)))


def test_any_other_pytree_is_described_from_its_parameters() -> None:
    params = {
        "fc1": {"kernel": jnp.zeros((64, 32)), "bias": jnp.zeros(32)},
        "fc2": {"kernel": jnp.zeros((32, 10))},
    }
    spec = model_spec(params, jax.ShapeDtypeStruct((8, 64), jnp.float32), name="MLP")
    assert spec == model_spec_from_params("MLP", params, (64,), batch_size=8)
    assert [layer.kind for layer in spec.layers] == ["Linear", "Linear"]
    assert model_spec(params).input_shape == ()


def test_trainscope_jax_needs_neither_flax_nor_equinox() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["flax"] = sys.modules["equinox"] = None  # importing either now fails
        import jax.numpy as jnp
        import trainscope_jax as t

        model = t.create_model("mlp", (1, 4, 4), 3)
        assert t.model_spec(model).total_params > 0
        assert t.model_spec({"w": jnp.zeros((4, 3))}).total_params == 12
        with t.ModelTrainer(model, t.TrainerConfig(platform="cpu")) as trainer:
            trainer.train_batch(jnp.zeros((2, 1, 4, 4)), jnp.array([0, 1]))
        print(sorted(name for name in sys.modules if name.split(".")[0] in ("flax", "equinox")))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "['equinox', 'flax']"  # only the two blocked entries
