"""A scripted run that shows every enabled reporter without training anything."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterable

from trainscope.session import TrainingSession
from trainscope.spec import LayerSpec, ModelSpec


def demo_model() -> ModelSpec:
    """A small convolutional network's spec (as a framework would fill it in)."""
    return ModelSpec(
        "DemoCNN",
        input_shape=(1, 8, 8),
        layers=[
            LayerSpec(
                "conv1",
                "Conv2d",
                "1, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=true",
                params=160,
                output_shape=(16, 8, 8),
            ),
            LayerSpec("relu1", "ReLU", output_shape=(16, 8, 8)),
            LayerSpec("flatten", "Flatten", "start_dim=1, end_dim=-1", output_shape=(1024,)),
            LayerSpec(
                "fc1",
                "Linear",
                "in_features=1024, out_features=10, bias=true",
                params=10_250,
                output_shape=(10,),
            ),
        ],
    )


def run_demo(
    *,
    epochs: int = 3,
    steps: int = 60,
    validation_steps: int = 15,
    step_seconds: float = 0.02,
    disable: Iterable[str] = (),
    seed: int = 0,
) -> None:
    """Report a run with made-up, improving metrics (about ``step_seconds`` per step)."""
    rng = random.Random(seed)
    with TrainingSession(
        "DemoCNN",
        epochs,
        steps,
        validation_steps,
        model=demo_model(),
        disable=disable,
        config={"demo": True, "steps": steps},
    ) as session:
        for epoch in range(1, epochs + 1):
            session.start_epoch(epoch)
            for step in range(1, steps + 1):
                progress = (epoch - 1 + step / steps) / epochs
                loss = 2.3 * math.exp(-3 * progress) + rng.uniform(0, 0.05)
                accuracy = min(1.0, 0.1 + 0.85 * progress + rng.uniform(-0.02, 0.02))
                session.update_training_progress(step, loss, accuracy)
                time.sleep(step_seconds)
            session.start_validation()
            for step in range(1, validation_steps + 1):
                session.update_validation_progress(step, loss * 1.05, accuracy * 0.98)
                time.sleep(step_seconds / 2)
            session.finish_validation_epoch()
            session.print_epoch_summary()
