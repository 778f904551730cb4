"""ModelTrainer: steps, fit driving a TrainingSession, validation, cleanup."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
import pytest
from numpy.typing import NDArray

from trainscope import EpochSummary, PhaseInfo, RunInfo, StepRecord, hookimpl
from trainscope_jax import (
    ArrayDataset,
    DataError,
    Linear,
    ModelTrainer,
    Sequential,
    TrainerConfig,
    create_model,
    load_digits,
    synthetic_dataset,
)


class Recorder:
    """Appends every hook call."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.run: RunInfo | None = None
        self.status: str | None = None

    @hookimpl
    def trainscope_train_start(self, run: RunInfo) -> None:
        self.run = run
        self.events.append(("train_start",))

    @hookimpl
    def trainscope_epoch_start(self, epoch: int) -> None:
        self.events.append(("epoch_start", epoch))

    @hookimpl
    def trainscope_phase_start(self, phase: PhaseInfo) -> None:
        self.events.append(("phase_start", phase.name))

    @hookimpl
    def trainscope_progress(self, phase: PhaseInfo, records: Sequence[StepRecord]) -> None:
        self.events.extend(("step", phase.name, r.step) for r in records)

    @hookimpl
    def trainscope_phase_end(self, phase: PhaseInfo) -> None:
        self.events.append(("phase_end", phase.name, dict(phase.metrics)))

    @hookimpl
    def trainscope_epoch_end(self, epoch: int, summary: EpochSummary) -> None:
        self.events.append(("epoch_end", epoch))

    @hookimpl
    def trainscope_train_end(self, status: str) -> None:
        self.status = status
        self.events.append(("train_end", status))


def tiny_data(n: int = 24, seed: int = 0) -> ArrayDataset:
    return synthetic_dataset(n, (1, 4, 4), 3, seed=seed, noise=0.1)


def tiny_trainer(**config: Any) -> ModelTrainer:
    return ModelTrainer(create_model("mlp", (1, 4, 4), 3), TrainerConfig(platform="cpu", **config))


def test_train_batch_keeps_results_on_the_device_and_learns() -> None:
    data = tiny_data()
    x, y = data.images[:8], data.labels[:8]
    with tiny_trainer(learning_rate=1e-2) as trainer:
        first = trainer.train_batch(x, y)
        assert isinstance(first.loss, jax.Array)
        assert isinstance(first.accuracy, jax.Array)
        old_weight = trainer.params["fc1"]["weight"]
        for _ in range(20):
            last = trainer.train_batch(x, y)
        assert old_weight.is_deleted()  # the state buffers were donated to the step
        assert float(last.loss) < float(first.loss)
        assert float(last.accuracy) == 1.0


def test_fit_drives_the_session_in_order() -> None:
    recorder = Recorder()
    with tiny_trainer(batch_size=8) as trainer:
        history = trainer.fit(tiny_data(24), tiny_data(10, seed=1), epochs=2, plugins=[recorder])
    names = [e[0] if e[0] != "step" else f"step:{e[1]}:{e[2]}" for e in recorder.events]
    epoch = [
        "epoch_start", "phase_start", "step:train:1", "step:train:2", "step:train:3", "phase_end",
        "phase_start", "step:validation:1", "step:validation:2", "phase_end", "epoch_end",
    ]  # fmt: skip
    assert names == ["train_start", *epoch, *epoch, "train_end"]
    assert recorder.status == "completed"
    run = recorder.run
    assert run is not None
    assert (run.epochs, run.steps_per_epoch, run.validation_steps) == (2, 3, 2)
    assert run.model is not None
    assert run.model.name == "MLP"
    assert run.model.total_params > 0
    assert run.config["batch_size"] == 8
    assert run.config["optimizer"] == "adam"
    assert run.environment["platform"] == "cpu"
    assert run.environment["jax"] == jax.__version__
    assert [e.epoch for e in history.epochs] == [1, 2]
    train_end = [e for e in recorder.events if e[0] == "phase_end" and e[1] == "train"][-1]
    assert train_end[2]["loss"] == history.last.train_loss  # the history is the session's means, exactly


def test_validation_accuracy_is_exact_with_a_partial_last_batch() -> None:
    train, validation = tiny_data(24), tiny_data(10, seed=1)
    with tiny_trainer(batch_size=4) as trainer:
        history = trainer.fit(train, validation, epochs=1, plugins=[])
        predicted = np.asarray(trainer.predict(validation.images)).argmax(-1)
        expected = float((predicted == validation.labels).mean())
        # batches of 4, 3, 3: weighted by their examples (a mean of the 3 batch means would be 0.78),
        # up to the float32 rounding of each batch's fraction
        assert history.last.validation_accuracy == pytest.approx(expected, abs=1e-6)
        full = trainer.evaluate_batch(validation.images, validation.labels)
        assert history.last.validation_loss == pytest.approx(float(full.loss), rel=1e-5)
        mask = np.array([True] * 7 + [False] * 3)
        masked = trainer.evaluate_batch(validation.images, validation.labels, mask)
        part = trainer.evaluate_batch(validation.images[:7], validation.labels[:7])
        assert float(masked.accuracy) == pytest.approx(float(part.accuracy))
        assert float(masked.loss) == pytest.approx(float(part.loss), rel=1e-5)


def test_fit_on_digits_improves_validation_accuracy() -> None:
    train, validation = load_digits()
    model = create_model("digits-cnn", train.input_shape, train.num_classes)
    with ModelTrainer(model, TrainerConfig(batch_size=64, learning_rate=3e-3, platform="cpu")) as trainer:
        before = trainer.evaluate_batch(validation.images, validation.labels)
        history = trainer.fit(train, validation, epochs=2, plugins=[])
    assert history.last.validation_accuracy is not None
    assert history.last.validation_accuracy > 0.85 > float(before.accuracy)


class SlowDataset:
    """A data set not in memory, failing at one index."""

    in_memory = False

    def __init__(self, data: ArrayDataset, fail_at: int | None = None) -> None:
        self.data, self.fail_at = data, fail_at
        self.input_shape, self.num_classes, self.class_names = (
            data.input_shape,
            data.num_classes,
            data.class_names,
        )

    def __len__(self) -> int:
        return len(self.data)

    def get_batch(self, indices: NDArray[np.intp]) -> tuple[NDArray[np.float32], NDArray[np.int32]]:
        if self.fail_at is not None and self.fail_at in indices:
            raise DataError("cannot read image 'x.png'")
        return self.data.get_batch(indices)


@pytest.mark.parametrize("thread", [True, False])
def test_fit_reads_data_sets_not_in_memory_on_a_thread_or_inline(thread: bool) -> None:
    recorder = Recorder()
    with tiny_trainer(batch_size=8, shuffle=False, prefetch_thread=thread) as trainer:
        history = trainer.fit(SlowDataset(tiny_data()), SlowDataset(tiny_data(10)), plugins=[recorder])
        assert history.last.validation_accuracy is not None
        with pytest.raises(DataError, match=r"x\.png"):
            trainer.fit(SlowDataset(tiny_data(), fail_at=20), plugins=[recorder])
    assert recorder.status == "failed"


def test_keyboard_interrupt_ends_the_run_as_interrupted() -> None:
    class Interrupter(Recorder):
        @hookimpl
        def trainscope_epoch_end(self, epoch: int, summary: EpochSummary) -> None:
            raise KeyboardInterrupt

    recorder = Interrupter()
    with tiny_trainer(batch_size=8) as trainer, pytest.raises(KeyboardInterrupt):
        trainer.fit(tiny_data(), epochs=3, plugins=[recorder])
    assert recorder.status == "interrupted"


def test_data_that_does_not_fit_the_model_is_refused() -> None:
    with tiny_trainer() as trainer:
        with pytest.raises(DataError, match=r"images have shape \(1, 5, 5\) but the model takes \(1, 4, 4\)"):
            trainer.fit(synthetic_dataset(40, (1, 5, 5), 3), plugins=[])
        with pytest.raises(DataError, match="has 5 classes but the model has 3 outputs"):
            trainer.fit(synthetic_dataset(40, (1, 4, 4), 5), plugins=[])
        with pytest.raises(ValueError, match=r"labels must be class indices 0\.\.2"):
            trainer.train_batch(np.zeros((2, 1, 4, 4), np.float32), np.array([0, 7]))


def test_config_session_spec_and_cleanup() -> None:
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        TrainerConfig(optimizer="rmsprop")
    with pytest.raises(ValueError, match="batch_size"):
        TrainerConfig(batch_size=0)
    for optimizer in ("sgd", "adamw"):
        with tiny_trainer(optimizer=optimizer) as trainer:
            data = tiny_data()
            assert np.isfinite(float(trainer.train_batch(data.images[:4], data.labels[:4]).loss))
    trainer = tiny_trainer()
    session = trainer.create_training_session("Tiny", 3, 10, 2, plugins=[])
    assert (session.run.name, session.run.epochs, session.run.steps_per_epoch) == ("Tiny", 3, 10)
    assert session.run.model == trainer.model_spec("Tiny")
    trainer.cleanup()
    with pytest.raises(RuntimeError, match="cleaned up"):
        trainer.train_batch(np.zeros((2, 1, 4, 4), np.float32), np.array([0, 1]))


def test_print_model_architecture(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("trainscope_arch")
    model = Sequential([("fc", Linear(4, 2))], input_shape=(4,), name="Tiny")
    with ModelTrainer(model, TrainerConfig(platform="cpu")) as trainer:
        trainer.print_model_architecture()
    out = capsys.readouterr().out
    assert "(fc): Linear(in_features=4, out_features=2, bias=true)" in out


def test_every_fit_of_a_trainer_reports_the_flops_of_its_steps() -> None:
    class Throughputs:
        def __init__(self) -> None:
            self.figures: list[Any] = []

        @hookimpl
        def trainscope_epoch_end(self, summary: EpochSummary) -> None:
            self.figures.append(summary.throughput)

    data = synthetic_dataset(64, (1, 8, 8), 10, seed=0)
    with ModelTrainer(create_model("mlp", (1, 8, 8), 10), TrainerConfig(batch_size=32)) as trainer:
        runs = [Throughputs(), Throughputs()]
        for run in runs:
            trainer.fit(data, None, 1, plugins=[run])
    for run in runs:
        (throughput,) = run.figures
        assert throughput.flops_per_second is not None
        assert throughput.flops_per_second > 0
