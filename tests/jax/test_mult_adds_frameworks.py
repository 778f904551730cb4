"""Multiply-adds and training FLOPs of Flax NNX, Flax Linen and Equinox models through model_spec."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import pytest

from trainscope import ModelSpec
from trainscope_jax import create_model, model_spec, model_spec_from_params

nnx = pytest.importorskip("flax.nnx", reason="flax is not installed (pip install trainscope-jax[flax])")
nn = pytest.importorskip("flax.linen")
eqx = pytest.importorskip("equinox", reason="equinox is not installed (pip install trainscope-jax[equinox])")

BATCH = jax.ShapeDtypeStruct((4, 8, 8, 1), jnp.float32)  # Flax: a batch, channels-last
EXAMPLE = jax.ShapeDtypeStruct((1, 8, 8), jnp.float32)  # Equinox: one example, channels-first
WEIGHTED = ("conv1", "conv2", "fc1", "fc2")


def sequential_digits() -> ModelSpec:
    return create_model("digits-cnn", (1, 8, 8), 10).spec(batch_size=4)


def by_name(spec: ModelSpec) -> dict[str, int | None]:
    return {layer.name: layer.mult_adds for layer in spec.walk()}


class NnxDigits(nnx.Module):
    """trainscope's digits-cnn written in Flax NNX."""

    def __init__(self, rngs: Any) -> None:
        self.conv1 = nnx.Conv(1, 32, (3, 3), padding=1, rngs=rngs)
        self.conv2 = nnx.Conv(32, 64, (3, 3), padding=1, rngs=rngs)
        self.fc1 = nnx.Linear(256, 128, rngs=rngs)
        self.fc2 = nnx.Linear(128, 10, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = nnx.max_pool(nnx.relu(self.conv1(x)), (2, 2), (2, 2))
        x = nnx.max_pool(nnx.relu(self.conv2(x)), (2, 2), (2, 2))
        return self.fc2(nnx.relu(self.fc1(x.reshape(x.shape[0], -1))))


class LinenDigits(nn.Module):
    """trainscope's digits-cnn written in Flax Linen."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.max_pool(nn.relu(nn.Conv(32, (3, 3), padding=1, name="conv1")(x)), (2, 2), (2, 2))
        x = nn.max_pool(nn.relu(nn.Conv(64, (3, 3), padding=1, name="conv2")(x)), (2, 2), (2, 2))
        x = nn.relu(nn.Dense(128, name="fc1")(x.reshape(x.shape[0], -1)))
        return nn.Dense(10, name="fc2")(x)


class EqxDigits(eqx.Module):
    """trainscope's digits-cnn written in Equinox (one example, channels-first)."""

    conv1: Any
    conv2: Any
    pool: Any
    fc1: Any
    fc2: Any

    def __init__(self, key: jax.Array) -> None:
        k1, k2, k3, k4 = jax.random.split(key, 4)
        self.conv1 = eqx.nn.Conv2d(1, 32, 3, padding=1, key=k1)
        self.conv2 = eqx.nn.Conv2d(32, 64, 3, padding=1, key=k2)
        self.pool = eqx.nn.MaxPool2d(2, 2)
        self.fc1 = eqx.nn.Linear(256, 128, key=k3)
        self.fc2 = eqx.nn.Linear(128, 10, key=k4)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = self.pool(jax.nn.relu(self.conv1(x)))
        x = self.pool(jax.nn.relu(self.conv2(x)))
        return self.fc2(jax.nn.relu(self.fc1(x.reshape(-1))))


def framework_digits() -> dict[str, ModelSpec]:
    return {
        "flax.nnx": model_spec(NnxDigits(nnx.Rngs(0)), BATCH),
        "flax.linen": model_spec(LinenDigits(), BATCH),
        "equinox": model_spec(EqxDigits(jax.random.key(0)), EXAMPLE),
    }


def test_each_framework_counts_the_same_layers_as_the_sequential() -> None:
    expected = by_name(sequential_digits())
    for framework, spec in framework_digits().items():
        found = by_name(spec)
        assert {name: found[name] for name in WEIGHTED} == {name: expected[name] for name in WEIGHTED}, (
            framework
        )
        assert all(count == 0 for name, count in found.items() if name not in WEIGHTED), framework


def test_totals_are_torchinfos_for_the_batch_described() -> None:
    specs = framework_digits()
    assert specs["flax.nnx"].total_mult_adds == specs["flax.linen"].total_mult_adds == 4 * 350_602
    assert specs["equinox"].total_mult_adds == 350_602  # Equinox describes one example


def test_training_flops_are_those_of_the_same_network_in_every_framework() -> None:
    sequential = sequential_digits().train_flops_per_example
    assert sequential is not None
    for framework, spec in framework_digits().items():
        assert spec.train_flops_per_example == sequential, framework


def test_the_per_example_figures_do_not_depend_on_the_batch_described() -> None:
    model = NnxDigits(nnx.Rngs(0))
    one = model_spec(model, jnp.ones((1, 8, 8, 1)))
    many = model_spec(model, jnp.ones((32, 8, 8, 1)))
    assert by_name(one) == by_name(many)
    assert one.train_flops_per_example == many.train_flops_per_example
    assert many.total_mult_adds == 32 * (one.total_mult_adds or 0)


class Repeat(nnx.Module):
    """A layer used twice, a scan of three steps and a block with a matrix of its own."""

    def __init__(self, rngs: Any) -> None:
        self.shared = nnx.Linear(16, 16, rngs=rngs)
        self.block = Scaled(rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = self.shared(self.shared(x))
        x, _ = jax.lax.scan(lambda c, _: (self.block(c), None), x, None, length=3)
        return x


class Scaled(nnx.Module):
    def __init__(self, rngs: Any) -> None:
        self.w = nnx.Param(jnp.ones((16, 16)))
        self.inner = nnx.Linear(16, 16, use_bias=False, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.inner(x @ self.w[...])


def test_every_call_counts_and_blocks_own_their_inline_work() -> None:
    spec = model_spec(Repeat(nnx.Rngs(0)), jnp.ones((2, 16)))
    counts = by_name(spec)
    assert counts["shared"] == 2 * (16 * 16 + 16)  # called twice
    assert counts["block"] == 3 * 16 * 16  # its own x @ w, in each of 3 scan steps
    assert counts["inner"] == 3 * 16 * 16
    assert spec.total_mult_adds == 2 * (2 * 272 + 3 * 256 + 3 * 256)


class Looping(nnx.Module):
    """Work inside a while loop: its trip count is not known from the program."""

    def __init__(self, rngs: Any) -> None:
        self.fc = nnx.Linear(8, 8, rngs=rngs)
        self.refine = Refine(rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.refine(self.fc(x))


class Refine(nnx.Module):
    def __init__(self, rngs: Any) -> None:
        self.w = nnx.Param(jnp.eye(8))

    def __call__(self, x: jax.Array) -> jax.Array:
        w = self.w[...]
        return jax.lax.while_loop(lambda c: c.sum() > 1.0, lambda c: c @ w * 0.5, x)


def test_work_that_cannot_be_known_is_unknown_never_guessed() -> None:
    spec = model_spec(Looping(nnx.Rngs(0)), jnp.ones((2, 8)))
    assert by_name(spec) == {"fc": 72, "refine": None}
    assert spec.total_mult_adds is None
    arch = pytest.importorskip("trainscope_arch")
    text = arch.ModelArchitecturePrinter(view="table").format_architecture(spec)
    rows = {
        line.split()[0]: line.split()[-1] for line in text.splitlines() if line.startswith(("fc", "refine"))
    }
    assert rows == {"fc": "144", "refine": "--"}
    assert "Total mult-adds (M): --" in text.splitlines()


class Encoder(nnx.Module):
    def __init__(self) -> None:
        self.w = nnx.Param(jnp.ones((8, 8)))

    def encode(self, x: jax.Array) -> jax.Array:
        return x @ self.w[...]


class UsesAMethod(nnx.Module):
    """Calls a layer through a method other than its ``__call__``, from the model's own code."""

    def __init__(self, rngs: Any) -> None:
        self.encoder = Encoder()
        self.head = nnx.Linear(8, 2, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.head(self.encoder.encode(x))


def test_a_layer_that_may_have_done_unattributed_work_is_unknown() -> None:
    spec = model_spec(UsesAMethod(nnx.Rngs(0)), jnp.ones((2, 8)))
    assert by_name(spec) == {"encoder": None, "head": 18}
    assert spec.total_mult_adds is None


class OwnArray(nnx.Module):
    """A position embedding of the model's own, added in its own code (no layer does it)."""

    def __init__(self, rngs: Any) -> None:
        self.position = nnx.Param(jnp.zeros(8))
        self.fc = nnx.Linear(8, 8, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.fc(x + self.position[...])


def test_the_models_own_code_is_no_layer_as_in_torchinfo() -> None:
    spec = model_spec(OwnArray(nnx.Rngs(0)), jnp.ones((2, 8)))
    assert by_name(spec) == {"position": 0, "fc": 72}
    assert spec.total_mult_adds == 2 * 72


class Branching(nnx.Module):
    def __init__(self, rngs: Any) -> None:
        self.fc = nnx.Linear(8, 8, rngs=rngs)
        self.same = Choose(same=True)
        self.differ = Choose(same=False)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.differ(self.same(self.fc(x)))


class Choose(nnx.Module):
    def __init__(self, same: bool) -> None:
        self.same = same

    def __call__(self, x: jax.Array) -> jax.Array:
        other = (lambda x: x @ x.T @ x) if not self.same else (lambda x: x @ jnp.ones((8, 8)))
        return jax.lax.cond(x.sum() > 0, lambda x: x @ jnp.ones((8, 8)), other, x)


def test_a_cond_is_known_only_when_its_branches_cost_the_same() -> None:
    counts = by_name(model_spec(Branching(nnx.Rngs(0)), jnp.ones((2, 8))))
    assert counts == {"fc": 72, "same": 64, "differ": None}


def test_a_model_described_from_its_parameters_has_unknown_costs() -> None:
    params = {"fc1": {"kernel": jnp.zeros((64, 32)), "bias": jnp.zeros(32)}}
    spec = model_spec_from_params("MLP", params, (64,))
    assert [layer.mult_adds for layer in spec.layers] == [None]
    assert spec.total_mult_adds is None
    assert spec.train_flops_per_example is None


class TwoInputs(nnx.Module):
    def __init__(self, rngs: Any) -> None:
        self.fc = nnx.Linear(8, 4, rngs=rngs)

    def __call__(self, x: jax.Array, mask: jax.Array) -> jax.Array:
        return self.fc(x * mask)


def test_training_flops_need_a_model_of_one_input() -> None:
    spec = model_spec(TwoInputs(nnx.Rngs(0)), jnp.ones((2, 8)), jnp.ones((2, 8)))
    assert by_name(spec) == {"fc": 36}
    assert spec.train_flops_per_example is None
    arch = pytest.importorskip("trainscope_arch")
    assert "FLOPs" not in arch.ModelArchitecturePrinter().format_architecture(spec)


class NnxTrainMode(nnx.Module):
    """Batch norm and dropout: the gradient is taken in training mode, dropout drawing keys."""

    def __init__(self, rngs: Any) -> None:
        self.conv = nnx.Conv(1, 8, (3, 3), rngs=rngs)
        self.norm = nnx.BatchNorm(8, rngs=rngs)
        self.dropout = nnx.Dropout(0.5, rngs=rngs)
        self.head = nnx.Linear(8 * 8 * 8, 10, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = self.dropout(nnx.relu(self.norm(self.conv(x))))
        return self.head(x.reshape(x.shape[0], -1))


class EqxTrainMode(eqx.Module):
    conv: Any
    norm: Any
    dropout: Any
    head: Any

    def __init__(self, key: jax.Array) -> None:
        k1, k2 = jax.random.split(key)
        self.conv = eqx.nn.Conv2d(1, 8, 3, padding=1, key=k1)
        self.norm = eqx.nn.BatchNorm(8, axis_name="batch", mode="batch")
        self.dropout = eqx.nn.Dropout(0.5)
        self.head = eqx.nn.Linear(8 * 8 * 8, 10, key=k2)

    def __call__(self, x: jax.Array, state: Any, *, key: jax.Array | None = None) -> tuple[jax.Array, Any]:
        x, state = self.norm(self.conv(x), state)
        x = self.dropout(jax.nn.relu(x), key=key)
        return self.head(x.reshape(-1)), state


def test_models_with_batch_norm_and_dropout_have_training_flops() -> None:
    nnx_spec = model_spec(NnxTrainMode(nnx.Rngs(0)), BATCH)
    model, state = eqx.nn.make_with_state(EqxTrainMode)(jax.random.key(0))
    eqx_spec = model_spec(model, EXAMPLE, state)
    for spec in (nnx_spec, eqx_spec):
        counts = by_name(spec)
        # the convolution and the head as by hand; batch norm: its bias added to each element
        assert counts["conv"] == (9 + 1) * 8 * 64
        assert counts["norm"] == 8 * 64
        assert counts["head"] == 512 * 10 + 10
        assert spec.train_flops_per_example is not None
        assert spec.train_flops_per_example > 2 * 2 * (spec.total_mult_adds or 0) / spec.batch_size
    # the same network in both frameworks: each example draws its own dropout mask in both
    # (XLA lowers each framework's operations a little differently, hence the margin)
    assert eqx_spec.train_flops_per_example == pytest.approx(nnx_spec.train_flops_per_example, rel=0.05)
