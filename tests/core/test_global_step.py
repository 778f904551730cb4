"""The x-axis both reporters log on: training steps done so far, never going back."""

from __future__ import annotations

import pytest

from trainscope import GlobalStep


def test_epochs_follow_each_other_and_validation_sits_at_the_last_training_step() -> None:
    axis = GlobalStep()
    assert axis.current == 0
    assert axis.training(1, [1, 2, 3]) == 0
    assert axis.current == 3
    assert axis.training(1, [4, 5]) == 0  # training resumes in the same epoch (after a validation)
    assert axis.current == 5
    assert axis.training(2, [1, 2]) == 5
    assert axis.current == 7


def test_epochs_counted_from_zero_do_not_repeat_a_step() -> None:
    axis = GlobalStep()
    offsets = [axis.training(epoch, [0, 1]) for epoch in (1, 2, 3)]
    assert [offset + step for offset in offsets for step in (0, 1)] == [1, 2, 3, 4, 5, 6]


def test_an_empty_batch_changes_nothing() -> None:
    axis = GlobalStep()
    axis.training(1, [1, 2])
    assert axis.training(2, [1, 2]) == 2
    assert axis.training(3, []) == 2  # the offset so far, and epoch 3 not begun
    assert axis.current == 4
    assert axis.training(3, [1]) == 4  # epoch 3 begins with its first step


def test_steps_numbered_across_epochs_keep_their_numbers() -> None:
    axis = GlobalStep()
    assert axis.training(1, [1, 2, 3]) == 0
    assert axis.training(2, [4, 5]) == 0  # the loop counts on: step 4 is the 4th step done
    assert axis.current == 5
    assert axis.training(3, [1, 2]) == 5  # a later epoch numbering afresh still follows on
    assert axis.current == 7


@pytest.mark.parametrize(
    "epochs",
    [
        [[1, 2, 3], [1, 2, 3], [1, 2]],  # from 1 each epoch
        [[0, 1], [0, 1], [0, 1, 2]],  # from 0 each epoch
        [[1, 2, 3], [4, 5, 6], [7, 8]],  # counted across epochs
        [[10, 20, 30], [10, 20], [40, 50]],  # every 10th step, afresh then on
        [[5, 6], [1, 2], [3, 4]],  # a resumed first epoch, then afresh, then on
    ],
)
def test_the_axis_is_the_run_log_readers(epochs: list[list[int]]) -> None:
    """TensorBoard and MLflow plot on the x-axis ``trainscope log`` and ``trainscope plot`` use."""
    reader = pytest.importorskip("trainscope_jsonl").GlobalStep()
    axis = GlobalStep()
    for epoch, steps in enumerate(epochs, 1):
        half = len(steps) // 2  # two batches: the second resumes the epoch (as after a validation)
        for batch in (steps[:half], steps[half:]):
            offset = axis.training(epoch, batch)
            assert [offset + step for step in batch] == [reader.advance(step) for step in batch]
