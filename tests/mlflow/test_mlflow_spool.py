"""The spool of metrics waiting for the store: bounded, thinned to a stride rather than blocking."""

from __future__ import annotations

import pytest

from trainscope_mlflow.spool import PENDING_VALUES, Batch, MetricSpool, kept_rows, thinned


@pytest.mark.parametrize(
    ("numbers", "shift", "every"),
    [
        (list(range(1, 101)), 0, 8),
        (list(range(1, 101)), 37, 4),
        ([1, 1, 2, 5, 8, 9, 16, 16, 30], 0, 4),  # repeated and skipped steps
        ([5, 3, 9, 12, 0], 3, 3),  # going backwards
        (list(range(0, 40)), 0, 1),
    ],
)
def test_the_rows_kept_are_those_on_the_stride(numbers: list[int], shift: int, every: int) -> None:
    rows = kept_rows(numbers, shift, every)
    picked = numbers[rows] if isinstance(rows, slice) else [numbers[i] for i in rows]
    assert picked == [number for number in numbers if (number + shift) % every == 0]


def batch(first: int, count: int, offset: int = 0) -> Batch:
    numbers = list(range(first, first + count))
    metrics: dict[str, list[float | None]] = {"loss": [1.0 / n for n in numbers], "accuracy": [0.5] * count}
    return Batch("train", numbers, [float(n) for n in numbers], metrics, offset=offset)


def test_a_spool_that_fills_doubles_its_stride_instead_of_growing() -> None:
    spool = MetricSpool()
    grew = [spool.add(batch(first, 4096)) for first in range(1, 100 * 4096, 4096)]
    assert len(spool) <= PENDING_VALUES
    assert grew[0]
    assert spool.every & (spool.every - 1) == 0  # a power of two
    steps = [step for waiting in spool.take() for step in waiting.steps()]
    assert steps == sorted(steps)
    assert all(step % spool.every == 0 for step in steps)
    assert len(spool) == 0
    assert spool.take() == []


def test_a_spool_that_keeps_up_keeps_every_step_by_reference() -> None:
    spool = MetricSpool()
    first = batch(1, 100, offset=1000)
    assert not spool.add(first)
    (taken,) = spool.take()
    assert taken is first
    assert taken.steps() == list(range(1001, 1101))


def test_epoch_means_are_never_thinned_and_validation_is_thinned_by_its_own_steps() -> None:
    spool = MetricSpool(every=4)
    means = Batch("epoch/train", [0], [1.0], {"loss": [0.5]}, at=7, thinnable=False)
    validation = Batch("validation", list(range(1, 11)), [1.0] * 10, {"loss": [0.1] * 10}, at=7)
    spool.add(means)
    spool.add(validation)
    kept_means, kept_validation = spool.take()
    assert kept_means == means
    assert kept_validation.numbers == [4, 8]
    assert kept_validation.steps() == [7, 7]


def test_thinning_keeps_the_columns_in_line() -> None:
    thin = thinned(batch(1, 20), 5)
    assert thin.numbers == [5, 10, 15, 20]
    assert thin.times == [5.0, 10.0, 15.0, 20.0]
    assert thin.metrics["loss"] == [1 / 5, 1 / 10, 1 / 15, 1 / 20]
