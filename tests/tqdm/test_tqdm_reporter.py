"""The reporter's options in code, its output stream, and where it prints its first line."""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterator

import pytest

import trainscope
import trainscope_tqdm
from trainscope import RunInfo, hookimpl
from trainscope_tqdm import TqdmReporter


@pytest.fixture(autouse=True)
def _default_configuration(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("WIDTH", "SHOW_RATE", "SHOW_ETA", "REFRESH_INTERVAL", "LINE_INTERVAL"):
        monkeypatch.delenv(f"TRAINSCOPE_TQDM_{name}", raising=False)
    yield
    trainscope_tqdm.configure()


def train(plugins: list[object], *, steps: int | None = 4) -> None:
    with trainscope.TrainingSession("Net", 1, steps, None, plugins=plugins, strict=True) as session:
        session.start_epoch(1)
        for step in range(1, 5):
            session.update_training_progress(step, 0.5, 0.25)


def test_bars_go_to_standard_error_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    train(["tqdm"])
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == "Starting training..."
    assert re.fullmatch(
        r"Epoch 1/1 \(Training\): 100%\|[#█]{70}\| 4/4 \[.*, loss=0\.5, accuracy=25\.00%\]", lines[1]
    )


def test_configure_sets_the_options_of_the_installed_reporter() -> None:
    out = io.StringIO()
    trainscope_tqdm.configure(width=12, show_rate=False, show_eta=False, file=out)
    train(["tqdm"])
    line = out.getvalue().splitlines()[1]
    assert re.fullmatch(
        r"Epoch 1/1 \(Training\): 100%\|#{12}\| 4/4 \[\d\d:\d\d, loss=0\.5, accuracy=25\.00%\]", line
    )


def test_configure_refuses_bad_values() -> None:
    with pytest.raises(ValueError, match="bar width"):
        trainscope_tqdm.configure(width=0)


def test_a_reporter_object_with_its_own_options() -> None:
    out = io.StringIO()
    train([TqdmReporter(width=5, file=out)], steps=None)
    assert re.fullmatch(
        r"Epoch 1/1 \(Training\): 4batch \[\d\d:\d\d, [^,]+, loss=0\.5, accuracy=25\.00%\]",
        out.getvalue().splitlines()[1],
    )


def test_starting_line_comes_after_what_other_reporters_print_at_the_start() -> None:
    out = io.StringIO()

    class Architecture:
        @hookimpl
        def trainscope_train_start(self, run: RunInfo) -> None:
            out.write(f"Model Architecture: {run.name}\n")

    # objects are registered before entry points, and pluggy calls the last registered first
    train([Architecture(), TqdmReporter(file=out)])
    assert out.getvalue().splitlines()[:2] == ["Model Architecture: Net", "Starting training..."]


def test_stdout_is_flushed_before_a_bar_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    flushed: list[bool] = []

    class Stdout(io.StringIO):
        def flush(self) -> None:
            flushed.append(True)

    monkeypatch.setattr(sys, "stdout", Stdout())
    train([TqdmReporter(file=io.StringIO())])
    assert len(flushed) >= 2  # at the start of the run and of the phase


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


class AtFirstPhase:
    """Notes what the terminal shows when the first phase starts, before any step."""

    def __init__(self, screen: Terminal) -> None:
        self.screen = screen
        self.seen = ""

    @hookimpl(trylast=True)  # after the bar is drawn
    def trainscope_phase_start(self) -> None:
        self.seen = self.seen or self.screen.getvalue()


@pytest.mark.parametrize(("environment", "note"), [({"jax": "0.5.0"}, "compiling"), ({}, "waiting for")])
def test_the_first_bar_says_what_it_waits_for_until_the_first_step(
    environment: dict[str, str], note: str
) -> None:
    screen = Terminal()
    first = AtFirstPhase(screen)
    reporter = TqdmReporter(file=screen)
    with trainscope.TrainingSession("Net", 2, 3, plugins=[reporter, first], environment=environment) as s:
        for epoch in (1, 2):
            s.start_epoch(epoch)
            for step in (1, 2, 3):
                s.update_training_progress(step, 0.5)
    assert f"0/3 [00:00<?, ?batch/s, {note} the first step...]" in first.seen
    assert screen.getvalue().count("the first step...") == first.seen.count("the first step...")  # once
