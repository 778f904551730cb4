"""The metrics waiting for the MLflow store: a bounded spool that thins the steps instead of blocking.

The training thread adds each batch of steps by reference (no per-step work while the
store keeps up). When more than :data:`PENDING_VALUES` values wait, the store is slower
than the training: the spool doubles its stride, keeping only the steps whose number is
a multiple of it (training: the run's global step; validation: the phase's step), those
waiting included, and goes on from there. The stride never goes back down within a run.
Epoch means are never thinned.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import NamedTuple

PENDING_VALUES = 4096
"""Metric values that may wait for the store (2,048 steps of a loss and an accuracy); past it the
stride doubles. It bounds the memory, and what one send and the run's end have to send."""
MAX_STRIDE = 1 << 30


class Batch(NamedTuple):
    """Metrics of some steps: ``prefix/<name>`` at ``offset + number`` (or all at ``at``)."""

    prefix: str
    numbers: Sequence[int]
    times: Sequence[float]
    metrics: Mapping[str, Sequence[float | None]]
    offset: int = 0
    at: int | None = None
    thinnable: bool = True

    def size(self) -> int:
        """Its values, counting missing ones."""
        return len(self.numbers) * len(self.metrics)

    def steps(self) -> list[int]:
        """The MLflow step of each row."""
        if self.at is not None:
            return [self.at] * len(self.numbers)
        offset = self.offset
        return [offset + number for number in self.numbers] if offset else list(self.numbers)


def kept_rows(numbers: Sequence[int], shift: int, every: int) -> slice | list[int]:
    """The rows whose ``number + shift`` is a multiple of ``every`` (a slice for consecutive numbers)."""
    if every == 1 or not numbers:
        return slice(None)
    first = numbers[0]
    if numbers[-1] - first == len(numbers) - 1 and list(numbers) == list(range(first, first + len(numbers))):
        return slice(-(first + shift) % every, None, every)
    return [i for i, number in enumerate(numbers) if (number + shift) % every == 0]


def _pick(column: Sequence[object], rows: slice | list[int]) -> list[object]:
    return list(column[rows]) if isinstance(rows, slice) else [column[i] for i in rows]


def thinned(batch: Batch, every: int) -> Batch:
    """``batch`` with only the rows of stride ``every``."""
    if not batch.thinnable or every == 1:
        return batch
    rows = kept_rows(batch.numbers, batch.offset if batch.at is None else 0, every)
    if rows == slice(None):
        return batch
    return batch._replace(
        numbers=_pick(batch.numbers, rows),  # type: ignore[arg-type]
        times=_pick(batch.times, rows),  # type: ignore[arg-type]
        metrics={name: _pick(column, rows) for name, column in batch.metrics.items()},  # type: ignore[misc]
    )


class MetricSpool:
    """Batches waiting for the store, at most :data:`PENDING_VALUES` values (see the module)."""

    def __init__(self, every: int = 1, limit: int = PENDING_VALUES) -> None:
        self.every = every
        """The stride: every N-th step is kept."""
        self.limit = limit
        self._batches: list[Batch] = []
        self._values = 0
        self._lock = threading.Lock()

    def add(self, batch: Batch) -> bool:
        """Queue ``batch`` (thinned to the stride); True when the stride grew to make room."""
        batch = thinned(batch, self.every)
        grew = False
        with self._lock:
            while self._values + batch.size() > self.limit and self.every < MAX_STRIDE:
                self.every *= 2
                grew = True
                self._batches = [thinned(waiting, self.every) for waiting in self._batches]
                batch = thinned(batch, self.every)
                self._values = sum(waiting.size() for waiting in self._batches)
            if batch.numbers:
                self._batches.append(batch)
                self._values += batch.size()
        return grew

    def take(self) -> list[Batch]:
        """Every waiting batch, in order; the spool is then empty."""
        with self._lock:
            taken, self._batches, self._values = self._batches, [], 0
        return taken

    def __len__(self) -> int:
        """The values waiting."""
        return self._values


__all__ = ["PENDING_VALUES", "Batch", "MetricSpool", "kept_rows", "thinned"]
