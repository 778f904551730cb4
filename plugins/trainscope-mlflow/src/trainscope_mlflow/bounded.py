"""MLflow calls made on a daemon thread of their own and waited for at most a timeout."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from trainscope.plugin_api import BackgroundWorker

T = TypeVar("T")


def call_within(timeout: float, name: str, call: Callable[[], T]) -> T:
    """``call()`` on a daemon thread named ``name``, waited for at most ``timeout`` seconds in all.

    Raises what ``call`` raised, or :class:`trainscope.WorkerTimeoutError` once the time is up:
    the thread is then left to itself (MLflow's retries go on in the background, and a daemon
    thread does not hold the process's exit).
    """
    results: list[T] = []
    worker = BackgroundWorker(name, capacity=1, timeout=timeout)
    worker.submit(lambda: results.append(call()))
    worker.close()
    return results[0]


__all__ = ["call_within"]
