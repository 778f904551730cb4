"""SIGTERM and SIGHUP end a run like Ctrl-C: reporters close, the log gets its ``run_end``.

Job schedulers stop a job with SIGTERM (then SIGKILL after a grace period) and a closed
terminal sends SIGHUP. By default either kills Python on the spot: no ``run_end``, the
last buffered steps lost. While a run is open, a session turns them into
:class:`Terminated` on the main thread, so the run ends as ``interrupted`` with the
signal named, and the process then exits with status 128 + the signal number, as a
shell reports a process killed by that signal. A handler the program installed itself
is left alone.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

HANDLED_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)
"""The signals a running session turns into :class:`Terminated`."""


class Terminated(SystemExit):
    """The process received SIGTERM or SIGHUP while a run was open.

    A ``SystemExit`` with code 128 + the signal number: uncaught, the process exits
    with that status and no traceback. The run ends as ``interrupted``.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum
        self.signal_name = signal.Signals(signum).name

    def __str__(self) -> str:
        return f"terminated by {self.signal_name}"


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signum)


class SignalGuard:
    """Installs :func:`_raise_terminated` for :data:`HANDLED_SIGNALS` while a run is open.

    Only on the main thread (Python delivers signals there) and only for signals
    still at their default action.
    """

    def __init__(self) -> None:
        self._previous: dict[signal.Signals, Callable[[int, FrameType | None], Any] | int | None] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in HANDLED_SIGNALS:
            current = signal.getsignal(signum)
            if current is signal.SIG_DFL:
                signal.signal(signum, _raise_terminated)
                self._previous[signum] = current

    def restore(self) -> None:
        previous, self._previous = self._previous, {}
        for signum, handler in previous.items():
            if signal.getsignal(signum) is _raise_terminated:
                signal.signal(signum, handler)


__all__ = ["HANDLED_SIGNALS", "SignalGuard", "Terminated"]
