"""Batched device-to-host conversion of JAX arrays, without importing JAX.

The core never imports jax: when a buffer holds JAX arrays, jax is already imported
by the caller, and this module uses that module object. The scalars are stacked on
the device by one jitted call and copied to the host in one transfer. A stack holds
:data:`SMALL_STACK` or :data:`MAX_STACK` values (padded with repeats), so a run
compiles two stackers at most (each costs 50-300 ms on the training thread).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")

MAX_STACK = 256
"""Values per stacked transfer at most."""
SMALL_STACK = 32
"""The stack of a flush with few values: padding it to 256 would cost about 0.4 ms more."""


def jax_array_type() -> type | None:
    """``jax.Array`` if jax is imported, else None."""
    jax = sys.modules.get("jax")
    return getattr(jax, "Array", None) if jax is not None else None


def distributed_process() -> tuple[int, int] | None:
    """``(process_index, process_count)`` when JAX's multi-controller runtime is initialized
    (``jax.distributed.initialize``) in this process; None otherwise, or without jax."""
    jax = sys.modules.get("jax")
    if jax is None:
        return None
    is_initialized = getattr(getattr(jax, "distributed", None), "is_initialized", None)
    try:
        if is_initialized is not None:
            initialized = bool(is_initialized())
        else:  # JAX before is_initialized(): the runtime's client exists once initialized
            from jax._src import distributed

            initialized = distributed.global_state.client is not None
        if not initialized:
            return None
        return int(jax.process_index()), int(jax.process_count())
    except Exception:  # noqa: BLE001 - not initialized, or a backend error: a single process
        return None


def addressable(value: Any) -> Any:
    """``value``, or for an array that spans devices of other processes this process's copy of
    it (a replicated value, such as a loss averaged over the global batch, is whole on every
    device that holds it)."""
    if getattr(value, "is_fully_addressable", True):
        return value
    return value.addressable_shards[0].data


def device_kind() -> str | None:
    """The kind of the first local JAX device (``NVIDIA H100 80GB HBM3``), or None without jax."""
    jax = sys.modules.get("jax")
    if jax is None:
        return None
    try:
        return str(jax.local_devices()[0].device_kind)
    except Exception:  # noqa: BLE001 - no backend: nothing to say
        return None


def peak_device_memory() -> int | None:
    """The largest ``peak_bytes_in_use`` of the local JAX devices, or None where the backend
    does not report it (the CPU, jax-metal) or jax is not imported."""
    jax = sys.modules.get("jax")
    if jax is None:
        return None
    peaks: list[int] = []
    try:
        devices = jax.local_devices()
    except Exception:  # noqa: BLE001 - no backend
        return None
    for device in devices:
        try:
            stats = device.memory_stats()
        except Exception:  # noqa: BLE001 - the backend has no memory statistics
            stats = None
        if stats and "peak_bytes_in_use" in stats:
            peaks.append(int(stats["peak_bytes_in_use"]))
    return max(peaks) if peaks else None


def ready_prefix(rows: Sequence[T], values: Callable[[T], Iterable[Any]]) -> int:
    """How many leading rows hold only computed values (``is_ready()``, or not device arrays).

    A device runs its work in order, so readiness is monotone along the buffer:
    a binary search asks O(log n) rows.
    """

    def ready(row: T) -> bool:
        for value in values(row):
            is_ready = getattr(value, "is_ready", None)
            if is_ready is not None and not is_ready():
                return False
        return True

    low, high = 0, len(rows)  # rows[:low] are ready; rows[high:] are not
    while low < high:
        middle = (low + high) // 2
        if ready(rows[middle]):
            low = middle + 1
        else:
            high = middle
    return low


@cache
def _stacker() -> Callable[..., Any]:
    """One jitted stack of scalars; JAX compiles it once per number of arguments."""
    jax = sys.modules["jax"]
    jnp = jax.numpy

    def stack(*values: Any) -> Any:
        return jnp.stack([jnp.reshape(v, ()).astype(float) for v in values])

    return jax.jit(stack)


def fetch_scalars(arrays: list[Any]) -> list[float]:
    """Host floats for a list of one-element JAX arrays: one stacked transfer per 256 values.

    Falls back to ``jax.device_get`` when the arrays cannot be stacked (for example,
    when they live on different devices). An array that spans devices of other processes
    (``jax.distributed``) is read from this process's copy: metrics must be replicated
    across processes (computed on the global batch), as the trainer's are.
    """
    out: list[float] = []
    if arrays and not getattr(arrays[0], "is_fully_addressable", True):  # one check: runs are uniform
        arrays = [addressable(value) for value in arrays]
    for start in range(0, len(arrays), MAX_STACK):
        chunk = arrays[start : start + MAX_STACK]
        size = SMALL_STACK if len(chunk) <= SMALL_STACK else MAX_STACK
        padded = chunk + [chunk[-1]] * (size - len(chunk))
        try:
            host = _stacker()(*padded).__array__()
        except Exception:  # noqa: BLE001 - mixed devices, non-scalars: convert one by one
            jax = sys.modules["jax"]
            out.extend(float(value.reshape(())) for value in jax.device_get(chunk))
            continue
        out.extend(host[: len(chunk)].tolist())
    return out
