"""Batches: shuffled by seed, evaluation batches with a mask, prefetching to the device.

With several processes each reads only its own ``rows`` of every global batch.
"""

from __future__ import annotations

import collections
import functools
import math
import queue
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any

import jax
import numpy as np
from numpy.typing import NDArray

from trainscope_jax.data.datasets import Batch, DataError, Dataset
from trainscope_jax.training.sharding import global_arrays

EvalBatch = tuple[NDArray[np.float32], NDArray[np.int32], NDArray[np.bool_]]


class BatchLoader:
    """Training batches of ``batch_size``, reshuffled every epoch from ``seed``.

    The last partial batch of an epoch is dropped (every batch has the same shape,
    so the step compiles once); shuffling puts every example in some epoch's batches.
    ``rows``: only these rows of each batch are read (one process's share of a global
    batch; every process shuffles alike from the same ``seed``).
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        rows: slice | None = None,
    ) -> None:
        if batch_size < 1:
            raise DataError(f"batch size must be at least 1, got {batch_size}")
        if len(dataset) < batch_size:
            raise DataError(
                f"batch size {batch_size} is larger than the {len(dataset)} training examples: "
                "use a smaller batch size or more data"
            )
        self.dataset, self.batch_size, self.shuffle, self.seed = dataset, batch_size, shuffle, seed
        self.rows = slice(0, batch_size) if rows is None else rows

    def __len__(self) -> int:
        return len(self.dataset) // self.batch_size

    def epoch(self, epoch: int) -> Iterator[Batch]:
        """The batches of one epoch (same ``seed`` and ``epoch``, same order)."""
        n = len(self.dataset)
        order = np.random.default_rng((self.seed, epoch)).permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield self.dataset.get_batch(order[start : start + self.batch_size][self.rows])


def evaluation_batches(dataset: Dataset, batch_size: int) -> list[NDArray[np.intp]]:
    """Indices of every example in at most ``batch_size`` per batch, batch sizes differing by at most one."""
    n = len(dataset)
    count = max(1, math.ceil(n / batch_size))
    return [part.astype(np.intp) for part in np.array_split(np.arange(n), count)]


def padded_batch(
    dataset: Dataset, indices: NDArray[np.intp], size: int, rows: slice | None = None
) -> EvalBatch:
    """The batch at ``indices`` padded to ``size`` examples, with a mask of the real ones.

    ``rows``: only these rows of the padded batch (one process's share), read alone.
    """
    rows = slice(0, size) if rows is None else rows
    start, stop, _ = rows.indices(size)
    real = indices[start:stop]
    if len(real):
        images, labels = dataset.get_batch(real)
    else:  # this process's rows are all padding
        images = np.zeros((0, *dataset.input_shape), np.float32)
        labels = np.zeros(0, np.int32)
    pad = (stop - start) - len(real)
    mask = np.ones(stop - start, dtype=np.bool_)
    if pad:
        images = np.concatenate([images, np.zeros((pad, *images.shape[1:]), images.dtype)])
        labels = np.concatenate([labels, np.zeros(pad, labels.dtype)])
        mask[len(real) :] = False
    return images, labels, mask


Put = Callable[[tuple[Any, ...]], tuple[Any, ...]]


def _identity(batch: tuple[Any, ...]) -> tuple[Any, ...]:
    return batch


def prefetch_to_device(
    batches: Iterable[tuple[Any, ...]],
    *,
    size: int = 2,
    device: jax.Device | jax.sharding.Sharding | None = None,
    background: bool = False,
    transfer: bool = True,
) -> Generator[tuple[Any, ...], None, None]:
    """Yield ``batches`` already copied to ``device``, ``size`` batches ahead.

    ``device`` may be a sharding: each array is then split across its devices; one that
    spans other processes' devices makes global arrays from this process's rows
    (``jax.make_array_from_process_local_data``).
    ``background=True`` reads the batches (decoding, augmenting) on a thread, so
    host-side data work overlaps the device's work on earlier steps.
    ``transfer=False`` yields the host arrays as they are (on the CPU, a jitted
    function takes NumPy arrays without the cost of a separate ``device_put``).
    """
    put: Put = _identity
    if transfer and isinstance(device, jax.sharding.Sharding) and not device.is_fully_addressable:
        put = functools.partial(global_arrays, device)
    elif transfer:
        put = lambda batch: jax.device_put(batch, device)  # noqa: E731
    if background:
        return _background(batches, size, put)
    if not transfer:
        return (batch for batch in batches)
    return _lookahead(batches, size, put)


def _lookahead(
    batches: Iterable[tuple[Any, ...]], size: int, put: Put
) -> Generator[tuple[Any, ...], None, None]:
    ready: collections.deque[tuple[Any, ...]] = collections.deque()
    for batch in batches:
        ready.append(put(batch))
        if len(ready) >= size:
            yield ready.popleft()
    while ready:
        yield ready.popleft()


_DONE = object()


def _background(
    batches: Iterable[tuple[Any, ...]], size: int, put: Put
) -> Generator[tuple[Any, ...], None, None]:
    slots: queue.Queue[Any] = queue.Queue(maxsize=max(1, size))
    stop = threading.Event()

    def offer(item: Any) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not offer(put(batch)):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises
            offer(exc)
            return
        offer(_DONE)

    worker = threading.Thread(target=produce, name="trainscope-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)


__all__ = ["BatchLoader", "evaluation_batches", "padded_batch", "prefetch_to_device"]
