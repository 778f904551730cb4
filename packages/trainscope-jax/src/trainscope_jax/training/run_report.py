"""What a trainer tells its run's session: the config, the environment and the step's FLOPs.

Owns the reported hyper-parameters (``run_config``), the platform, devices and versions
(``environment``) and ``StepFlops``: one training step's FLOPs, measured from XLA's cost
analysis once per trainer and handed to each ``fit``'s session.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import jax

from trainscope import TrainingSession, step_flops
from trainscope_jax.devices.probe import distribution_version
from trainscope_jax.devices.selection import DeviceChoice
from trainscope_jax.training.config import TrainerConfig
from trainscope_jax.training.optimizers import is_transformation
from trainscope_jax.training.sharding import DataParallel
from trainscope_jax.training.steps import LossFunction, MetricFunction, TrainingSteps, cross_entropy


def run_config(
    config: TrainerConfig, loss: LossFunction, metrics: Mapping[str, MetricFunction]
) -> dict[str, Any]:
    """The hyper-parameters reported to the session."""
    reported = asdict(config)
    reported.pop("refresh_interval")
    reported.pop("prefetch_thread")
    if is_transformation(config.optimizer):  # it holds its own hyper-parameters
        for name in ("learning_rate", "weight_decay", "momentum"):
            reported.pop(name)
        reported["optimizer"] = "optax.GradientTransformation"
    if loss is not cross_entropy:
        reported["loss"] = _name_of(loss)
    if metrics:
        reported["metrics"] = list(metrics)
    return reported


def environment(choice: DeviceChoice, parallel: DataParallel, framework: str) -> dict[str, Any]:
    """Platform, devices and versions reported to the session.

    ``devices`` names every device the batch is split across (``cpu:0``, ...), across
    all processes; ``device_count`` and ``process_count`` count them.
    """
    env: dict[str, Any] = {
        "platform": choice.kind,
        "device": choice.device,
        "device_reason": choice.reason,
        "devices": parallel.describe(),
        "device_count": parallel.size,
        "process_count": parallel.process_count,
        "jax": jax.__version__,
        "jaxlib": distribution_version("jaxlib"),
        "optax": distribution_version("optax"),
        "trainscope_jax": distribution_version("trainscope-jax"),
    }
    if framework != "trainscope":
        package = framework.split(".")[0]
        env["framework"] = framework
        env[package] = distribution_version(package)
    if choice.fallback_from:
        env["fallback_from"] = choice.fallback_from
    return env


class StepFlops:
    """One training step's FLOPs, measured at the first step of the first ``fit`` and kept."""

    def __init__(self) -> None:
        self.measured = False
        self.flops: float | None = None
        """None until measured, or when the backend's cost analysis reports none."""

    def hand_to(
        self, session: TrainingSession, steps: TrainingSteps, config: TrainerConfig, inputs: Any, labels: Any
    ) -> None:
        """Hand ``session`` the FLOPs of one step of ``steps`` on this batch, measured once.

        Lowering the step compiles it (the compilation is reused by the first call); a
        backend whose cost analysis reports no FLOPs gets none, never a guess. XLA analyses
        the partitioned program one device runs: the step's FLOPs are that times the
        number of devices the batch is split across (``step_flops`` does this; the replicated
        optimizer update counted on each), and MFU divides by the peak of all of them.
        """
        if not self.measured:
            self.measured = True
            try:
                self.flops = step_flops(steps.train_step, steps.current, inputs, labels)
            except (ValueError, TypeError, NotImplementedError, RuntimeError):
                self.flops = None
        if self.flops is not None:
            session.set_step_flops(
                self.flops,
                dtype=config.dtype,
                devices=steps.parallel.size,
                device_kind=steps.device.device_kind,
                batch_size=config.batch_size,
            )


def _name_of(function: Any) -> str:
    return str(getattr(function, "__qualname__", None) or type(function).__name__)


__all__ = ["StepFlops", "environment", "run_config"]
