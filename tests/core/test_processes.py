"""Several processes train one run: reporters run on process 0 unless they opt in."""

from __future__ import annotations

from typing import Any

import pytest

from trainscope import RunInfo, TrainingSession, hookimpl

from .conftest import Recorder


class EveryProcess(Recorder):
    """A reporter that opts in to every process (a per-host resource monitor would)."""

    trainscope_all_processes = True


def run(index: int, count: int, *plugins: object) -> TrainingSession:
    session = TrainingSession("Net", 1, 2, plugins=list(plugins), process_index=index, process_count=count)
    with session:
        session.start_epoch(1)
        session.update_training_progress(1, 0.5)
        session.update_training_progress(2, 0.25)
    return session


def test_reporters_run_on_process_0_only() -> None:
    on_zero, on_one = Recorder(), Recorder()
    run(0, 2, on_zero)
    session = run(1, 2, on_one)
    assert on_zero.hooks()[0] == "train_start"
    assert on_zero.hooks()[-1] == "train_end"
    assert on_one.events == []
    assert (session.run.process_index, session.run.process_count) == (1, 2)


def test_a_plugin_can_opt_in_to_every_process() -> None:
    everywhere = EveryProcess()
    run(1, 2, everywhere)
    assert everywhere.hooks()[0] == "train_start"
    assert [record.step for _, _, record in everywhere.records] == [1, 2]


def test_the_run_says_which_process_it_is() -> None:
    seen: list[tuple[int, int]] = []

    class Watcher:
        trainscope_all_processes = True

        @hookimpl
        def trainscope_train_start(self, run: RunInfo) -> None:
            seen.append((run.process_index, run.process_count))

    run(3, 4, Watcher())
    assert seen == [(3, 4)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"process_index": 2, "process_count": 2}, r"process_index must be below process_count \(2\), got 2"),
        ({"process_index": -1}, r"process_index must be between 0"),
        ({"process_count": 0}, r"process_count must be between 1"),
    ],
)
def test_bad_process_numbers_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainingSession("Net", 1, 1, plugins=[], **kwargs)


def test_a_single_process_without_jax_distributed_is_process_0_of_1() -> None:
    session = TrainingSession("Net", 1, 1, plugins=[])
    assert (session.run.process_index, session.run.process_count) == (0, 1)
