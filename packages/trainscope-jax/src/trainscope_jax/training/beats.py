"""trainscope's own heartbeat between the processes of a run, through JAX's key-value store.

Each process's peer watcher writes a fresh value under its key every beat; a process
whose value has not changed for the peer timeout (``distributed.peer_timeout``) counts as
lost. A process is judged only once it has beaten during the run, and no more once its
run ended (``end``) or it is leaving (``exit``). This comes well before JAX's own heartbeat
timeout, after which JAX aborts every process (a C++ stack, no ``run_end``).
"""

from __future__ import annotations

import contextlib
import itertools
import time
from typing import Any

BEAT_KEY = "trainscope/beat/{process}"
END = "end"
"""This process's run ended: the others stop judging it."""
EXIT = "exit"
"""This process is leaving the run (it ends because another failed): no longer judged."""
_DIRECTORY = "trainscope/beat/"
_counter = itertools.count()  # unique across the runs of one process


def beat_interval(timeout: float) -> float:
    """Seconds between two beats: at least five beats per timeout, at most one a second."""
    return min(1.0, timeout / 5)


class Beats:
    """This process's beats, and what it has seen of the others'."""

    def __init__(self, client: Any, me: int, count: int, timeout: float) -> None:
        self.client, self.me, self.count, self.timeout = client, me, count, timeout
        self._seen: dict[int, tuple[str, float]] = {}

    def beat(self, value: str | None = None) -> None:
        """Write a fresh beat (or ``value``); nothing if the store cannot be reached (JAX ends us)."""
        with contextlib.suppress(Exception):
            key = BEAT_KEY.format(process=self.me)
            self.client.key_value_set(key, value or str(next(_counter)), allow_overwrite=True)

    def values(self) -> dict[int, str]:
        """Every other process's last value (those that have written one)."""
        try:
            found = self.client.key_value_dir_get(_DIRECTORY)
        except Exception:  # noqa: BLE001 - the store is gone: JAX ends this process
            return {}
        values = {}
        for key, value in found:
            process = str(key).rsplit("/", 1)[-1]
            if process.isdigit() and int(process) != self.me:
                values[int(process)] = str(value)
        return values

    def lost(self) -> int | None:
        """A process silent for the timeout since it last beat, or None."""
        now = time.monotonic()
        for process, value in self.values().items():
            last = self._seen.get(process)
            if last is None or last[0] != value:
                self._seen[process] = (value, now)
            elif value not in (END, EXIT) and now - last[1] > self.timeout:
                return process
        return None

    def wait_for_others(self, lost: int | None, timeout: float) -> None:
        """Until every other process that beats (but ``lost``) has left or ended, at most ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(value in (END, EXIT) for p, value in self.values().items() if p != lost):
                return
            time.sleep(0.1)


__all__ = ["BEAT_KEY", "END", "EXIT", "Beats", "beat_interval"]
