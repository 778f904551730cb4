"""``ModelTrainer``: a model's state on the devices, its steps batch by batch, its spec, and ``fit``.

The model is any that ``trainscope_jax.training.adapters`` turns into pure
functions: trainscope's ``Sequential``, a Flax NNX or Linen module, an Equinox module.
Training is data parallel over every local device by default (``sharding``), and over
every process's devices when ``jax.distributed`` is initialized. The parts live by
concern: the config and its checks (``config``), the jitted steps (``steps``), input
checks (``inputs``), the fit loop (``fit``) and what the session is told (``run_report``).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from types import TracebackType
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from trainscope import ModelSpec, PluginManager, ResumeError, ResumePoint, TrainingSession
from trainscope_jax.devices.selection import DeviceChoice, select_device
from trainscope_jax.models.sequential import Params
from trainscope_jax.models.specs import with_parameters_cast
from trainscope_jax.training.adapters import ModelAdapter, adapt
from trainscope_jax.training.checkpoints import Checkpoints
from trainscope_jax.training.config import TrainerConfig, check_dtype, check_parallel
from trainscope_jax.training.fit import FitData, FitHistory, fit_epochs
from trainscope_jax.training.inputs import DataArg, InputCheck
from trainscope_jax.training.optimizers import make_optimizer
from trainscope_jax.training.run_report import StepFlops, environment, run_config
from trainscope_jax.training.sharding import DataParallel, data_parallel
from trainscope_jax.training.steps import (
    LossFunction,
    MetricFunction,
    StepResult,
    TrainingSteps,
    TrainState,
    checked_loss,
    checked_metrics,
)


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
        self._loss_function: LossFunction = checked_loss(loss)
        self._metrics: dict[str, MetricFunction] = checked_metrics(metrics)
        self._adapter: ModelAdapter = adapt(model, variables=variables, input_shape=input_shape)
        self.device_choice: DeviceChoice = select_device(self.config.platform)
        check_dtype(self.device_choice, self.config.dtype)
        self.parallel: DataParallel = data_parallel(self.config.devices)
        check_parallel(self.parallel, self.config.batch_size)
        self.device = self.parallel.local_devices[0]
        self.dtype = jnp.dtype(self.config.dtype)
        self.optimizer = make_optimizer(
            self.config.optimizer,
            self.config.learning_rate,
            weight_decay=self.config.weight_decay,
            momentum=self.config.momentum,
        )
        self._steps = TrainingSteps(
            self._adapter,
            self.parallel,
            self.optimizer,
            dtype=self.dtype,
            seed=self.config.seed,
            loss=self._loss_function,
            metrics=self._metrics,
        )
        self._inputs = InputCheck(self._steps)
        self._flops = StepFlops()

    # -- state -----------------------------------------------------------------

    @property
    def state(self) -> TrainState:
        """The current parameters, model state, optimizer state, key and step count."""
        return self._steps.current

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

    # -- batches ---------------------------------------------------------------

    def train_batch(self, inputs: Any, labels: Any) -> StepResult:
        """One optimisation step on a channels-first batch; returns without waiting for the device.

        With several processes, each passes its own rows of the global batch.
        """
        self._inputs.batch(inputs, labels)
        inputs, labels = self._global(inputs, labels)
        return StepResult(*self._steps.train(inputs, labels))

    def evaluate_batch(self, inputs: Any, labels: Any, mask: Any = None) -> StepResult:
        """Loss and accuracy without training; ``mask`` marks the real examples of a padded batch."""
        self._inputs.batch(inputs, labels)
        if mask is None:
            mask = np.ones(len(labels), dtype=np.bool_)
        inputs, labels, mask = self._global(inputs, labels, mask)
        return StepResult(*self._steps.evaluate(inputs, labels, mask))

    def _global(self, *arrays: Any) -> tuple[Any, ...]:
        """Arrays as the compiled steps take them: global arrays from this process's rows."""
        return self.parallel.global_batch(arrays) if self.parallel.multi_process else arrays

    def predict(self, inputs: Any) -> jax.Array:
        """Class probabilities for a channels-first batch (on this process's first device)."""
        state = self.parallel.local_copy(self.state)
        inputs = jax.device_put(jnp.asarray(inputs, self.dtype), self.device)
        self._inputs.batch(inputs, None)
        logits, _ = self._adapter.apply(state.params, state.model_state, inputs, train=False, key=None)
        return jax.nn.softmax(logits.astype(jnp.float32), axis=-1)

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
        return run_config(self.config, self._loss_function, self._metrics)

    def environment(self) -> dict[str, Any]:
        """Platform, devices and versions reported to the session.

        ``devices`` names every device the batch is split across (``cpu:0``, ...), across
        all processes; ``device_count`` and ``process_count`` count them.
        """
        return environment(self.device_choice, self.parallel, self._adapter.framework)

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
        stop_on_nan: bool = False,
        resume: str | os.PathLike[str] | None = None,
        resume_at: int | None = None,
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
            stop_on_nan=stop_on_nan,
            resume=resume,
            resume_at=resume_at,
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
        max_steps: int | None = None,
        stop_on_nan: bool = False,
        checkpoints: str | os.PathLike[str] | None = None,
        resume: str | os.PathLike[str] | None = None,
        resume_at: int | None = None,
    ) -> FitHistory:
        """Train for ``epochs``, validating after each, reporting every step to the enabled reporters.

        ``train``/``validation``: a data set (``ArrayDataset``, ``ImageFolder``, ...)
        or an ``(images, labels)`` pair of arrays. ``max_steps``: train at most this many
        steps in all (a quick check of a set-up): the epochs stop there, each still validated.
        ``stop_on_nan``: end the run as failed at the first NaN or infinity in a metric
        (:class:`trainscope.MetricAlertError`) instead of training on after the alert.

        ``checkpoints``: a folder where the trainer's state is saved at each epoch end
        (``FOLDER/RUN_ID/epoch-N.npz``, the newest two kept). ``resume``: the log or run id of a
        run that ended interrupted or failed (see :class:`trainscope.TrainingSession`): the state
        of the epoch its log ended last is restored from ``checkpoints`` and the run goes on with
        the next epoch, in the same log; ``resume_at``: go on after that earlier epoch instead. The
        history holds the epochs this call trained.
        """
        train_set = self._inputs.dataset(train, "training")
        val_set = None if validation is None else self._inputs.dataset(validation, "validation")
        data = FitData(train_set, val_set, self.config, self.parallel, max_steps=max_steps)
        epochs = data.epochs_within(epochs)
        session = self.create_training_session(
            name,
            epochs,
            data.train_steps,
            data.validation_steps,
            plugins=plugins,
            disable=disable,
            plugin_manager=plugin_manager,
            strict=strict,
            stop_on_nan=stop_on_nan,
            resume=resume,
            resume_at=resume_at,
        )
        saved = None if checkpoints is None else Checkpoints(checkpoints, session.run.run_id)
        start = self._restore(session.run.resumed, saved)
        save = None if saved is None else partial(self._save, saved)
        return fit_epochs(
            session,
            self._steps,
            data,
            epochs,
            flops=self._flops,
            on_end=self._after_fit,
            start=start,
            checkpoint=save,
        )

    def _save(self, saved: Checkpoints, epoch: int) -> None:
        saved.save(epoch, self._steps.current, self.parallel)

    def _restore(self, point: ResumePoint | None, saved: Checkpoints | None) -> int:
        """The first epoch of a fit: 1, or after the point of a resumed run, whose state is restored."""
        if point is None or not point.epoch:
            return 1  # nothing trained yet: the fresh state, from the same seed
        if saved is None:
            raise ResumeError(
                f"fit(resume=...) goes on from the trainer's state after epoch {point.epoch}: give "
                "checkpoints=FOLDER, the folder the run saved its checkpoints in"
            )
        self._steps.load(saved.restore(point, self._steps.current))
        return point.epoch + 1

    def _after_fit(self) -> None:
        if self._adapter.framework == "flax.nnx" and self._steps.state is not None:
            self.trained_model()  # an NNX module is stateful: it holds the trained weights after fit

    # -- lifetime --------------------------------------------------------------

    def cleanup(self) -> None:
        """Free the device buffers of the parameters and optimizer state; the trainer is unusable after."""
        state, self._steps.state = self._steps.state, None
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


__all__ = ["ModelTrainer"]
