"""Data parallelism with ``jax.sharding``: a one-axis mesh over the devices a run uses.

Each global batch is split along its first dimension across the mesh's ``data`` axis;
parameters and optimizer state are replicated. With several processes
(``jax.distributed``) the mesh spans every process's devices and each process holds,
and reads, only its own rows of each global batch.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec, Sharding

from trainscope.device_arrays import addressable

DATA_AXIS = "data"
"""The name of the mesh axis a batch is split along."""


class BatchSizeError(ValueError):
    """A batch that does not split evenly across the devices; the message names both numbers."""


class DeviceCountError(ValueError):
    """More devices were asked for than this process has; the message names both numbers."""


@dataclass(frozen=True)
class DataParallel:
    """The devices of a data-parallel run and the shardings of its arrays."""

    mesh: Mesh
    batch: NamedSharding
    """Split along the first dimension across every device of the mesh."""
    replicated: NamedSharding
    """A whole copy on every device of the mesh (parameters, optimizer state, metrics)."""

    @property
    def devices(self) -> list[jax.Device]:
        """Every device of the mesh, across all processes, in mesh order."""
        return list(self.mesh.devices.flat)

    @property
    def size(self) -> int:
        """The number of devices a batch is split across (every process's)."""
        return int(self.mesh.devices.size)

    @property
    def local_devices(self) -> list[jax.Device]:
        """This process's devices of the mesh."""
        return [device for device in self.devices if device.process_index == jax.process_index()]

    @property
    def process_index(self) -> int:
        """This process's index (0 in a single process)."""
        return int(jax.process_index())

    @property
    def process_count(self) -> int:
        """The processes whose devices the mesh spans."""
        return len({device.process_index for device in self.devices})

    @property
    def multi_process(self) -> bool:
        """True when the mesh spans devices of other processes (``jax.distributed``)."""
        return self.process_count > 1

    @property
    def sharded(self) -> bool:
        """True when arrays are placed with the shardings (more than one device)."""
        return self.size > 1

    def check_batch_size(self, batch_size: int, what: str = "batch size") -> None:
        """Refuse a global batch that does not split evenly across the devices."""
        if batch_size % self.size:
            lower = batch_size - batch_size % self.size
            hint = f"{lower} or {lower + self.size}" if lower else f"{self.size}"
            where = f"{self.size} devices" + (
                f" of {self.process_count} processes" if self.multi_process else ""
            )
            raise BatchSizeError(
                f"{what} {batch_size} does not divide evenly across the {where}: use a multiple of "
                f"{self.size} (such as {hint}), or train on fewer devices"
            )

    def padded_size(self, size: int) -> int:
        """``size`` rounded up to a multiple of the device count (for padded, masked batches)."""
        return math.ceil(size / self.size) * self.size

    def rows(self, batch_size: int) -> slice:
        """This process's rows of a global batch of ``batch_size`` (all of them in one process)."""
        if not self.multi_process:
            return slice(0, batch_size)
        spans: list[Any] = list(self.batch.addressable_devices_indices_map((batch_size,)).values())
        starts = sorted((index[0].start or 0, index[0].stop) for index in spans)
        if any(stop != start for (_, stop), (start, _) in itertools.pairwise(starts)):
            raise ValueError("this process's devices hold rows of the batch that are not contiguous")
        return slice(starts[0][0], starts[-1][1])

    def put_replicated(self, tree: Any) -> Any:
        """``tree`` with a whole copy of every array on every device of the mesh.

        Every process must pass the same values (built from the same seed).
        """
        if not self.multi_process:
            return jax.device_put(tree, self.replicated)
        return jax.tree.map(self._replicate_leaf, tree)

    def _replicate_leaf(self, leaf: Any) -> Any:
        if not isinstance(leaf, jax.Array):
            return leaf
        local = addressable(leaf)
        copies = [jax.device_put(local, device) for device in self.local_devices]
        return jax.make_array_from_single_device_arrays(leaf.shape, self.replicated, copies)

    def global_batch(self, arrays: Sequence[Any]) -> tuple[Any, ...]:
        """Global arrays split across the mesh from this process's rows of each (:func:`global_arrays`)."""
        return global_arrays(self.batch, arrays)

    def local_copy(self, tree: Any) -> Any:
        """``tree`` with every replicated array replaced by this process's first copy of it."""

        def first_copy(leaf: Any) -> Any:
            if isinstance(leaf, jax.Array) and len(leaf.sharding.device_set) > 1:
                return leaf.addressable_shards[0].data
            return leaf

        return jax.tree.map(first_copy, tree)

    def describe(self) -> list[str]:
        """``platform:id`` of every device of the mesh (``cpu:0``, ``cuda:1``, ...)."""
        return [f"{device.platform}:{device.id}" for device in self.devices]


def global_arrays(sharding: Sharding, arrays: Sequence[Any]) -> tuple[Any, ...]:
    """Global arrays placed with ``sharding`` from this process's rows of each
    (``jax.make_array_from_process_local_data``); arrays that already span other
    processes' devices are kept as they are."""
    return tuple(
        array
        if isinstance(array, jax.Array) and not array.is_fully_addressable
        else jax.make_array_from_process_local_data(sharding, np.asarray(array))
        for array in arrays
    )


def data_parallel(devices: int | None = None) -> DataParallel:
    """A data-parallel mesh over ``devices`` local devices of every process (None: all of them).

    :raises DeviceCountError: ``devices`` is more than this process has; the message names both.
    """
    local = jax.local_devices()
    if devices is not None and devices > len(local):
        platform = local[0].platform
        raise DeviceCountError(
            f"{devices} devices were requested but this process has {len(local)} {platform} "
            f"device{'s' if len(local) != 1 else ''}: use at most {len(local)}"
        )
    count = len(local) if devices is None else devices
    if jax.process_count() == 1:
        chosen = local[:count]
    else:
        by_process: dict[int, list[jax.Device]] = {}
        for device in sorted(jax.devices(), key=lambda d: (d.process_index, d.id)):
            by_process.setdefault(device.process_index, []).append(device)
        chosen = [device for process in sorted(by_process) for device in by_process[process][:count]]
    mesh = Mesh(np.array(chosen), (DATA_AXIS,))
    return DataParallel(
        mesh, NamedSharding(mesh, PartitionSpec(DATA_AXIS)), NamedSharding(mesh, PartitionSpec())
    )


__all__ = [
    "DATA_AXIS",
    "BatchSizeError",
    "DataParallel",
    "DeviceCountError",
    "data_parallel",
    "global_arrays",
]
