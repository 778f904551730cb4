"""``fit`` resumes a run from its checkpoints: the state of the epoch the log ended last is
restored, the run goes on in the same log, and the result is the uninterrupted run's."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest

from trainscope import ResumeError, RunInfo, hookimpl
from trainscope import environment_variables as env_vars
from trainscope_jax import ModelTrainer, TrainerConfig, create_model, load_digits
from trainscope_jax.training.checkpoints import KEEP, Checkpoints
from trainscope_jsonl import read_summary

EPOCHS = 3


class StopAtEpoch:
    """Ctrl-C as epoch ``epoch`` starts."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    @hookimpl
    def trainscope_epoch_start(self, run: RunInfo, epoch: int) -> None:
        if epoch == self.epoch:
            raise KeyboardInterrupt


@pytest.fixture
def log_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(env_vars.TRAINSCOPE_LOG_DIR, str(tmp_path / "runs"))
    monkeypatch.setenv(env_vars.TRAINSCOPE_PLUGINS, "jsonl")
    return tmp_path / "runs"


def trainer() -> tuple[ModelTrainer, object, object]:
    train, validation = load_digits()
    model = create_model("mlp", train.input_shape, train.num_classes)
    return ModelTrainer(model, TrainerConfig(batch_size=256, seed=3, platform="cpu")), train, validation


def params_of(fitted: ModelTrainer) -> list[np.ndarray]:
    return [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(fitted.params)]


def test_a_resumed_fit_ends_where_the_uninterrupted_one_does(log_dir: Path, tmp_path: Path) -> None:
    whole, train, validation = trainer()
    whole.fit(train, validation, EPOCHS, name="mlp-whole")

    interrupted, train, validation = trainer()
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(
            train, validation, EPOCHS, checkpoints=tmp_path / "ckpt", plugins=[StopAtEpoch(3), "jsonl"]
        )
    (log,) = [path for path in log_dir.glob("*.jsonl") if "mlp-whole" not in path.name]
    assert read_summary(log).status == "interrupted"

    resumed, train, validation = trainer()  # a new process: a fresh trainer
    history = resumed.fit(train, validation, EPOCHS, checkpoints=tmp_path / "ckpt", resume=log)

    assert [result.epoch for result in history.epochs] == [3]
    for got, expected in zip(params_of(resumed), params_of(whole), strict=True):
        np.testing.assert_array_equal(got, expected)
    summary = read_summary(log)
    assert (summary.status, summary.resumes) == ("completed", 1)
    assert [record.epoch for record in summary.epochs] == [1, 2, 3]
    (whole_log,) = log_dir.glob("*mlp-whole*.jsonl")
    assert summary.epochs[-1].validation == read_summary(whole_log).epochs[-1].validation


def test_the_newest_two_checkpoints_are_kept(log_dir: Path, tmp_path: Path) -> None:
    fitted, train, validation = trainer()
    session_runs: list[RunInfo] = []

    class Runs:
        @hookimpl
        def trainscope_train_start(self, run: RunInfo) -> None:
            session_runs.append(run)

    fitted.fit(train, validation, 4, checkpoints=tmp_path / "ckpt", plugins=[Runs(), "jsonl"])
    saved = Checkpoints(tmp_path / "ckpt", session_runs[0].run_id)
    assert saved.epochs() == [3, 4][-KEEP:]
    assert not list(saved.folder.glob(".*.tmp"))


def test_resuming_without_checkpoints_says_what_to_give(log_dir: Path) -> None:
    interrupted, train, validation = trainer()
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(train, validation, EPOCHS, plugins=[StopAtEpoch(2), "jsonl"])
    (log,) = log_dir.glob("*.jsonl")
    with pytest.raises(ResumeError, match="give checkpoints=FOLDER"):
        trainer()[0].fit(train, validation, EPOCHS, resume=log)


def test_a_checkpoint_of_another_model_is_refused(log_dir: Path, tmp_path: Path) -> None:
    interrupted, train, validation = trainer()
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(
            train, validation, EPOCHS, checkpoints=tmp_path / "ckpt", plugins=[StopAtEpoch(2), "jsonl"]
        )
    (log,) = log_dir.glob("*.jsonl")
    other = ModelTrainer(
        create_model("digits-cnn", train.input_shape, train.num_classes),
        TrainerConfig(batch_size=256, seed=3, platform="cpu"),
    )
    with pytest.raises(ResumeError, match="not of this model"):
        other.fit(train, validation, EPOCHS, checkpoints=tmp_path / "ckpt", resume=log, name="MLP")
