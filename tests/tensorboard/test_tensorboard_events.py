"""The ``tensorboard`` reporter through its entry point, its files read back by TensorBoard."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2

import trainscope
from trainscope import LayerSpec, ModelSpec
from trainscope import environment_variables as core_env
from trainscope_arch import ModelArchitecturePrinter
from trainscope_tensorboard import TensorBoardDirectoryError, run_folder_name

from .conftest import assert_series, read_events, scalars, text

SPEC = ModelSpec(
    "Tiny",
    (4,),
    [LayerSpec("body", "Sequential", children=[LayerSpec("fc", "Linear", "4, 2", 10, output_shape=(2,))])],
)


def session(**kwargs: Any) -> trainscope.TrainingSession:
    options: dict[str, Any] = {
        "model_name": "Tiny CNN",
        "epochs": 2,
        "steps_per_epoch": 3,
        "validation_steps": 2,
        "plugins": ["tensorboard"],
        "strict": True,
    }
    options.update(kwargs)
    return trainscope.TrainingSession(**options)


def train_loss(epoch: int, step: int) -> float:
    return 1.0 / (10 * epoch + step)


def run_two_epochs(s: trainscope.TrainingSession) -> None:
    for epoch in (1, 2):
        s.start_epoch(epoch)
        for step in (1, 2, 3):
            s.update_training_progress(step, train_loss(epoch, step), 0.25 * step)
        s.start_validation()
        for step in (1, 2):
            s.update_validation_progress(step, 0.5 + epoch + step / 8, 0.75)
        s.print_epoch_summary()


def two_steps_then(error: BaseException) -> None:
    with session() as s:
        s.start_epoch(1)
        s.update_training_progress(1, 0.5, 0.25)
        s.update_training_progress(2, 0.4, 0.5)
        raise error


def only_run_folder(directory: Path) -> Path:
    (folder,) = directory.iterdir()
    return folder


def test_every_step_and_epoch_mean_reads_back(tensorboard_dir: Path) -> None:
    with session() as s:
        run_two_epochs(s)
    folder = only_run_folder(tensorboard_dir)
    assert folder.name == f"Tiny_CNN-{s.run.run_id[:8]}"
    assert s.run.artifacts["tensorboard"] == str(folder)

    got = scalars(read_events(folder))
    train = [(3 * (e - 1) + step, train_loss(e, step)) for e in (1, 2) for step in (1, 2, 3)]
    assert_series(got["train/loss"], train)
    assert_series(
        got["train/accuracy"], [(3 * (e - 1) + step, 0.25 * step) for e in (1, 2) for step in (1, 2, 3)]
    )
    # Validation steps are logged at the training step they follow.
    assert_series(got["validation/loss"], [(3 * e, 0.5 + e + step / 8) for e in (1, 2) for step in (1, 2)])
    assert_series(got["validation/accuracy"], [(3, 0.75)] * 2 + [(6, 0.75)] * 2)
    mean = [(3 * e, sum(train_loss(e, step) for step in (1, 2, 3)) / 3) for e in (1, 2)]
    assert_series(got["epoch/train/loss"], mean)
    assert_series(got["epoch/validation/loss"], [(3 * e, 0.5 + e + 3 / 16) for e in (1, 2)])
    assert_series(got["epoch/train/accuracy"], [(3, 0.5), (6, 0.5)])


def hparams_content(folder: Path, tag: str) -> plugin_data_pb2.HParamsPluginData:
    content = read_events(folder).PluginTagToContent("hparams")[tag]
    return plugin_data_pb2.HParamsPluginData.FromString(content)


def test_config_becomes_hyper_parameters_and_the_status_ends_the_session(tensorboard_dir: Path) -> None:
    config = {
        "learning_rate": 0.01,
        "optimizer": {"name": "adam", "nesterov": True},
        "data": Path("d"),
        "seed": 7,
    }
    with session(config=config) as s:
        run_two_epochs(s)
    folder = only_run_folder(tensorboard_dir)
    start = hparams_content(folder, "_hparams_/session_start_info").session_start_info
    assert {name: value.WhichOneof("kind") for name, value in start.hparams.items()} == {
        "learning_rate": "number_value",
        "optimizer.name": "string_value",
        "optimizer.nesterov": "bool_value",
        "data": "string_value",
        "seed": "number_value",
    }
    assert start.hparams["learning_rate"].number_value == 0.01
    assert start.hparams["optimizer.name"].string_value == "adam"
    assert start.hparams["optimizer.nesterov"].bool_value is True
    assert start.hparams["data"].string_value == "d"
    end = hparams_content(folder, "_hparams_/session_end_info").session_end_info
    assert end.status == api_pb2.Status.Value("STATUS_SUCCESS")
    assert text(read_events(folder), "run/status") == "completed"


@pytest.mark.parametrize(
    ("error", "status", "hparams_status"),
    [
        (KeyboardInterrupt(), "interrupted", "STATUS_UNKNOWN"),
        (ValueError("bad batch"), "failed: ValueError: bad batch", "STATUS_FAILURE"),
    ],
)
def test_an_interrupted_or_failed_run_keeps_its_steps_and_says_how_it_ended(
    tensorboard_dir: Path, error: BaseException, status: str, hparams_status: str
) -> None:
    with pytest.raises(type(error)):
        two_steps_then(error)
    folder = only_run_folder(tensorboard_dir)
    assert_series(scalars(read_events(folder))["train/loss"], [(1, 0.5), (2, 0.4)])
    assert text(read_events(folder), "run/status") == status
    end = hparams_content(folder, "_hparams_/session_end_info").session_end_info
    assert end.status == api_pb2.Status.Value(hparams_status)


def test_architecture_is_the_arch_printout(tensorboard_dir: Path) -> None:
    with session(model=SPEC) as s:
        run_two_epochs(s)
    logged = text(read_events(only_run_folder(tensorboard_dir)), "model/architecture")
    printout = ModelArchitecturePrinter("Tiny CNN").format_architecture(SPEC)
    # A Markdown code block: every line indented four spaces.
    assert logged == "\n".join(f"    {line}" for line in printout.splitlines())


def test_architecture_without_trainscope_arch_is_a_plain_listing(
    tensorboard_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("trainscope.plugin_api.ARCHITECTURE_PLUGIN", "not-installed")  # no such entry point
    with session(model=SPEC) as s:
        s.start_epoch(1)
    logged = text(read_events(only_run_folder(tensorboard_dir)), "model/architecture")
    assert logged.splitlines() == [
        "    Model: Tiny CNN",
        "    Input shape: (4,)",
        "      (body): Sequential() - 0 parameters",
        "        (fc): Linear(4, 2) - 10 parameters, output (2,)",
        "    Total parameters: 10",
        "    Trainable parameters: 10",
        "    Non-trainable parameters: 0",
    ]


def test_no_model_no_architecture(tensorboard_dir: Path) -> None:
    with session() as s:
        run_two_epochs(s)
    assert (
        "model/architecture/text_summary"
        not in read_events(only_run_folder(tensorboard_dir)).Tags()["tensors"]
    )


def test_global_step_grows_across_epochs_of_unknown_length_counted_from_zero(tensorboard_dir: Path) -> None:
    with session(steps_per_epoch=None, validation_steps=None, epochs=3) as s:
        for epoch, steps in ((1, 4), (2, 2), (3, 3)):
            s.start_epoch(epoch)
            for step in range(steps):
                s.update_training_progress(step, float(10 * epoch + step))
            s.start_validation()
            s.update_validation_progress(0, float(epoch))
    got = scalars(read_events(only_run_folder(tensorboard_dir)))
    # Step 0 of each epoch is one step done: the axis counts the steps done so far.
    assert [step for step, _ in got["train/loss"]] == list(range(1, 10))
    assert [value for _, value in got["train/loss"]] == [10, 11, 12, 13, 20, 21, 30, 31, 32]
    assert got["validation/loss"] == [(4, 1.0), (6, 2.0), (9, 3.0)]


def test_a_metric_missing_from_some_steps_is_left_out_there(tensorboard_dir: Path) -> None:
    with session(epochs=1) as s:
        s.start_epoch(1)
        s.update_training_progress(1, 0.5)
        s.update_training_progress(2, 0.4, lr=0.1)
        s.update_training_progress(3, None, lr=0.05)
    got = scalars(read_events(only_run_folder(tensorboard_dir)))
    assert_series(got["train/loss"], [(1, 0.5), (2, 0.4)])
    assert_series(got["train/lr"], [(2, 0.1), (3, 0.05)])


def test_many_batches_of_steps_all_arrive_in_order(tensorboard_dir: Path) -> None:
    steps = 10_000
    with session(epochs=1, steps_per_epoch=steps, refresh_interval=0) as s:
        s.start_epoch(1)
        for step in range(1, steps + 1):
            s.update_training_progress(step, step / 1024)  # exact in float32
    got = scalars(read_events(only_run_folder(tensorboard_dir)))["train/loss"]
    assert got == [(step, step / 1024) for step in range(1, steps + 1)]


def test_default_folder_is_tensorboard_inside_the_log_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(core_env.TRAINSCOPE_LOG_DIR, str(tmp_path / "logs"))
    with session() as s:
        s.start_epoch(1)
    expected = tmp_path / "logs" / "tensorboard" / run_folder_name("Tiny CNN", s.run.run_id)
    assert s.run.artifacts["tensorboard"] == str(expected)
    assert any(path.name.startswith("events.out.tfevents.") for path in expected.iterdir())


def test_an_unwritable_folder_stops_the_run_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("TRAINSCOPE_TENSORBOARD_DIR", str(blocker))
    epochs: list[int] = []

    class Recorder:
        @trainscope.hookimpl
        def trainscope_epoch_start(self, epoch: int) -> None:
            epochs.append(epoch)

    s = session(plugins=["tensorboard", Recorder()], strict=False)
    with pytest.raises(TensorBoardDirectoryError) as raised:
        s.start_training()
    message = str(raised.value)
    assert str(blocker) in message
    assert "TRAINSCOPE_TENSORBOARD_DIR" in message
    assert "TRAINSCOPE_DISABLE_PLUGINS=tensorboard" in message
    assert isinstance(raised.value, trainscope.PluginFatalError)
    assert epochs == []


def test_blocked_by_name_writes_nothing(tensorboard_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(core_env.TRAINSCOPE_PLUGINS, "tensorboard")  # no other reporter
    with session(plugins=None, disable=["tensorboard"]) as s:
        run_two_epochs(s)
    monkeypatch.setenv(core_env.TRAINSCOPE_DISABLE_PLUGINS, "tensorboard")
    with session(plugins=None) as s:
        run_two_epochs(s)
    assert not tensorboard_dir.exists()
    assert "tensorboard" not in s.run.artifacts


def test_the_plugin_module_does_not_import_tensorboardx(tmp_path: Path) -> None:
    code = "import sys, trainscope_tensorboard.plugin; print('tensorboardX' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.strip() == "False"


def test_non_finite_values_are_kept(tensorboard_dir: Path) -> None:
    with session(epochs=1) as s:
        s.start_epoch(1)
        s.update_training_progress(1, float("nan"), float("inf"))
        s.update_training_progress(2, float("-inf"), 0.5)
    got = scalars(read_events(only_run_folder(tensorboard_dir)))
    (_, nan), (_, minus_infinity) = got["train/loss"]
    assert math.isnan(nan)
    assert minus_infinity == -math.inf
    assert got["train/accuracy"] == [(1, math.inf), (2, 0.5)]


def test_a_run_in_steps_logs_each_evaluation_at_its_training_step(tensorboard_dir: Path) -> None:
    with trainscope.TrainingSession("Steps", total_steps=4, plugins=["tensorboard"], strict=True) as s:
        for step in (1, 2, 3, 4):
            s.update_training_progress(step, float(step))
            if step % 2 == 0:
                s.start_validation()
                s.update_validation_progress(1, 10.0 * step)
                s.finish_validation()
    got = scalars(read_events(only_run_folder(tensorboard_dir)))
    assert_series(got["train/loss"], [(step, float(step)) for step in (1, 2, 3, 4)])
    assert_series(got["validation/loss"], [(2, 20.0), (4, 40.0)])
    assert_series(got["evaluation/train/loss"], [(2, 1.5), (4, 3.5)])  # the means since the last evaluation
    assert_series(got["evaluation/validation/loss"], [(2, 20.0), (4, 40.0)])


def test_the_event_folder_expands_the_home_folder_as_the_run_log_does() -> None:
    from trainscope.log_files import log_directory
    from trainscope_tensorboard import environment_variables as tb_env
    from trainscope_tensorboard.directory import tensorboard_directory

    home = Path("~").expanduser()
    environ = {core_env.TRAINSCOPE_LOG_DIR: "~/logs"}
    assert log_directory(environ) == home / "logs"
    assert tensorboard_directory(environ) == home / "logs" / "tensorboard"
    assert tensorboard_directory({tb_env.TRAINSCOPE_TENSORBOARD_DIR: "~/tb"}) == home / "tb"


def test_steps_numbered_across_epochs_keep_their_numbers(tensorboard_dir: Path) -> None:
    with session(steps_per_epoch=None) as s:
        for epoch, steps in ((1, range(1, 4)), (2, range(4, 7))):
            s.start_epoch(epoch)
            for step in steps:
                s.update_training_progress(step, float(step))
            s.start_validation()
            s.update_validation_progress(1, float(epoch))
    got = scalars(read_events(only_run_folder(tensorboard_dir)))
    assert got["train/loss"] == [(step, float(step)) for step in range(1, 7)]
    assert got["validation/loss"] == [(3, 1.0), (6, 2.0)]
