"""Each process's own time per training step, shared through JAX's key-value store (the one
the peer watcher beats through): process 0 gathers them, and its summary names a straggler.

A process's own time is the time it did not wait for the device: reading its batches and its
host work. In a synchronous data-parallel run every process's wall time per step is the same
(the collectives wait for the slowest), so the straggler is the one whose own time is longest.
"""

from __future__ import annotations

import contextlib
from typing import Any

TIMES_KEY = "trainscope/own-step-time/{process}"
_DIRECTORY = "trainscope/own-step-time/"


def share_own_time(client: Any, me: int, own: tuple[int, float]) -> None:
    """Publish this process's ``(epoch, own time per step)`` (nothing if the store is gone)."""
    with contextlib.suppress(Exception):
        client.key_value_set(TIMES_KEY.format(process=me), f"{own[0]}|{own[1]!r}", allow_overwrite=True)


def gather_own_times(client: Any, me: int, mine: tuple[int, float]) -> dict[int, tuple[int, float]]:
    """Every process's last published ``(epoch, own time per step)``, this one's (``mine``) included."""
    times = {me: mine}
    try:
        found = client.key_value_dir_get(_DIRECTORY)
    except Exception:  # noqa: BLE001 - the store is gone: JAX ends this process
        return times
    for key, value in found:
        process = str(key).rsplit("/", 1)[-1]
        if process.isdigit() and int(process) != me:
            epoch, _, seconds = str(value).partition("|")
            with contextlib.suppress(ValueError):
                times[int(process)] = (int(epoch), float(seconds))
    return times


__all__ = ["TIMES_KEY", "gather_own_times", "share_own_time"]
