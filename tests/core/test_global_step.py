"""The x-axis both reporters log on: training steps done so far, never going back."""

from __future__ import annotations

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
