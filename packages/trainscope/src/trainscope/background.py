"""A background thread that does a reporter's writing, so the training thread only hands work over."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

Job = Callable[[], None]


class WorkerTimeoutError(TimeoutError):
    """No job of the worker finished within the time allowed."""


class BackgroundWorker:
    """Runs submitted jobs one at a time, in order, on its own daemon thread.

    At most ``capacity`` jobs wait: :meth:`submit` blocks beyond that, so a writer that
    falls behind slows the training down instead of filling the memory. With a
    ``timeout`` (seconds), a wait that sees no job finish for that long raises
    :class:`WorkerTimeoutError` and sets :attr:`stalled`. After a job raises, the later
    ones are dropped and the error is re-raised by the next :meth:`submit` and by
    :meth:`close`.
    """

    def __init__(self, name: str, *, capacity: int = 2, timeout: float | None = None) -> None:
        self._jobs: queue.Queue[Job | None] = queue.Queue(capacity)
        self.timeout = timeout
        self.error: Exception | None = None
        self.stalled = False
        """True once a wait timed out: the thread may still be stuck in a job."""
        self._finished = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            if self.error is None:
                try:
                    job()
                except Exception as exc:  # noqa: BLE001 - handed to the training thread
                    self.error = exc
            self._finished += 1

    def submit(self, job: Job) -> None:
        """Queue ``job``; raises the error of an earlier job instead, if one failed."""
        self.raise_error()
        self._put(job)

    def _put(self, item: Job | None) -> None:
        try:
            self._jobs.put(item, timeout=self.timeout)
        except queue.Full:
            raise self._timed_out() from None

    def _timed_out(self) -> WorkerTimeoutError:
        self.stalled = True
        return WorkerTimeoutError(f"{self._thread.name}: no job finished in {self.timeout:g} s")

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        """Run every queued job, stop the thread, then raise the first job error (if any)."""
        if self._thread.is_alive():
            self._put(None)
            finished = -1
            while self._thread.is_alive() and finished != self._finished:
                finished = self._finished
                self._thread.join(self.timeout)
            if self._thread.is_alive():
                raise self._timed_out()
        self.raise_error()


__all__ = ["BackgroundWorker", "Job", "WorkerTimeoutError"]
