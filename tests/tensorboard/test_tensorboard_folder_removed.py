"""TensorBoard's folder removed during the run: the event file is created again with every event."""

from __future__ import annotations

import re
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

import trainscope
from trainscope import PluginWarning

from .conftest import assert_series, read_events, scalars, text

RECREATED = r"the event file was deleted during the run \(was its folder removed\?\); it is created again"
NOT_RECREATED = (
    r"'tensorboard' raised in .* and is disabled .*was deleted during the run "
    r"\(was its folder removed\?\) and cannot be created again"
)


def train_epochs(session: trainscope.TrainingSession, meanwhile: Callable[[int], None]) -> list[int]:
    """Two steps an epoch (loss 1/epoch, then 0.5/epoch), ``meanwhile(epoch)`` between them."""
    finished: list[int] = []
    with session:
        for epoch in (1, 2, 3):
            session.start_epoch(epoch)
            session.update_training_progress(1, 1.0 / epoch)
            meanwhile(epoch)
            session.update_training_progress(2, 0.5 / epoch)
            finished.append(epoch)
    return finished


def test_a_folder_removed_mid_run_is_created_again_with_every_event(tensorboard_dir: Path) -> None:
    def remove(epoch: int) -> None:
        if epoch == 2:  # the writer thread may be re-creating it meanwhile: what it re-creates holds it all
            shutil.rmtree(tensorboard_dir, ignore_errors=True)

    session = trainscope.TrainingSession("Net", 3, 2, plugins=["tensorboard"], strict=True)
    with pytest.warns(PluginWarning, match=RECREATED):
        train_epochs(session, remove)
    folder = Path(session.run.artifacts["tensorboard"])
    events = read_events(folder)
    expected = [(2 * (e - 1) + step, loss / e) for e in (1, 2, 3) for step, loss in ((1, 1.0), (2, 0.5))]
    assert_series(scalars(events)["train/loss"], expected)
    assert [step for step, _ in scalars(events)["epoch/train/loss"]] == [2, 4, 6]
    assert text(events, "run/status") == "completed"
    assert len(list(folder.iterdir())) == 1


def test_a_folder_that_cannot_be_created_again_is_said_and_training_goes_on(tensorboard_dir: Path) -> None:
    def replace_folder_by_file(epoch: int) -> None:
        if epoch != 1:
            return
        while True:
            shutil.rmtree(tensorboard_dir, ignore_errors=True)
            try:
                with tensorboard_dir.open("x") as file:
                    file.write("a file where the folder was")
            except FileExistsError:  # the writer thread created the folder again meanwhile
                continue
            return

    session = trainscope.TrainingSession("Net", 3, 2, plugins=["tensorboard"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PluginWarning)
        finished = train_epochs(session, replace_folder_by_file)
    said = [str(warning.message) for warning in caught if issubclass(warning.category, PluginWarning)]
    assert [text for text in said if re.search(NOT_RECREATED, text)], said
    # before that, at most: the folder the writer created again while it was being replaced
    assert all(re.search(NOT_RECREATED, text) or re.search(RECREATED, text) for text in said), said
    assert finished == [1, 2, 3]
