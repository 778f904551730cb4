"""``trainscope train``'s run-file options and its help text, as a user reads them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from trainscope import create_plugin_manager
from trainscope.cli import CliContext, build_cli

TINY = ["--model", "mlp", "--epochs", "1", "--batch-size", "64", "--platform", "cpu"]


def invoke(args: list[str], *plugins: str) -> Result:
    manager = create_plugin_manager(plugins=[*plugins, "jax"])
    return CliRunner().invoke(build_cli(manager), args, obj=CliContext(manager, []))


def test_quiet_log_dir_and_run_name(tmp_path: Path) -> None:
    folder = tmp_path / "elsewhere"
    result = invoke(
        ["train", *TINY, "--quiet", "--log-dir", str(folder), "--run-name", "My run"],
        "tqdm",
        "arch",
        "summary",
        "jsonl",
    )
    assert result.exit_code == 0, result.output
    assert "Model Architecture" not in result.output
    assert "Summary:" not in result.output
    assert "Starting training" not in result.output
    assert "Trained MLP on cpu for 1 epoch" in result.output
    (log,) = folder.glob("*-My_run-*.jsonl")
    assert f"Run log: {log}" in result.output
    start = json.loads(log.read_text(encoding="utf-8").splitlines()[0])
    assert start["name"] == "My run"
    assert not (tmp_path / "runs").exists()  # the default folder was not used


def test_help_shows_no_machine_limits_and_whole_summaries() -> None:
    text = invoke(["train", "--help"]).output
    for limit in ("9223372036854775807", "2147483647", "4294967295"):
        assert limit not in text
    assert "[default: 10; x>=1]" in text
    assert "--log-dir" in text
    assert "--quiet" in text
    assert "--run-name" in text
    overview = invoke(["--help"], "jsonl").output
    commands = overview[overview.index("Commands:") :]
    assert "..." not in commands
    assert "Train a model with every enabled reporter." in commands


def test_max_steps_stops_the_training_there_and_each_epoch_is_still_validated(tmp_path: Path) -> None:
    options = ["--batch-size", "512", "--epochs", "5", "--max-steps", "7", "--log-dir", str(tmp_path)]
    result = invoke(["train", *TINY, *options], "jsonl")
    assert result.exit_code == 0, result.output
    (log,) = tmp_path.glob("*.jsonl")
    events = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    steps = [(event["epoch"], event["phase"]) for event in events if event["event"] == "step"]
    train_steps = [epoch for epoch, phase in steps if phase == "train"]
    assert len(train_steps) == 7
    assert {epoch for epoch, phase in steps if phase == "validation"} == set(
        train_steps
    )  # each epoch validated
    assert events[-1]["status"] == "completed"


def test_max_steps_must_be_a_positive_count() -> None:
    result = invoke(["train", *TINY, "--max-steps", "0"])
    assert result.exit_code == 2
    assert "--max-steps" in result.output


def test_stop_on_nan_ends_the_run_as_failed_with_one_line(tmp_path: Path) -> None:
    options = ["--lr", "1e30", "--max-steps", "30", "--stop-on-nan", "--log-dir", str(tmp_path)]
    result = invoke(["train", *TINY, *options], "jsonl", "summary")
    assert result.exit_code == 1, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: stopped on a non-finite metric (stop_on_nan): loss is ")
    (log,) = tmp_path.glob("*.jsonl")
    assert f"the run is logged as failed in {log})" in last
    end = json.loads(log.read_text(encoding="utf-8").splitlines()[-1])
    assert (end["event"], end["status"]) == ("run_end", "failed")
    assert end["error"].startswith("MetricAlertError: ")
    assert "Alerts: loss is " in result.output  # the summary said it first


def test_without_stop_on_nan_the_run_trains_on_after_the_alert(tmp_path: Path) -> None:
    result = invoke(["train", *TINY, "--lr", "1e30", "--max-steps", "30", "--log-dir", str(tmp_path)], "tqdm")
    assert result.exit_code == 0, result.output
    assert "Alert: loss is " in result.output  # above the bar
