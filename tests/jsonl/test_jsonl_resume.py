"""A resumed run continues its own log: a ``run_resume`` line, then the new part; the readers see
one run with the left-behind steps dropped; a completed, unknown or ambiguous run is refused."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import trainscope
from trainscope import ResumeError, TrainingSession
from trainscope.cli import CliContext, build_cli
from trainscope_jsonl import read_curves, read_summary
from trainscope_jsonl.schema import SCHEMA_VERSION

StrictLines = Callable[[Path], list[dict[str, Any]]]

STEPS = 5


def loss_of(epoch: int, step: int) -> float:
    return 10.0 * epoch + step


def train_in_epochs(
    resume: str | Path | None = None,
    *,
    stop_in_epoch: int | None = None,
    epochs: int = 4,
    resume_at: int | None = None,
) -> TrainingSession:
    """A run in epochs through the installed jsonl reporter, interrupted at step 3 of ``stop_in_epoch``."""
    session = TrainingSession(
        "Net", epochs, STEPS, plugins=["jsonl"], strict=True, resume=resume, resume_at=resume_at
    )
    try:
        with session:
            for epoch in session.epochs():
                for step in range(1, STEPS + 1):
                    if epoch == stop_in_epoch and step == 3:
                        raise KeyboardInterrupt
                    session.update_training_progress(step, loss_of(epoch, step), 0.5)
    except KeyboardInterrupt:
        pass
    return session


def only_log(log_dir: Path) -> Path:
    (log,) = log_dir.glob("*.jsonl")
    return log


def test_a_resumed_run_appends_to_its_log_and_reads_as_one_run(
    log_dir: Path, strict_lines: StrictLines
) -> None:
    first = train_in_epochs(stop_in_epoch=3)
    log = only_log(log_dir)
    assert read_summary(log).status == "interrupted"

    second = train_in_epochs(log)

    assert only_log(log_dir) == log  # the same file, no second log
    assert second.run.run_id == first.run.run_id
    events = strict_lines(log)
    assert events[0]["schema_version"] == SCHEMA_VERSION == 4
    (resume,) = [event for event in events if event["event"] == "run_resume"]
    assert resume["run_id"] == first.run.run_id
    assert (resume["previous_status"], resume["epoch"], resume["global_step"], resume["resumes"]) == (
        "interrupted",
        2,
        2 * STEPS,
        1,
    )
    assert [event["event"] for event in events].count("run_end") == 2
    summary = read_summary(log)
    assert summary.status == "completed"
    assert summary.resumes == 1
    assert [record.epoch for record in summary.epochs] == [1, 2, 3, 4]  # epoch 3 once, the new one
    assert summary.training_steps == 4 * STEPS
    assert [record.global_step for record in summary.epochs] == [5, 10, 15, 20]
    assert summary.epochs[2].train is not None
    assert summary.epochs[2].train["loss"] == pytest.approx(sum(loss_of(3, s) for s in range(1, 6)) / 5)


def test_the_curves_leave_out_the_steps_of_the_interrupted_epoch(log_dir: Path) -> None:
    train_in_epochs(stop_in_epoch=3)
    log = only_log(log_dir)
    train_in_epochs(log)

    xs, ys = read_curves(log).training_steps("loss")

    assert xs == [float(x) for x in range(1, 4 * STEPS + 1)]  # steps 11-12 of the first try are gone
    assert ys[10:15] == [loss_of(3, step) for step in range(1, 6)]


def test_a_run_is_found_by_the_first_characters_of_its_id(log_dir: Path) -> None:
    first = train_in_epochs(stop_in_epoch=2)
    second = train_in_epochs(first.run.run_id[:5])
    assert second.run.run_id == first.run.run_id
    assert read_summary(only_log(log_dir)).status == "completed"


def test_resume_at_goes_on_after_an_earlier_epoch(log_dir: Path) -> None:
    train_in_epochs(stop_in_epoch=4)
    log = only_log(log_dir)
    resumed = train_in_epochs(log, resume_at=1)  # the newest checkpoint holds epoch 1 only
    assert resumed.run.resumed is not None
    assert resumed.run.resumed.next_epoch == 2
    summary = read_summary(log)
    assert [record.epoch for record in summary.epochs] == [1, 2, 3, 4]
    assert summary.training_steps == 4 * STEPS


def test_a_resumed_run_can_be_resumed_again(log_dir: Path) -> None:
    train_in_epochs(stop_in_epoch=2)
    log = only_log(log_dir)
    train_in_epochs(log, stop_in_epoch=3)
    train_in_epochs(log)
    summary = read_summary(log)
    assert (summary.status, summary.resumes) == ("completed", 2)
    assert [record.epoch for record in summary.epochs] == [1, 2, 3, 4]


def test_a_torn_last_line_is_cut_before_the_run_goes_on(log_dir: Path, strict_lines: StrictLines) -> None:
    train_in_epochs(stop_in_epoch=3)
    log = only_log(log_dir)
    with log.open("a", encoding="utf-8") as file:
        file.write('{"event": "step", "phase": "tr')  # a process killed mid-write

    train_in_epochs(log)

    text = log.read_text(encoding="utf-8")
    assert '"phase": "tr{' not in text
    assert all(line.startswith("{") and line.endswith("}") for line in text.splitlines())
    assert read_summary(log).status == "completed"
    assert strict_lines(log)[-1]["event"] == "run_end"


def test_a_run_in_steps_goes_on_after_the_step_of_its_checkpoint(log_dir: Path) -> None:
    def train(resume: Path | None = None, resume_at: int | None = None, stop_at: int | None = None) -> None:
        session = TrainingSession(
            "Net", total_steps=30, plugins=["jsonl"], strict=True, resume=resume, resume_at=resume_at
        )
        start = 1 if session.run.resumed is None else session.run.resumed.next_step
        assert start is not None
        try:
            with session:
                for step in range(start, 31):
                    if step == stop_at:
                        raise KeyboardInterrupt
                    session.update_training_progress(step, float(step), 0.5)
        except KeyboardInterrupt:
            pass

    train(stop_at=21)
    log = only_log(log_dir)
    train(log, resume_at=12)  # the checkpoint was saved at step 12; steps 13-20 are done again

    summary = read_summary(log)
    assert (summary.status, summary.training_steps) == ("completed", 30)
    xs, ys = read_curves(log).training_steps("loss")
    assert xs == ys == [float(step) for step in range(1, 31)]


def test_a_completed_run_cannot_be_resumed(log_dir: Path) -> None:
    train_in_epochs()
    log = only_log(log_dir)
    before = log.read_bytes()
    with pytest.raises(ResumeError, match="completed run cannot be resumed"):
        train_in_epochs(log)
    assert log.read_bytes() == before  # refused before anything was written


def test_an_unknown_id_names_the_folder_searched(log_dir: Path) -> None:
    train_in_epochs(stop_in_epoch=2)
    with pytest.raises(ResumeError, match="ffffff") as raised:
        train_in_epochs("ffffff")
    assert str(log_dir) in str(raised.value)


def test_an_id_prefix_too_short_is_refused(log_dir: Path) -> None:
    first = train_in_epochs(stop_in_epoch=2)
    with pytest.raises(ResumeError, match="at least 4"):
        train_in_epochs(first.run.run_id[:2])


def test_a_point_past_the_log_is_refused(log_dir: Path) -> None:
    train_in_epochs(stop_in_epoch=2)
    with pytest.raises(ResumeError, match="epoch"):
        train_in_epochs(only_log(log_dir), resume_at=3)


def test_another_models_log_is_refused(log_dir: Path) -> None:
    train_in_epochs(stop_in_epoch=2)
    with pytest.raises(ResumeError, match="model_name='Net'"):
        TrainingSession("Other", 4, STEPS, plugins=["jsonl"], resume=only_log(log_dir))


def run_cli(*args: object) -> Result:
    manager = trainscope.create_plugin_manager(plugins=["jsonl", "summary"])
    return CliRunner().invoke(build_cli(manager), [*map(str, args)], obj=CliContext(manager))


@pytest.fixture
def resumed_log(log_dir: Path) -> Path:
    train_in_epochs(stop_in_epoch=3)
    log = only_log(log_dir)
    train_in_epochs(log)
    return log


def test_trainscope_log_shows_each_epoch_once(resumed_log: Path) -> None:
    result = run_cli("log", resumed_log)
    assert result.exit_code == 0, result.output
    rows = [line.split()[:2] for line in result.stdout.splitlines() if line[:5].strip().isdigit()]
    assert rows == [["1", "13.0000"], ["2", "23.0000"], ["3", "33.0000"], ["4", "43.0000"]]
    assert ": completed after" in result.stdout


def test_watch_draws_both_parts_as_the_runs_did_and_exits_with_the_last_status(resumed_log: Path) -> None:
    result = run_cli("watch", resumed_log)
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    interrupted = next(i for i, line in enumerate(out) if line.startswith("Training interrupted after 2/4"))
    assert "Epoch 2/4 Summary:" in out[:interrupted]
    assert "Epoch 3/4 Summary:" in out[interrupted:]
    assert "Epoch 4/4 Summary:" in out[interrupted:]
    assert re.fullmatch(r"Run Net \(\w+\): completed after [\d.]+ s", out[-1])
    starts = [line for line in result.stderr.splitlines() if line == "Starting training..."]
    assert len(starts) == 2


def test_compare_report_and_plot_read_a_resumed_run_as_one(resumed_log: Path, tmp_path: Path) -> None:
    compared = run_cli("compare", resumed_log, resumed_log)
    assert compared.exit_code == 0, compared.output
    assert re.search(r"Training steps\s+20\s+20", compared.stdout)
    assert re.search(r"Epochs\s+4/4\s+4/4", compared.stdout)
    page = tmp_path / "run.html"
    reported = run_cli("report", resumed_log, "-o", page)
    assert reported.exit_code == 0, reported.output
    assert "completed" in page.read_text(encoding="utf-8")
    plotted = run_cli("plot", resumed_log, "-o", tmp_path / "curves.png")
    assert plotted.exit_code == 0, plotted.output
    assert (tmp_path / "curves.png").read_bytes().startswith(b"\x89PNG")
