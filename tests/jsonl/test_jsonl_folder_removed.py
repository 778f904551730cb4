"""The log's folder removed during the run: the log is created again, whole, and the run says so."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from trainscope import PluginFatalError, PluginWarning, TrainingSession
from trainscope_jsonl import read_summary

from .conftest import StrictLines

RECREATED = (
    r"the run log was deleted during the run \(was its folder removed\?\); "
    r"it is created again at '.*' with every line written so far"
)


def train_epochs(session: TrainingSession, meanwhile: Callable[[int], None]) -> list[int]:
    """Two steps an epoch, ``meanwhile(epoch)`` between them; the epochs started."""
    started: list[int] = []
    with session:
        for epoch in range(1, (session.run.epochs or 0) + 1):
            started.append(epoch)
            session.start_epoch(epoch)
            session.update_training_progress(1, 0.5, 0.25)
            meanwhile(epoch)
            session.update_training_progress(2, 0.4, 0.5)
    return started


def test_a_folder_removed_mid_run_is_created_again_with_the_whole_log(
    log_dir: Path, strict_lines: StrictLines
) -> None:
    session = TrainingSession("Net", 3, 2, plugins=["jsonl"], refresh_interval=0)
    with pytest.warns(PluginWarning, match=RECREATED) as caught:
        train_epochs(session, lambda epoch: shutil.rmtree(log_dir) if epoch == 2 else None)
    assert len(caught) == 1
    path = Path(session.run.artifacts["jsonl"])
    assert path.parent == log_dir
    events = strict_lines(path)
    assert events[0]["event"] == "run_start"
    steps = [(e["epoch"], e["step"]) for e in events if e["event"] == "step"]
    assert steps == [(epoch, step) for epoch in (1, 2, 3) for step in (1, 2)]
    assert [e["epoch"] for e in events if e["event"] == "epoch_end"] == [1, 2, 3]
    assert events[-1]["status"] == "completed"
    assert read_summary(path).status == "completed"


def test_a_folder_removed_after_the_last_sync_is_created_again_at_the_end(
    log_dir: Path, strict_lines: StrictLines
) -> None:
    session = TrainingSession("Net", None, total_steps=3, plugins=["jsonl"], refresh_interval=0)

    def train() -> None:
        with session:
            for step in (1, 2, 3):
                session.update_training_progress(step, 0.5)
            shutil.rmtree(log_dir)

    with pytest.warns(PluginWarning, match=RECREATED):
        train()
    events = strict_lines(Path(session.run.artifacts["jsonl"]))
    assert [e["step"] for e in events if e["event"] == "step"] == [1, 2, 3]
    assert events[-1]["event"] == "run_end"


def test_a_folder_that_cannot_be_created_again_stops_the_run(log_dir: Path) -> None:
    def replace_folder_by_file(epoch: int) -> None:
        shutil.rmtree(log_dir)
        log_dir.write_text("a file where the folder was")

    session = TrainingSession("Net", 3, 2, plugins=["jsonl"], refresh_interval=0)
    started: list[int] = []
    with pytest.raises(PluginFatalError, match=r"was deleted during the run .* cannot be created again"):
        started = train_epochs(session, replace_folder_by_file)
    assert started == []  # the run stopped at the end of epoch 1, where the log is synced


def test_a_log_moved_elsewhere_is_left_where_it_was_moved(
    tmp_path: Path, log_dir: Path, strict_lines: StrictLines
) -> None:
    moved = tmp_path / "kept.jsonl"
    session = TrainingSession("Net", 2, 2, plugins=["jsonl"], refresh_interval=0)

    def move(epoch: int) -> None:
        if epoch == 1:
            Path(session.run.artifacts["jsonl"]).rename(moved)

    train_epochs(session, move)
    assert list(log_dir.iterdir()) == []  # nothing was lost, so nothing is created again
    assert strict_lines(moved)[-1]["status"] == "completed"


def test_a_name_taken_meanwhile_is_not_overwritten(log_dir: Path, strict_lines: StrictLines) -> None:
    session = TrainingSession("Net", 2, 2, plugins=["jsonl"], refresh_interval=0)
    path = log_dir / "not yet known"

    def take_the_name(epoch: int) -> None:
        nonlocal path
        if epoch == 1:
            path = Path(session.run.artifacts["jsonl"])
            shutil.rmtree(log_dir)
            log_dir.mkdir()
            path.write_text("someone else's file\n")

    with pytest.warns(PluginWarning, match=RECREATED):
        train_epochs(session, take_the_name)
    assert path.read_text() == "someone else's file\n"
    recreated = Path(session.run.artifacts["jsonl"])
    assert recreated == path.with_name(f"{path.stem}-2.jsonl")
    assert strict_lines(recreated)[-1]["status"] == "completed"
