"""The jitted training and evaluation steps, the state they update, and the loss and metrics.

Owns ``TrainState`` and ``StepResult``, the loss and metric functions (their types, the
default ``cross_entropy`` and their checks) and ``TrainingSteps``: the trainer's state on
the devices and the two compiled functions over it, sharded when the batch is split
across several devices.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from types import MappingProxyType
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from trainscope.metrics import check_metric_name
from trainscope_jax.models.sequential import Params
from trainscope_jax.training.adapters import ModelAdapter
from trainscope_jax.training.sharding import DataParallel

LossFunction = Callable[[jax.Array, jax.Array], jax.Array]
"""``loss(logits, labels)``: one loss per example, shape ``(N,)`` (``fit`` and the steps take
the mean; a validation leaves out the padding). ``logits`` are float32, ``labels`` the integer
class indices of the batch. Traced inside the jitted step: use ``jax.numpy`` and optax."""
MetricFunction = Callable[[jax.Array, jax.Array], jax.Array]
"""``metric(logits, labels)``: one value per example, shape ``(N,)`` (a bool per example for a
top-k accuracy), averaged over the batch on the device, inside the jitted step."""

StepOutput = tuple[jax.Array, jax.Array, dict[str, jax.Array]]
"""A compiled step's loss, accuracy and extra metric means, on the device."""


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """The default loss: softmax cross-entropy with integer labels, one per example."""
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels)


class _LossAndAccuracy(NamedTuple):
    loss: jax.Array
    accuracy: jax.Array


class StepResult(_LossAndAccuracy):
    """A step's ``loss`` and ``accuracy`` (a pair) as 0-d JAX arrays: on the device until read
    (``float(...)``); ``metrics`` holds the means of the trainer's extra metrics, by name."""

    metrics: Mapping[str, jax.Array]

    def __new__(
        cls, loss: jax.Array, accuracy: jax.Array, metrics: Mapping[str, jax.Array] | None = None
    ) -> StepResult:
        result = super().__new__(cls, loss, accuracy)
        result.metrics = MappingProxyType(dict(metrics or {}))
        return result


class TrainState(NamedTuple):
    """Everything a training step updates (donated to the step, so updated in place)."""

    params: Params
    model_state: Params
    opt_state: Any
    key: jax.Array
    step: jax.Array


def _fresh_optimizer_state(
    optimizer: optax.GradientTransformation, dtype: jnp.dtype, params: Params
) -> tuple[Params, Any, jax.Array]:
    """The parameters cast to ``dtype``, the optimizer's first state and the step count, as one
    compiled program: run op by op, they would compile one small program per shape."""
    params = jax.tree.map(lambda a: a.astype(dtype), params)
    return params, optimizer.init(params), jnp.zeros((), jnp.int32)


def checked_loss(loss: LossFunction | None) -> LossFunction:
    """``loss``, or ``cross_entropy`` for None; a TypeError for what is not a function."""
    if loss is None:
        return cross_entropy
    if not callable(loss):
        raise TypeError(f"loss must be a function of (logits, labels), got {type(loss).__name__}")
    return loss


def checked_metrics(metrics: Mapping[str, MetricFunction] | None) -> dict[str, MetricFunction]:
    """The extra metrics by name, each name checked and not ``loss`` or ``accuracy``."""
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping):
        raise TypeError(
            f"metrics must map names to functions of (logits, labels), got {type(metrics).__name__}"
        )
    for name, metric in metrics.items():
        check_metric_name(name)
        if name in ("loss", "accuracy"):
            raise ValueError(
                f"metric name {name!r} is taken: the trainer reports loss and accuracy itself "
                "(pass loss= for another loss), so give the metric another name"
            )
        if not callable(metric):
            raise TypeError(
                f"metric {name!r} must be a function of (logits, labels), got {type(metric).__name__}"
            )
    return dict(metrics)


def _per_example(what: str, values: Any, labels: jax.Array) -> jax.Array:
    """``values`` as one value per example, or a TypeError (raised while the step is traced)."""
    shape = getattr(values, "shape", None)
    if shape != labels.shape[:1]:
        raise TypeError(
            f"the {what} must give one value per example, shape {tuple(labels.shape[:1])}, got "
            f"{'shape ' + str(tuple(shape)) if shape is not None else type(values).__name__}: "
            "return the values before their mean (a padded validation batch leaves the padding out)"
        )
    return jnp.asarray(values)


def _shardings(parallel: DataParallel, inputs: tuple[Any, ...], outputs: tuple[Any, ...]) -> dict[str, Any]:
    """``jax.jit``'s sharding arguments for a step over several devices; none for one device."""
    if not parallel.sharded:
        return {}
    return {"in_shardings": inputs, "out_shardings": outputs}


class TrainingSteps:
    """A model's state on the devices and the jitted steps over it.

    ``state`` starts from the adapter's initial parameters cast to ``dtype`` (replicated
    over the devices when the batch is split); ``train`` updates it in place (its buffers
    are donated), ``evaluate`` reads it. Neither waits for the device.
    """

    def __init__(
        self,
        adapter: ModelAdapter,
        parallel: DataParallel,
        optimizer: optax.GradientTransformation,
        *,
        dtype: jnp.dtype,
        seed: int,
        loss: LossFunction,
        metrics: Mapping[str, MetricFunction],
    ) -> None:
        self.adapter, self.parallel, self.optimizer, self.dtype = adapter, parallel, optimizer, dtype
        self.loss_function, self.metrics = loss, dict(metrics)
        self.device: jax.Device = parallel.local_devices[0]
        # Copy batches ahead with device_put, except on the CPU: there the jitted step takes
        # NumPy arrays directly, and a separate device_put would only add Python overhead.
        # Several processes always build global arrays from their own rows.
        self.transfer: bool = self.device.platform != "cpu" or parallel.multi_process
        init_key, step_key = jax.random.split(jax.random.key(seed))
        params, model_state = adapter.init(init_key)
        params, opt_state, step = jax.jit(partial(_fresh_optimizer_state, optimizer, dtype))(params)
        state = TrainState(params, model_state, opt_state, step_key, step)
        self.state: TrainState | None = self._placed(state)
        """None once the trainer is cleaned up."""
        replicated, split = parallel.replicated, parallel.batch
        self.train_step = jax.jit(
            self._step,
            donate_argnums=0,
            **_shardings(parallel, (replicated, split, split), (replicated,) * 4),
        )
        self.eval_step = jax.jit(
            self._evaluate,
            **_shardings(parallel, (replicated, replicated, split, split, split), (replicated,) * 3),
        )
        self.placement: jax.Device | jax.sharding.Sharding = split if parallel.sharded else self.device
        """Where batches go: this process's first device, or split across the devices."""

    def _placed(self, state: TrainState) -> TrainState:
        """``state`` on the devices: replicated when the batch is split, else on the first device."""
        return (
            self.parallel.put_replicated(state)
            if self.parallel.sharded
            else jax.device_put(state, self.device)
        )

    def load(self, state: TrainState) -> None:
        """Go on from ``state`` (host arrays, as a checkpoint holds them) instead of the current one."""
        self.current  # noqa: B018 - refused once cleaned up
        self.state = self._placed(state)

    @property
    def current(self) -> TrainState:
        """The current state, or a RuntimeError once cleaned up."""
        if self.state is None:
            raise RuntimeError("this ModelTrainer was cleaned up; create a new one")
        return self.state

    def train(self, inputs: Any, labels: Any) -> StepOutput:
        """One optimisation step on a batch placed as the step takes it; updates ``state``."""
        self.state, loss, accuracy, extras = self.train_step(self.current, inputs, labels)
        return loss, accuracy, extras

    def evaluate(self, inputs: Any, labels: Any, mask: Any) -> StepOutput:
        """Loss, accuracy and metric means over the examples ``mask`` marks, without training."""
        state = self.current
        return self.eval_step(state.params, state.model_state, inputs, labels, mask)

    # -- traced inside the compiled steps ----------------------------------------

    def _loss(
        self,
        params: Params,
        model_state: Params,
        x: jax.Array,
        y: jax.Array,
        key: jax.Array | None,
        train: bool,
    ) -> tuple[jax.Array, tuple[jax.Array, Params]]:
        logits, new_state = self.adapter.apply(
            params, model_state, x.astype(self.dtype), train=train, key=key
        )
        logits = logits.astype(jnp.float32)
        losses = _per_example("loss", self.loss_function(logits, y), y)
        return losses, (logits, new_state)

    def _metric_values(self, logits: jax.Array, y: jax.Array) -> dict[str, jax.Array]:
        """Each extra metric's value per example, as float32."""
        return {
            name: _per_example(f"metric {name!r}", metric(logits, y), y).astype(jnp.float32)
            for name, metric in self.metrics.items()
        }

    def _step(
        self, state: TrainState, x: jax.Array, y: jax.Array
    ) -> tuple[TrainState, jax.Array, jax.Array, dict[str, jax.Array]]:
        key = jax.random.fold_in(state.key, state.step)

        def mean_loss(params: Params) -> tuple[jax.Array, tuple[jax.Array, Params]]:
            losses, aux = self._loss(params, state.model_state, x, y, key, True)
            return losses.mean(), aux

        (loss, (logits, model_state)), grads = jax.value_and_grad(mean_loss, has_aux=True)(state.params)
        updates, opt_state = self.optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        accuracy = (jnp.argmax(logits, axis=-1) == y).mean(dtype=jnp.float32)
        extras = {name: values.mean() for name, values in self._metric_values(logits, y).items()}
        return TrainState(params, model_state, opt_state, state.key, state.step + 1), loss, accuracy, extras

    def _evaluate(
        self, params: Params, model_state: Params, x: jax.Array, y: jax.Array, mask: jax.Array
    ) -> StepOutput:
        losses, (logits, _) = self._loss(params, model_state, x, y, None, False)
        weight = mask.astype(jnp.float32)
        count = jnp.maximum(weight.sum(), 1.0)
        correct = (jnp.argmax(logits, axis=-1) == y).astype(jnp.float32)
        extras = {name: (v * weight).sum() / count for name, v in self._metric_values(logits, y).items()}
        return (losses * weight).sum() / count, (correct * weight).sum() / count, extras


__all__ = [
    "LossFunction",
    "MetricFunction",
    "StepOutput",
    "StepResult",
    "TrainState",
    "TrainingSteps",
    "checked_loss",
    "checked_metrics",
    "cross_entropy",
]
