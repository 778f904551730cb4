"""Who may call a session: the thread that started its run, never a reporter's hook, and nobody
once another thread ended the run. Also the one "ended once" gate."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from trainscope.run import RunStatus
from trainscope.session.errors import called_from_other_thread, called_from_reporter, ended_elsewhere

IN_REPORTERS = -1
"""The owner while reporters run: a call back into the session from a hook fails."""
ENDED_ELSEWHERE = -2
"""The owner once another thread ended the run: every further call fails."""
END_WAIT = 60.0
"""Seconds the run's thread waits, at its own end, for another thread's end of the run to
finish reaching the reporters (so that it cannot end the process while a log is closing)."""
thread_id = threading.get_ident


class Ownership:
    """The run's thread, who may call now (``caller``), and whether and how the run ended.

    ``caller`` is the run's thread id while the loop may call, :data:`IN_REPORTERS` while a
    hook runs and :data:`ENDED_ELSEWHERE` once another thread ended the run: a step compares
    it with its own thread's id, one comparison on the per-step path.
    """

    def __init__(self) -> None:
        self.thread: int | None = None
        """The thread that started the run: the only one that may call the session."""
        self.caller: int | None = None
        self.ended = False
        self.ended_as: tuple[RunStatus, BaseException | None] | None = None
        """How another thread ended the run, or None."""
        self._lock = threading.Lock()
        self._reporting = threading.RLock()
        """Held while reporters run a hook: another thread's end waits for the hook in flight."""
        self._ended_elsewhere = threading.Event()
        """Set once another thread's end reached every reporter."""

    def start(self) -> None:
        """The calling thread owns the run from now on."""
        self.thread = self.caller = thread_id()

    def on_run_thread(self) -> bool:
        """True on the run's thread, or before the run started."""
        return self.thread is None or thread_id() == self.thread

    def check(self, method: str) -> None:
        """Refuse a call from inside a reporter's hook, from another thread, or after another
        thread ended the run."""
        if self.thread is None or self.caller == thread_id():
            return
        if self.ended_as is not None:
            raise ended_elsewhere(method, *self.ended_as)
        if self.thread == thread_id():
            raise called_from_reporter(method)
        raise called_from_other_thread(method)

    def end_once(self) -> bool:
        """Mark the run ended; False when it already was (the one gate for "ended once")."""
        with self._lock:
            if self.ended:
                return False
            self.ended = True
            return True

    def end_elsewhere(self, train_end: Callable[[], None]) -> None:
        """The run was ended from another thread (:meth:`mark_ended_elsewhere`): call
        ``train_end`` once the hook in flight on the run's thread, if any, has returned (waiting
        at most :data:`END_WAIT` seconds), and let the run's thread know when it is done."""
        got = self._reporting.acquire(timeout=END_WAIT)
        try:
            train_end()
        finally:
            if got:
                self._reporting.release()
            self._ended_elsewhere.set()

    def mark_ended_elsewhere(self, status: RunStatus, error: BaseException | None) -> bool:
        """End the run from another thread: from now on every call of the session fails, and the
        reporters hear nothing more from the run's thread. False when the run had ended."""
        with self._lock:
            if self.ended:
                return False
            self.ended = True
            self.ended_as = (status, error)
            self.caller = ENDED_ELSEWHERE
            return True

    def wait_for_end_elsewhere(self) -> None:
        """On the run's thread, after another thread ended the run: wait until its end reached
        every reporter (at most :data:`END_WAIT` seconds)."""
        if self.ended_as is not None:
            self._ended_elsewhere.wait(END_WAIT)

    def tell(self, hook: Callable[..., None], *args: Any) -> None:
        """Call a plugin-manager hook; a call back into the session from it fails."""
        if self.caller == ENDED_ELSEWHERE:
            return  # another thread ended the run: the reporters hear nothing after its end
        self.caller = IN_REPORTERS
        try:
            with self._reporting:
                if self.ended_as is None:  # not ended elsewhere while this thread waited
                    hook(*args)
        finally:
            with self._lock:  # an end from another thread meanwhile keeps its mark
                if self.caller == IN_REPORTERS:
                    self.caller = self.thread


__all__ = ["ENDED_ELSEWHERE", "END_WAIT", "IN_REPORTERS", "Ownership", "thread_id"]
