"""``ModelTrainer``: one jit-compiled step, prefetching, and a ``TrainingSession`` per fit.

The model is any that ``trainscope_jax.training.adapters`` turns into pure
functions: trainscope's ``Sequential``, a Flax NNX or Linen module, an Equinox module.
Training is data parallel over every local device by default (``sharding``), and over
every process's devices when ``jax.distributed`` is initialized.
"""

from __future__ import annotations

import contextlib
import importlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from types import MappingProxyType, TracebackType
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from trainscope import (
    EpochSummary,
    ModelSpec,
    PluginManager,
    TrainingSession,
    hookimpl,
    step_flops,
)
from trainscope.metrics import check_metric_name
from trainscope_jax.data.datasets import ArrayDataset, DataError, Dataset
from trainscope_jax.devices.probe import distribution_version
from trainscope_jax.devices.selection import DeviceChoice, check_dtype_supported, select_device
from trainscope_jax.models.sequential import Params
from trainscope_jax.models.specs import with_parameters_cast
from trainscope_jax.training.adapters import ModelAdapter, adapt
from trainscope_jax.training.batching import BatchLoader, evaluation_batches, padded_batch, prefetch_to_device
from trainscope_jax.training.distributed import cpu_collectives
from trainscope_jax.training.optimizers import Optimizer, check_optimizer, is_transformation, make_optimizer
from trainscope_jax.training.peers import watch_peers
from trainscope_jax.training.sharding import DataParallel, data_parallel

_DTYPES = ("float32", "float64", "bfloat16", "float16")

LossFunction = Callable[[jax.Array, jax.Array], jax.Array]
"""``loss(logits, labels)``: one loss per example, shape ``(N,)`` (``fit`` and the steps take
the mean; a validation leaves out the padding). ``logits`` are float32, ``labels`` the integer
class indices of the batch. Traced inside the jitted step: use ``jax.numpy`` and optax."""
MetricFunction = Callable[[jax.Array, jax.Array], jax.Array]
"""``metric(logits, labels)``: one value per example, shape ``(N,)`` (a bool per example for a
top-k accuracy), averaged over the batch on the device, inside the jitted step."""


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """The default loss: softmax cross-entropy with integer labels, one per example."""
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels)


@dataclass(frozen=True)
class TrainerConfig:
    """Hyper-parameters and device of a :class:`ModelTrainer`.

    ``platform``: ``auto``, ``metal``, ``gpu`` or ``cpu`` (None reads ``TRAINSCOPE_PLATFORM``).
    ``optimizer``: ``adam``, ``adamw`` or ``sgd``, or any optax ``GradientTransformation``
    (which then holds its own learning rate; ``learning_rate``, ``weight_decay`` and
    ``momentum`` are for the names). ``weight_decay`` applies to ``adamw``, ``momentum`` to
    ``sgd``. ``batch_size`` is the global batch: split across the devices, so it must be a
    multiple of their number.
    """

    batch_size: int = 32
    learning_rate: float = 1e-3
    optimizer: Optimizer = "adam"
    weight_decay: float = 1e-4
    momentum: float = 0.9
    seed: int = 0
    platform: str | None = None
    dtype: str = "float32"
    shuffle: bool = True
    refresh_interval: float = 0.1
    prefetch_thread: bool | None = None
    """Read batches of data sets not in memory on a background thread; None: only off the CPU."""
    devices: int | None = None
    """Local devices to train on, data parallel (per process); None: every local device."""

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        check_optimizer(self.optimizer)
        if self.dtype not in _DTYPES:
            raise ValueError(f"unsupported dtype {self.dtype!r}; choose one of: {', '.join(_DTYPES)}")
        if self.devices is not None and self.devices < 1:
            raise ValueError(
                f"devices must be at least 1 (or None for every local device), got {self.devices}"
            )


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


@dataclass(frozen=True)
class EpochResult:
    """Exact means of one epoch (validation weighted by example, padding excluded)."""

    epoch: int
    train_loss: float
    train_accuracy: float
    validation_loss: float | None = None
    validation_accuracy: float | None = None
    train_metrics: dict[str, float] = field(default_factory=dict)
    """Every training mean of the epoch by name: loss, accuracy and the extra metrics."""
    validation_metrics: dict[str, float] | None = None
    """Every validation mean by name; None without validation."""


@dataclass
class FitHistory:
    """What :meth:`ModelTrainer.fit` returns: one :class:`EpochResult` per epoch."""

    epochs: list[EpochResult] = field(default_factory=list)

    @property
    def last(self) -> EpochResult:
        """The final epoch's results."""
        return self.epochs[-1]


DataArg = Dataset | tuple[Any, Any]


class ModelTrainer:
    """Trains a model with optax on the selected device.

    ``model``: a trainscope ``Sequential``, a Flax NNX module, a Flax Linen module or an
    Equinox module. ``input_shape``: one example's shape, channels-first as the data sets
    give it; needed only by a Linen module without ``variables`` (otherwise read from
    the data). ``variables``: a Linen module's variables, or an Equinox model's
    ``eqx.nn.State``.

    ``loss``: the loss of the steps, per example (default: softmax cross-entropy with integer
    labels); ``metrics``: extra metrics by name, each per example, computed on the device in
    the jitted steps and reported by ``fit`` next to ``loss`` and ``accuracy``. See
    :data:`LossFunction` and :data:`MetricFunction`.

    ``train_batch`` runs one jit-compiled step whose state buffers are donated
    (updated in place); it never waits for the device. ``fit`` reports every step
    to a ``TrainingSession``, which converts the values in batches.

    With several devices (``config.devices``, default all local ones) each batch is split
    across them and the parameters and optimizer state are replicated; with several
    processes (``jax.distributed``) each process reads only its rows of every batch, and
    the loss and accuracy are means over the global batch, on every process.
    """

    def __init__(
        self,
        model: Any,
        config: TrainerConfig | None = None,
        *,
        input_shape: Sequence[int] | None = None,
        variables: Any = None,
        loss: LossFunction | None = None,
        metrics: Mapping[str, MetricFunction] | None = None,
    ) -> None:
        self.model = model
        self.config = config or TrainerConfig()
        self._loss_function: LossFunction = _checked_loss(loss)
        self._metrics: dict[str, MetricFunction] = _checked_metrics(metrics)
        self._adapter: ModelAdapter = adapt(model, variables=variables, input_shape=input_shape)
        self.device_choice: DeviceChoice = select_device(self.config.platform)
        check_dtype_supported(self.device_choice, self.config.dtype)
        if self.config.dtype == "float64" and not jax.config.read("jax_enable_x64"):
            raise ValueError("dtype 'float64' needs 64-bit JAX: set JAX_ENABLE_X64=1 before starting Python")
        self.parallel: DataParallel = data_parallel(self.config.devices)
        self.parallel.check_batch_size(self.config.batch_size)
        self.device = self.parallel.local_devices[0]
        _check_cpu_collectives(self.parallel)
        # Copy batches ahead with device_put, except on the CPU: there the jitted step takes
        # NumPy arrays directly, and a separate device_put would only add Python overhead.
        # Several processes always build global arrays from their own rows.
        self._transfer = self.device.platform != "cpu" or self.parallel.multi_process
        self.dtype = jnp.dtype(self.config.dtype)
        self.optimizer = make_optimizer(
            self.config.optimizer,
            self.config.learning_rate,
            weight_decay=self.config.weight_decay,
            momentum=self.config.momentum,
        )
        init_key, step_key = jax.random.split(jax.random.key(self.config.seed))
        params, model_state = self._adapter.init(init_key)
        params = jax.tree.map(lambda a: a.astype(self.dtype), params)
        state = TrainState(
            params, model_state, self.optimizer.init(params), step_key, jnp.zeros((), jnp.int32)
        )
        parallel = self.parallel
        self._state: TrainState | None = (
            parallel.put_replicated(state) if parallel.sharded else jax.device_put(state, self.device)
        )
        replicated, split = parallel.replicated, parallel.batch
        self._train_step = jax.jit(
            self._step,
            donate_argnums=0,
            **_shardings(parallel, (replicated, split, split), (replicated,) * 4),
        )
        self._eval_step = jax.jit(
            self._evaluate,
            **_shardings(parallel, (replicated, replicated, split, split, split), (replicated,) * 3),
        )
        self._placement: jax.Device | jax.sharding.Sharding = split if parallel.sharded else self.device
        self._classes: int | None = None
        self._measured = False
        self._step_flops: float | None = None

    # -- the compiled functions ------------------------------------------------

    def _loss(
        self,
        params: Params,
        model_state: Params,
        x: jax.Array,
        y: jax.Array,
        key: jax.Array | None,
        train: bool,
    ) -> tuple[jax.Array, tuple[jax.Array, Params]]:
        logits, new_state = self._adapter.apply(
            params, model_state, x.astype(self.dtype), train=train, key=key
        )
        logits = logits.astype(jnp.float32)
        losses = _per_example("loss", self._loss_function(logits, y), y)
        return losses, (logits, new_state)

    def _metric_values(self, logits: jax.Array, y: jax.Array) -> dict[str, jax.Array]:
        """Each extra metric's value per example, as float32."""
        return {
            name: _per_example(f"metric {name!r}", metric(logits, y), y).astype(jnp.float32)
            for name, metric in self._metrics.items()
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
    ) -> tuple[jax.Array, jax.Array, dict[str, jax.Array]]:
        losses, (logits, _) = self._loss(params, model_state, x, y, None, False)
        weight = mask.astype(jnp.float32)
        count = jnp.maximum(weight.sum(), 1.0)
        correct = (jnp.argmax(logits, axis=-1) == y).astype(jnp.float32)
        extras = {name: (v * weight).sum() / count for name, v in self._metric_values(logits, y).items()}
        return (losses * weight).sum() / count, (correct * weight).sum() / count, extras

    # -- batches ---------------------------------------------------------------

    @property
    def state(self) -> TrainState:
        """The current parameters, model state, optimizer state, key and step count."""
        if self._state is None:
            raise RuntimeError("this ModelTrainer was cleaned up; create a new one")
        return self._state

    @property
    def params(self) -> Params:
        """The current trainable parameters."""
        return self.state.params

    @property
    def framework(self) -> str:
        """What the model is: ``trainscope``, ``flax.nnx``, ``flax.linen`` or ``equinox``."""
        return self._adapter.framework

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        """One example's shape, channels-first (None until given or read from the data)."""
        return self._adapter.input_shape

    def trained_model(self) -> Any:
        """The trained model in its framework's form, with copies of the current arrays.

        A Flax NNX module is updated in place (``fit`` does this at its end) and returned;
        a Linen module gives its variables dict, an Equinox module a new module (with its
        ``eqx.nn.State`` as a pair when it has one), a ``Sequential`` its ``Variables``.
        """
        state = self.parallel.local_copy(self.state)
        return self._adapter.trained(state.params, state.model_state)

    def train_batch(self, inputs: Any, labels: Any) -> StepResult:
        """One optimisation step on a channels-first batch; returns without waiting for the device.

        With several processes, each passes its own rows of the global batch.
        """
        self._check_batch(inputs, labels)
        inputs, labels = self._global(inputs, labels)
        self._state, loss, accuracy, extras = self._train_step(self.state, inputs, labels)
        return StepResult(loss, accuracy, extras)

    def evaluate_batch(self, inputs: Any, labels: Any, mask: Any = None) -> StepResult:
        """Loss and accuracy without training; ``mask`` marks the real examples of a padded batch."""
        self._check_batch(inputs, labels)
        if mask is None:
            mask = np.ones(len(labels), dtype=np.bool_)
        inputs, labels, mask = self._global(inputs, labels, mask)
        state = self.state
        loss, accuracy, extras = self._eval_step(state.params, state.model_state, inputs, labels, mask)
        return StepResult(loss, accuracy, extras)

    def _global(self, *arrays: Any) -> tuple[Any, ...]:
        """Arrays as the compiled steps take them: global arrays from this process's rows."""
        return self.parallel.global_batch(arrays) if self.parallel.multi_process else arrays

    def predict(self, inputs: Any) -> jax.Array:
        """Class probabilities for a channels-first batch (on this process's first device)."""
        state = self.parallel.local_copy(self.state)
        inputs = jax.device_put(jnp.asarray(inputs, self.dtype), self.device)
        self._check_batch(inputs, None)
        logits, _ = self._adapter.apply(state.params, state.model_state, inputs, train=False, key=None)
        return jax.nn.softmax(logits.astype(jnp.float32), axis=-1)

    def _expect_input(self, shape: tuple[int, ...], what: str) -> int:
        """The number of classes the model gives for inputs of ``shape`` per example.

        The first call checks that the model takes that shape and adopts it as the model's.
        """
        if self._classes is None:
            state = self.state
            try:
                out = self._adapter.output_shape(state.params, state.model_state, shape)
            except Exception as exc:  # any framework error: one line naming the shapes
                raise DataError(
                    f"the model cannot take {what} of shape {shape} per example (channels-first): "
                    f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                ) from exc
            if len(out) != 1:
                raise DataError(
                    f"the model's output has shape {out} per example; training needs one logit per class"
                )
            self._adapter.input_shape, self._classes = shape, out[0]
        return self._classes

    def _check_batch(self, inputs: Any, labels: Any) -> None:
        shape, expected = tuple(inputs.shape[1:]), self._adapter.input_shape
        if expected is not None and shape != expected:
            raise ValueError(f"inputs have shape {shape} per example but the model takes {expected}")
        classes = self._expect_input(shape, "inputs")
        if labels is None:
            return
        if isinstance(inputs, jax.Array) and not inputs.is_fully_addressable:
            self.parallel.check_batch_size(inputs.shape[0], "a batch of")
        else:
            self.parallel.check_batch_size(len(inputs) * self.parallel.process_count, "a batch of")
        if len(labels) != len(inputs):
            raise ValueError(f"{len(labels)} labels for {len(inputs)} inputs")
        if isinstance(labels, np.ndarray) and labels.size and (labels.min() < 0 or labels.max() >= classes):
            raise ValueError(
                f"labels must be class indices 0..{classes - 1}, got {labels.min()}..{labels.max()}"
            )

    # -- runs ------------------------------------------------------------------

    def model_spec(self, name: str | None = None) -> ModelSpec:
        """The model's ``ModelSpec`` (what the architecture printer prints)."""
        shape = self._adapter.input_shape
        if shape is None:
            raise ValueError(
                f"the input shape of {type(self.model).__name__} is not known yet: give "
                "ModelTrainer(model, config, input_shape=(C, H, W)), or train on data first"
            )
        spec = self._adapter.spec(name, shape)
        return with_parameters_cast(spec, self.dtype.itemsize)

    def print_model_architecture(self, name: str | None = None) -> None:
        """Print the PyTorch-style architecture (needs the ``trainscope-arch`` reporter installed)."""
        try:
            arch = importlib.import_module("trainscope_arch")
        except ImportError:
            raise ImportError(
                "printing the architecture needs trainscope-arch: pip install trainscope-arch"
            ) from None
        spec = self.model_spec(name)
        arch.ModelArchitecturePrinter(spec.name).print_architecture(spec)

    def run_config(self) -> dict[str, Any]:
        """The hyper-parameters reported to the session."""
        config = asdict(self.config)
        config.pop("refresh_interval")
        config.pop("prefetch_thread")
        if is_transformation(self.config.optimizer):  # it holds its own hyper-parameters
            for name in ("learning_rate", "weight_decay", "momentum"):
                config.pop(name)
            config["optimizer"] = "optax.GradientTransformation"
        if self._loss_function is not cross_entropy:
            config["loss"] = _name_of(self._loss_function)
        if self._metrics:
            config["metrics"] = list(self._metrics)
        return config

    def environment(self) -> dict[str, Any]:
        """Platform, devices and versions reported to the session.

        ``devices`` names every device the batch is split across (``cpu:0``, ...), across
        all processes; ``device_count`` and ``process_count`` count them.
        """
        choice = self.device_choice
        env: dict[str, Any] = {
            "platform": choice.kind,
            "device": choice.device,
            "device_reason": choice.reason,
            "devices": self.parallel.describe(),
            "device_count": self.parallel.size,
            "process_count": self.parallel.process_count,
            "jax": jax.__version__,
            "jaxlib": distribution_version("jaxlib"),
            "optax": distribution_version("optax"),
            "trainscope_jax": distribution_version("trainscope-jax"),
        }
        framework = self._adapter.framework
        if framework != "trainscope":
            package = framework.split(".")[0]
            env["framework"] = framework
            env[package] = distribution_version(package)
        if choice.fallback_from:
            env["fallback_from"] = choice.fallback_from
        return env

    def create_training_session(
        self,
        name: str | None,
        epochs: int,
        steps_per_epoch: int | None,
        validation_steps: int | None = None,
        *,
        plugins: Iterable[object] | None = None,
        disable: Iterable[str] = (),
        plugin_manager: PluginManager | None = None,
        strict: bool | None = None,
    ) -> TrainingSession:
        """A ``TrainingSession`` carrying this trainer's model spec, config and environment."""
        spec = self.model_spec(name)
        return TrainingSession(
            spec.name,
            epochs,
            steps_per_epoch,
            validation_steps,
            model=spec,
            plugins=plugins,
            disable=disable,
            plugin_manager=plugin_manager,
            strict=strict,
            refresh_interval=self.config.refresh_interval,
            config=self.run_config(),
            environment=self.environment(),
        )

    def fit(
        self,
        train: DataArg,
        validation: DataArg | None = None,
        epochs: int = 1,
        *,
        name: str | None = None,
        plugins: Iterable[object] | None = None,
        disable: Iterable[str] = (),
        plugin_manager: PluginManager | None = None,
        strict: bool | None = None,
    ) -> FitHistory:
        """Train for ``epochs``, validating after each, reporting every step to the enabled reporters.

        ``train``/``validation``: a data set (``ArrayDataset``, ``ImageFolder``, ...)
        or an ``(images, labels)`` pair of arrays.
        """
        train_set = self._dataset(train, "training")
        val_set = None if validation is None else self._dataset(validation, "validation")
        batch_size = self.config.batch_size
        loader = BatchLoader(
            train_set,
            batch_size,
            shuffle=self.config.shuffle,
            seed=self.config.seed,
            rows=self.parallel.rows(batch_size),
        )
        val_batches = [] if val_set is None else evaluation_batches(val_set, batch_size)
        session = self.create_training_session(
            name,
            epochs,
            len(loader),
            len(val_batches) if val_set is not None else None,
            plugins=plugins,
            disable=disable,
            plugin_manager=plugin_manager,
            strict=strict,
        )
        history = FitHistory()
        epochs_ended = _EpochSummaries()
        session.plugin_manager.register(epochs_ended, name=_EPOCH_SUMMARIES)
        watch = watch_peers(session)  # with several processes: one fails, all end, the log says so
        try:
            with session:
                for epoch in range(1, epochs + 1):
                    session.start_epoch(epoch)
                    self._train_epoch(session, loader, epoch, self._use_thread(train_set))
                    session.finish_training_epoch()
                    if val_set is not None:
                        session.start_validation()
                        self._validate(session, val_set, val_batches)
                        session.finish_validation_epoch()
                    session.print_epoch_summary()
                    history.epochs.append(_epoch_result(epoch, epochs_ended.summaries[-1]))
        finally:
            session.plugin_manager.pluggy.unregister(name=_EPOCH_SUMMARIES)
            session.plugin_manager.pluggy.unregister(watch)
            if self._adapter.framework == "flax.nnx" and self._state is not None:
                self.trained_model()  # an NNX module is stateful: it holds the trained weights after fit
        return history

    def _train_epoch(
        self, session: TrainingSession, loader: BatchLoader, epoch: int, background: bool
    ) -> None:
        batches = prefetch_to_device(
            loader.epoch(epoch), device=self._placement, background=background, transfer=self._transfer
        )
        batch_size = self.config.batch_size  # the global batch: every process's examples
        with contextlib.closing(batches):
            for step, (inputs, labels) in enumerate(batches, 1):
                if step == 1 and epoch == 1:  # every fit has a session of its own
                    self._measure_step(session, inputs, labels)
                self._state, loss, accuracy, extras = self._train_step(self.state, inputs, labels)
                session.update_training_progress(step, loss, accuracy, batch_size=batch_size, **extras)

    def _measure_step(self, session: TrainingSession, inputs: Any, labels: Any) -> None:
        """Hand the session the FLOPs of one training step, from XLA's cost analysis (measured
        once per trainer, handed to each ``fit``'s session).

        Lowering the step compiles it (the compilation is reused by the first call); a
        backend whose cost analysis reports no FLOPs gets none, never a guess. XLA analyses
        the partitioned program one device runs: the step's FLOPs are that times the
        number of devices the batch is split across (``step_flops`` does this; the replicated
        optimizer update counted on each), and MFU divides by the peak of all of them.
        """
        devices = self.parallel.size
        if not self._measured:
            self._measured = True
            try:
                self._step_flops = step_flops(self._train_step, self.state, inputs, labels)
            except (ValueError, TypeError, NotImplementedError, RuntimeError):
                self._step_flops = None
        if self._step_flops is not None:
            session.set_step_flops(
                self._step_flops,
                dtype=self.config.dtype,
                devices=devices,
                device_kind=self.device.device_kind,
                batch_size=self.config.batch_size,
            )

    def _validate(self, session: TrainingSession, dataset: Dataset, batches: Sequence[np.ndarray]) -> None:
        size = self.parallel.padded_size(len(batches[0]))  # one shape, split evenly across devices
        rows = self.parallel.rows(size)
        host = (padded_batch(dataset, indices, size, rows) for indices in batches)
        state = self.state
        device_batches = prefetch_to_device(
            host, device=self._placement, background=self._use_thread(dataset), transfer=self._transfer
        )
        with contextlib.closing(device_batches):
            for step, (inputs, labels, mask) in enumerate(device_batches, 1):
                params, model_state = state.params, state.model_state
                loss, accuracy, extras = self._eval_step(params, model_state, inputs, labels, mask)
                examples = len(batches[step - 1])
                session.update_validation_progress(step, loss, accuracy, batch_size=examples, **extras)

    def _use_thread(self, dataset: Dataset) -> bool:
        if dataset.in_memory:
            return False
        if self.config.prefetch_thread is None:
            return self._transfer  # on the CPU, async dispatch already overlaps inline reading
        return self.config.prefetch_thread

    def _dataset(self, data: DataArg, role: str) -> Dataset:
        dataset: Dataset = ArrayDataset(*data) if isinstance(data, tuple) else data
        if len(dataset) == 0:
            raise DataError(f"the {role} data is empty")
        expected = self._adapter.input_shape
        if expected is not None and tuple(dataset.input_shape) != expected:
            raise DataError(
                f"the {role} images have shape {tuple(dataset.input_shape)} but the model takes "
                f"{expected}: create the model for the data's shape, or resize the images"
            )
        classes = self._expect_input(tuple(dataset.input_shape), f"{role} images")
        if dataset.num_classes > classes:
            raise DataError(
                f"the {role} data has {dataset.num_classes} classes but the model has {classes} outputs: "
                "create the model with num_classes set to the data's number of classes"
            )
        return dataset

    # -- lifetime --------------------------------------------------------------

    def cleanup(self) -> None:
        """Free the device buffers of the parameters and optimizer state; the trainer is unusable after."""
        state, self._state = self._state, None
        if state is not None:
            for leaf in jax.tree_util.tree_leaves(state):
                if isinstance(leaf, jax.Array) and not leaf.is_deleted():
                    leaf.delete()

    def __enter__(self) -> ModelTrainer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.cleanup()


_EPOCH_SUMMARIES = "trainscope-jax-history"


class _EpochSummaries:
    """Every epoch's summary, from which ``fit`` builds its history (so the history, the epoch
    summary and the command's last line agree exactly). It runs on every process: each
    returns the same (global) history."""

    trainscope_all_processes = True

    def __init__(self) -> None:
        self.summaries: list[EpochSummary] = []

    @hookimpl
    def trainscope_epoch_end(self, summary: EpochSummary) -> None:
        self.summaries.append(summary)


def _shardings(parallel: DataParallel, inputs: tuple[Any, ...], outputs: tuple[Any, ...]) -> dict[str, Any]:
    """``jax.jit``'s sharding arguments for a step over several devices; none for one device."""
    if not parallel.sharded:
        return {}
    return {"in_shardings": inputs, "out_shardings": outputs}


def _check_cpu_collectives(parallel: DataParallel) -> None:
    """Refuse a multi-process CPU run without cross-process collectives (older JAX has none)."""
    if parallel.multi_process and parallel.devices[0].platform == "cpu" and cpu_collectives() is None:
        raise RuntimeError(
            "this JAX has no CPU collectives across processes: call "
            "trainscope_jax.initialize_distributed(...) instead of jax.distributed.initialize, or "
            "jax.config.update('jax_cpu_collectives_implementation', 'gloo') before it"
        )


def _epoch_result(epoch: int, summary: EpochSummary) -> EpochResult:
    """The epoch's means over examples, as the session computed them for the summary."""
    train = summary.train or {}
    loss, accuracy = train.get("loss", math.nan), train.get("accuracy", math.nan)
    validation = summary.validation
    if validation is None:
        return EpochResult(epoch, loss, accuracy, train_metrics=dict(train))
    return EpochResult(
        epoch,
        loss,
        accuracy,
        validation.get("loss", math.nan),
        validation.get("accuracy", math.nan),
        train_metrics=dict(train),
        validation_metrics=dict(validation),
    )


def _checked_loss(loss: LossFunction | None) -> LossFunction:
    if loss is None:
        return cross_entropy
    if not callable(loss):
        raise TypeError(f"loss must be a function of (logits, labels), got {type(loss).__name__}")
    return loss


def _checked_metrics(metrics: Mapping[str, MetricFunction] | None) -> dict[str, MetricFunction]:
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


def _name_of(function: Any) -> str:
    return str(getattr(function, "__qualname__", None) or type(function).__name__)


__all__ = [
    "EpochResult",
    "FitHistory",
    "LossFunction",
    "MetricFunction",
    "ModelTrainer",
    "StepResult",
    "TrainState",
    "TrainerConfig",
    "cross_entropy",
]
