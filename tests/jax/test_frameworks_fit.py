"""ModelTrainer on Flax NNX, Flax Linen and Equinox modules: steps, modes, fit, the trained model."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trainscope import RunInfo, hookimpl
from trainscope_jax import DataError, ModelTrainer, TrainerConfig, load_digits, model_spec

nnx = pytest.importorskip("flax.nnx", reason="flax is not installed (pip install trainscope-jax[flax])")
nn = pytest.importorskip("flax.linen")
eqx = pytest.importorskip("equinox", reason="equinox is not installed (pip install trainscope-jax[equinox])")

TRAIN, VALIDATION = load_digits()
X, Y = TRAIN.images[:64], TRAIN.labels[:64]


def config(**overrides: Any) -> TrainerConfig:
    return TrainerConfig(**{"platform": "cpu", "batch_size": 32, "learning_rate": 3e-3, **overrides})


class NnxCNN(nnx.Module):
    """The Flax NNX MNIST tutorial's model, for 8x8 digits."""

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


class NnxDropout(nnx.Module):
    """Dropout without its own RNG stream: the key comes through ``rngs`` in the call."""

    def __init__(self, rate: float, *, rngs: nnx.Rngs) -> None:
        self.linear = nnx.Linear(64, 10, rngs=rngs)
        self.dropout = nnx.Dropout(rate)

    def __call__(self, x: jax.Array, rngs: nnx.Rngs | None = None) -> jax.Array:
        return self.linear(self.dropout(x.reshape(x.shape[0], -1), rngs=rngs))


class LinenCNN(nn.Module):
    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        x = nn.Conv(32, (3, 3))(x)
        x = nn.BatchNorm(use_running_average=not train)(x)
        x = nn.avg_pool(nn.relu(x), (2, 2), strides=(2, 2))
        x = nn.Dropout(0.1, deterministic=not train)(x.reshape((x.shape[0], -1)))
        return nn.Dense(10)(x)


class LinenDropout(nn.Module):
    rate: float

    @nn.compact
    def __call__(self, x: jax.Array, deterministic: bool = True) -> jax.Array:
        x = nn.Dropout(self.rate)(x.reshape((x.shape[0], -1)), deterministic=deterministic)
        return nn.Dense(10)(x)


class EqxCNN(eqx.Module):
    conv: eqx.nn.Conv2d
    norm: eqx.nn.BatchNorm
    dropout: eqx.nn.Dropout
    head: eqx.nn.Linear

    def __init__(self, key: jax.Array) -> None:
        key1, key2 = jax.random.split(key)
        self.conv = eqx.nn.Conv2d(1, 16, 3, padding=1, key=key1)
        self.norm = eqx.nn.BatchNorm(16, axis_name="batch", mode="batch")
        self.dropout = eqx.nn.Dropout(0.1)
        self.head = eqx.nn.Linear(16 * 4 * 4, 10, key=key2)

    def __call__(self, x: jax.Array, state: Any, *, key: jax.Array | None = None) -> tuple[jax.Array, Any]:
        x, state = self.norm(self.conv(x), state)
        x = eqx.nn.MaxPool2d(2, 2)(jax.nn.relu(x))
        return self.head(self.dropout(x, key=key).ravel()), state


class EqxDropout(eqx.Module):
    dropout: eqx.nn.Dropout
    linear: eqx.nn.Linear

    def __init__(self, rate: float, key: jax.Array) -> None:
        self.dropout = eqx.nn.Dropout(rate)
        self.linear = eqx.nn.Linear(64, 10, key=key)

    def __call__(self, x: jax.Array, *, key: jax.Array | None = None) -> jax.Array:
        return self.linear(self.dropout(x.ravel(), key=key))


def nnx_trainer(**kw: Any) -> ModelTrainer:
    return ModelTrainer(NnxCNN(rngs=nnx.Rngs(0)), config(**kw))


def linen_trainer(**kw: Any) -> ModelTrainer:
    return ModelTrainer(LinenCNN(), config(**kw), input_shape=(1, 8, 8))


def equinox_trainer(**kw: Any) -> ModelTrainer:
    model, state = eqx.nn.make_with_state(EqxCNN)(jax.random.key(0))
    return ModelTrainer(model, config(**kw), variables=state)


TRAINERS: dict[str, Callable[..., ModelTrainer]] = {
    "flax.nnx": nnx_trainer,
    "flax.linen": linen_trainer,
    "equinox": equinox_trainer,
}


class RunRecorder:
    def __init__(self) -> None:
        self.run: RunInfo | None = None

    @hookimpl
    def trainscope_train_start(self, run: RunInfo) -> None:
        self.run = run


def predictions(framework: str, trained: Any, images: jax.Array) -> jax.Array:
    """Class probabilities from the trained model in its framework's own form, run by the framework."""
    if framework == "flax.nnx":
        trained.eval()
        return jax.nn.softmax(trained(jnp.transpose(images, (0, 2, 3, 1))))
    if framework == "flax.linen":
        return jax.nn.softmax(LinenCNN().apply(trained, jnp.transpose(images, (0, 2, 3, 1)), train=False))
    model, state = trained
    batched = jax.vmap(eqx.nn.inference_mode(model), in_axes=(0, None), out_axes=(0, None), axis_name="batch")
    return jax.nn.softmax(batched(images, state)[0])


@pytest.mark.parametrize("framework", list(TRAINERS))
def test_steps_and_fit_learn_the_digits_and_hand_back_the_trained_model(framework: str) -> None:
    recorder = RunRecorder()
    x, y = TRAIN.images[:32], TRAIN.labels[:32]
    with TRAINERS[framework]() as trainer:
        assert trainer.framework == framework
        before = trainer.evaluate_batch(VALIDATION.images, VALIDATION.labels)
        old = jax.tree.leaves(trainer.params)
        with jax.transfer_guard_device_to_host("disallow"):  # a float(loss) in the step would raise
            steps = [trainer.train_batch(x, y) for _ in range(10)]
        assert all(leaf.is_deleted() for leaf in old)  # the state was donated: updated in place
        assert isinstance(steps[0].loss, jax.Array)
        assert float(steps[-1].loss) < float(steps[0].loss)

        history = trainer.fit(TRAIN, VALIDATION, epochs=3, plugins=[recorder])
        assert trainer.input_shape == (1, 8, 8)
        spec = trainer.model_spec()
        images = jnp.asarray(VALIDATION.images[:16])
        probabilities = trainer.predict(images)
        trained = trainer.trained_model()
    accuracy = history.last.validation_accuracy
    assert accuracy is not None
    assert accuracy > 0.9 > float(before.accuracy)
    run = recorder.run
    assert run is not None
    assert run.model == spec
    assert run.model.total_params > 0
    assert run.model.layers
    assert run.environment["framework"] == framework
    assert run.environment[framework.split(".")[0]]  # the framework's version
    np.testing.assert_allclose(predictions(framework, trained, images), probabilities, rtol=1e-5, atol=1e-6)


def test_nnx_fit_leaves_the_trained_weights_in_the_users_module() -> None:
    def weights(model: Any) -> list[np.ndarray]:
        return [np.asarray(leaf) for leaf in jax.tree.leaves(nnx.state(model, nnx.Param))]

    model = NnxCNN(rngs=nnx.Rngs(0))
    initial = jax.tree.leaves(nnx.state(model, nnx.Param))
    before = weights(model)
    with ModelTrainer(model, config()) as trainer:
        trainer.train_batch(X[:32], Y[:32])
        assert not any(leaf.is_deleted() for leaf in initial)  # the trainer copied them
        trainer.fit(TRAIN, epochs=1, plugins=[])
        trained = weights(model)
        trainer.train_batch(X[:32], Y[:32])  # more steps: the module keeps its own copy
    assert not any(np.allclose(a, b) for a, b in zip(trained, before) if a.size > 64)
    assert all(np.array_equal(a, b) for a, b in zip(weights(model), trained))
    assert not model.dropout1.deterministic  # the module's mode is left as it was


DROPOUT_MODELS: dict[str, Callable[[float], tuple[Any, dict[str, Any]]]] = {
    "nnx, rngs in the call": lambda rate: (NnxDropout(rate, rngs=nnx.Rngs(0)), {}),
    "nnx, its own rngs": lambda rate: (
        nnx.Sequential(nnx.Dropout(rate, rngs=nnx.Rngs(1)), NnxDropout(0.0, rngs=nnx.Rngs(0))),
        {},
    ),
    "linen, deterministic flag": lambda rate: (LinenDropout(rate), {"input_shape": (1, 8, 8)}),
    "equinox, key": lambda rate: (EqxDropout(rate, jax.random.key(0)), {}),
}


@pytest.mark.parametrize("kind", list(DROPOUT_MODELS))
def test_dropout_is_on_while_training_and_off_while_evaluating(kind: str) -> None:
    def losses(rate: float) -> tuple[float, float, float]:
        model, extra = DROPOUT_MODELS[kind](rate)
        with ModelTrainer(model, config(learning_rate=1e-9), **extra) as trainer:
            evaluated = trainer.evaluate_batch(X, Y).loss
            again = trainer.evaluate_batch(X, Y).loss
            trained = trainer.train_batch(X, Y).loss  # the same parameters, in training mode
            return float(evaluated), float(again), float(trained)

    evaluated, again, trained = losses(0.5)
    assert evaluated == again  # evaluation is deterministic
    assert trained != pytest.approx(evaluated, rel=1e-3)  # half the inputs dropped while training
    evaluated, _, trained = losses(0.0)
    assert trained == pytest.approx(evaluated, rel=1e-5)  # the control: nothing to drop


def test_the_equinox_step_stays_asynchronous_like_trainscopes_own() -> None:
    from trainscope_jax import Flatten, Linear, ReLU, Sequential

    class Wide(eqx.Module):
        layers: list[Any]

        def __init__(self, key: jax.Array) -> None:
            keys = jax.random.split(key, 3)
            self.layers = [eqx.nn.Linear(64, 1024, key=keys[0]), eqx.nn.Linear(1024, 1024, key=keys[1])]
            self.layers.append(eqx.nn.Linear(1024, 10, key=keys[2]))

        def __call__(self, x: jax.Array) -> jax.Array:
            x = x.ravel()
            for layer in self.layers:
                x = jax.nn.relu(layer(x))
            return x

    def first_step_done(model: Any) -> bool:
        """Whether the first of three steps had finished when the third ``train_batch`` returned."""
        x = np.tile(X, (8, 1, 1, 1))  # 512 examples: each step is tens of milliseconds of work
        y = np.tile(Y, 8)
        with ModelTrainer(model, config(batch_size=512)) as trainer:
            jax.block_until_ready(trainer.train_batch(x, y))  # compiled
            results = [trainer.train_batch(x, y) for _ in range(3)]
            done = results[0].loss.is_ready()
            jax.block_until_ready(results)
        return bool(done)

    own = [Flatten(), Linear(64, 1024), ReLU(), Linear(1024, 1024), ReLU(), Linear(1024, 10)]
    if first_step_done(Sequential(own, input_shape=(1, 8, 8))):
        pytest.skip(
            f"jax {jax.__version__} waits for the previous CPU step before running one with donated buffers"
        )
    assert not first_step_done(Wide(jax.random.key(0)))  # dispatched, never waited for (eqx.filter_jit waits)


def test_models_and_arguments_that_do_not_fit_are_refused() -> None:
    with pytest.raises(
        ValueError, match=r"has no variables yet: give ModelTrainer\(module, config, variables="
    ):
        ModelTrainer(LinenCNN(), config())
    with pytest.raises(TypeError, match="trains a trainscope Sequential, a Flax NNX or Linen module"):
        ModelTrainer({"w": jnp.zeros(3)}, config())
    with pytest.raises(TypeError, match="holds its own variables"):
        ModelTrainer(NnxCNN(rngs=nnx.Rngs(0)), config(), variables={})
    with pytest.raises(TypeError, match=r"must be its eqx\.nn\.State"):
        ModelTrainer(EqxDropout(0.1, jax.random.key(0)), config(), variables={"x": 1})
    with nnx_trainer() as trainer:
        with pytest.raises(ValueError, match=r"input shape of NnxCNN is not known yet"):
            trainer.model_spec()
        with pytest.raises(DataError, match=r"the model cannot take training images of shape \(3, 8, 8\)"):
            trainer.fit((np.zeros((64, 3, 8, 8), np.float32), np.zeros(64, np.int32)), plugins=[])
    with nnx_trainer() as trainer:
        trainer.fit(TRAIN, epochs=1, plugins=[])
        with pytest.raises(DataError, match=r"images have shape \(1, 4, 4\) but the model takes \(1, 8, 8\)"):
            trainer.fit((np.zeros((64, 1, 4, 4), np.float32), np.zeros(64, np.int32)), plugins=[])


def test_model_spec_of_the_trainer_is_model_spec_of_the_model() -> None:
    model = NnxCNN(rngs=nnx.Rngs(0))
    with ModelTrainer(model, config(), input_shape=(1, 8, 8)) as trainer:
        assert trainer.model_spec("CNN") == model_spec(model, jnp.zeros((1, 8, 8, 1)), name="CNN")


def test_a_bfloat16_trainer_counts_its_float32_batch_statistics_at_4_bytes() -> None:
    model = NnxCNN(rngs=nnx.Rngs(0))
    with ModelTrainer(model, config(dtype="bfloat16"), input_shape=(1, 8, 8)) as trainer:
        spec = trainer.model_spec()
    trainable, statistics = spec.trainable_params, spec.non_trainable_params
    assert statistics == 2 * (32 + 64)  # each BatchNorm's running mean and variance
    assert spec.params_bytes == trainable * 2 + statistics * 4
    assert spec.input_bytes == 8 * 8 * spec.batch_size * 2  # the trainer casts its inputs too
