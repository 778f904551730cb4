"""The reporter's thread that sends the spooled metrics to MLflow, a few times a second at most.

It wakes every :data:`SEND_INTERVAL` seconds, takes everything spooled and sends it in one
go. After a send it rests so that it works :data:`BUSY_SHARE` of the time at most: its
Python work holds the interpreter lock, which the training thread then waits for, so a
slow store makes it send less often (and the spool thins the steps), never the training
slower. The training thread never waits for it during the run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial

from trainscope.plugin_api import WorkerTimeoutError
from trainscope_mlflow.spool import Batch, MetricSpool

SEND_INTERVAL = 1.0
"""Seconds between two sends at least, while the run goes on."""
BUSY_SHARE = 0.05
"""The share of the time the thread may spend sending: after a send of t seconds it rests 19 t."""


class MetricSender:
    """Runs ``first`` (the run's set-up logging), then ``send(batches)`` of ``spool`` until closed.

    A call that raises stops the sending; :attr:`error` keeps the exception, which
    :meth:`close` raises (the training thread checks it at each batch).
    """

    def __init__(
        self,
        name: str,
        spool: MetricSpool,
        send: Callable[[list[Batch]], None],
        first: Callable[[], None] | None = None,
    ) -> None:
        self.spool = spool
        self.error: Exception | None = None
        self._send = send
        self._first = first
        self._wake = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _call(self, call: Callable[[], None]) -> float:
        """Seconds ``call`` took; its exception is kept in :attr:`error`."""
        started = time.monotonic()
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - handed to the training thread
            self.error = exc
        return time.monotonic() - started

    def _run(self) -> None:
        rest = self._call(self._first) * (1 - BUSY_SHARE) / BUSY_SHARE if self._first else 0.0
        while self.error is None:
            self._wake.wait(max(SEND_INTERVAL, rest))
            closing = self._closing
            batches = self.spool.take()
            took = self._call(partial(self._send, batches)) if batches else 0.0
            if closing:
                return
            rest = took * (1 - BUSY_SHARE) / BUSY_SHARE

    def close(self, timeout: float) -> None:
        """Send what is spooled now, waiting at most ``timeout`` seconds; raise the error of a call.

        Raises :class:`trainscope.WorkerTimeoutError` when the store did not take it in time
        (the thread is then left to itself: it is a daemon).
        """
        self._closing = True
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise WorkerTimeoutError(f"{self._thread.name}: the store took no metrics in {timeout:g} s")
        if self.error is not None:
            raise self.error


__all__ = ["BUSY_SHARE", "SEND_INTERVAL", "MetricSender"]
