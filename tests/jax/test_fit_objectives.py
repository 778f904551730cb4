"""``fit`` with a loss, extra metrics and an optax transformation of the caller's own.

The page's example (label smoothing, top-3 accuracy, a clipped AdamW) runs as written; its
figures are then checked against the same quantities computed from the trained model.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from trainscope import PhaseInfo, hookimpl
from trainscope_jax import ModelTrainer, StepResult, TrainerConfig, create_model, cross_entropy, load_digits

PAGE = Path(__file__).resolve().parents[2] / "docs" / "jax" / "training.md"
SECTION = "### Your own loss and metrics"


@pytest.fixture(autouse=True)
def _no_reporters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAINSCOPE_PLUGINS", "")


@cache
def page_example() -> dict[str, Any]:
    text = PAGE.read_text(encoding="utf-8")
    section = text[text.index(SECTION) :]
    (code,) = re.findall(r"```python\n(.*?)```", section.split("\n## ", 1)[0], flags=re.DOTALL)
    namespace: dict[str, Any] = {}
    exec(compile(code, str(PAGE), "exec"), namespace)
    return namespace


def test_the_page_example_trains_with_label_smoothing_and_reports_top3_accuracy() -> None:
    example = page_example()
    last = example["history"].last
    validation = example["validation"]
    probabilities = np.asarray(example["probabilities"])
    labels = validation.labels
    # the validation loss is the smoothed cross-entropy of the trained model, over every example
    targets = optax.smooth_labels(jax.nn.one_hot(labels, 10), alpha=0.1)
    smoothed = float(-(targets * np.log(probabilities)).sum(axis=-1).mean())
    assert last.validation_loss == pytest.approx(smoothed, rel=1e-4)
    plain = float(cross_entropy(jnp.log(probabilities), labels).mean())
    assert last.validation_loss > plain  # label smoothing's floor: not the plain loss
    top3 = float((np.argsort(probabilities, axis=-1)[:, -3:] == labels[:, None]).any(axis=-1).mean())
    assert last.validation_metrics["top3_accuracy"] == pytest.approx(top3, abs=1 / 360 + 1e-9)
    assert last.validation_metrics["top3_accuracy"] >= last.validation_accuracy
    assert set(last.train_metrics) == {"loss", "accuracy", "top3_accuracy"}
    assert last.validation_accuracy > 0.8


def test_the_page_example_records_its_own_optimizer_loss_and_metrics() -> None:
    example = page_example()
    trainer = example["trainer"]
    config = trainer.run_config()
    assert config["optimizer"] == "optax.GradientTransformation"
    assert "learning_rate" not in config
    assert config["loss"] == "smoothed_cross_entropy"
    assert config["metrics"] == ["top3_accuracy"]


class Steps:
    def __init__(self) -> None:
        self.metrics: list[dict[str, float]] = []

    @hookimpl
    def trainscope_phase_end(self, phase: PhaseInfo) -> None:
        self.metrics.append(dict(phase.metrics))


def small_data() -> tuple[Any, Any]:
    train, validation = load_digits()
    return (train.images[:256], train.labels[:256]), (validation.images[:100], validation.labels[:100])


def test_extra_metrics_reach_the_reporters_and_the_step_results() -> None:
    train, validation = small_data()
    model = create_model("mlp", (1, 8, 8), 10)
    margin = {"margin": lambda logits, labels: logits.max(axis=-1) - logits.mean(axis=-1)}
    steps = Steps()
    with ModelTrainer(model, TrainerConfig(platform="cpu", batch_size=32), metrics=margin) as trainer:
        trainer.fit(train, validation, 1, plugins=[steps])
        result = trainer.train_batch(*train)
        evaluated = trainer.evaluate_batch(*validation)
    assert [list(metrics) for metrics in steps.metrics] == [["loss", "accuracy", "margin"]] * 2
    assert isinstance(result, StepResult)
    loss, accuracy = result  # still the pair it always was
    assert float(loss) > 0
    assert 0 <= float(accuracy) <= 1
    assert float(result.metrics["margin"]) > 0
    assert set(evaluated.metrics) == {"margin"}


def test_an_optax_transformation_is_the_optimizer() -> None:
    train, _ = small_data()
    schedule = optax.linear_schedule(1e-2, 1e-3, 20)
    config = TrainerConfig(platform="cpu", batch_size=32, optimizer=optax.sgd(schedule, momentum=0.9))
    with ModelTrainer(create_model("mlp", (1, 8, 8), 10), config) as trainer:
        history = trainer.fit(train, epochs=2)
    assert history.last.train_loss < history.epochs[0].train_loss


def test_the_default_loss_is_the_cross_entropy_it_always_was() -> None:
    train, _ = small_data()
    losses = []
    for loss in (None, cross_entropy):
        config = TrainerConfig(platform="cpu", batch_size=32)
        with ModelTrainer(create_model("mlp", (1, 8, 8), 10), config, loss=loss) as trainer:
            losses.append([float(trainer.train_batch(*train).loss) for _ in range(3)])
    assert losses[0] == losses[1]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"loss": "ce"}, TypeError, "loss must be a function of"),
        ({"metrics": [len]}, TypeError, "metrics must map names to functions"),
        ({"metrics": {"accuracy": len}}, ValueError, "metric name 'accuracy' is taken"),
        ({"metrics": {"top3": 3}}, TypeError, "metric 'top3' must be a function"),
    ],
)
def test_bad_losses_and_metrics_are_refused_at_once(
    kwargs: dict[str, Any], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        ModelTrainer(create_model("mlp", (1, 8, 8), 10), TrainerConfig(platform="cpu"), **kwargs)


def test_a_loss_that_returns_its_mean_is_refused_with_the_fix() -> None:
    train, _ = small_data()

    def mean_loss(logits: jax.Array, labels: jax.Array) -> jax.Array:
        return cross_entropy(logits, labels).mean()

    config = TrainerConfig(platform="cpu", batch_size=32)
    model = create_model("mlp", (1, 8, 8), 10)
    message = r"the loss must give one value per example, shape \(256,\), got shape \(\)"
    with ModelTrainer(model, config, loss=mean_loss) as trainer, pytest.raises(TypeError, match=message):
        trainer.train_batch(*train)


def test_an_optimizer_that_is_neither_a_name_nor_a_transformation_is_refused() -> None:
    with pytest.raises(TypeError, match=r"optimizer must be a name .* or an optax GradientTransformation"):
        TrainerConfig(optimizer=42)
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        TrainerConfig(optimizer="rmsprop")
