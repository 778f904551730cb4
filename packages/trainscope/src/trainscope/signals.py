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

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, NoReturn

HANDLED_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)
"""The signals a running session turns into :class:`Terminated`."""
INTERRUPTED_EXIT_CODE = 130  # 128 + SIGINT
"""Exit status after Ctrl-C, as shells report a process ended by SIGINT."""


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

    open_runs = 0
    """Runs of this process whose guard is installed: a run is open (see :class:`InterruptLatch`)."""

    def __init__(self) -> None:
        self._previous: dict[signal.Signals, Callable[[int, FrameType | None], Any] | int | None] = {}
        self._installed = False

    def install(self) -> None:
        if not self._installed:
            self._installed = True
            SignalGuard.open_runs += 1
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in HANDLED_SIGNALS:
            current = signal.getsignal(signum)
            if current is signal.SIG_DFL:
                signal.signal(signum, _raise_terminated)
                self._previous[signum] = current

    def restore(self) -> None:
        if self._installed:
            self._installed = False
            SignalGuard.open_runs -= 1
        previous, self._previous = self._previous, {}
        for signum, handler in previous.items():
            if signal.getsignal(signum) is _raise_terminated:
                signal.signal(signum, handler)


def interruption_line(signum: int) -> str:
    """The one line a command prints when a signal ends it: ``Interrupted.``, ``Terminated by SIGTERM.``"""
    return "Interrupted." if signum == signal.SIGINT else f"Terminated by {signal.Signals(signum).name}."


def exit_status(signum: int) -> int:
    """128 + the signal number: 130 for Ctrl-C, 143 for SIGTERM, as a shell reports them."""
    return 128 + signum


def exit_now(signum: int, *, say: bool = True) -> NoReturn:
    """End the process at once with :func:`exit_status`, first printing
    :func:`interruption_line` (unless ``say`` is false).

    The line goes straight to the file descriptor: safe inside a signal handler that
    interrupted a write to ``sys.stderr``. The interpreter's teardown is skipped.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    if say:
        with contextlib.suppress(OSError):
            os.write(2, f"\n{interruption_line(signum)}\n".encode())
    os._exit(exit_status(signum))


def interruption(signum: int) -> BaseException:
    """The exception a signal turns into: KeyboardInterrupt for SIGINT, else :class:`Terminated`."""
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


class InterruptLatch:
    """Turns Ctrl-C, SIGTERM and SIGHUP into exceptions, and remembers that one came.

    Python can lose a KeyboardInterrupt: raised inside a garbage-collection callback or a
    ``__del__`` (as JAX's start-up runs them), it is printed as "Exception ignored" and the
    program goes on. The latch keeps the signal, so that :meth:`check`, called at safe
    points (between start-up stages, at each hook of a run), raises it again: an interrupt
    is never lost. Only signals at their default action are taken (a handler the program
    set, or SIGHUP ignored under ``nohup``, is left alone); only on the main thread.
    Python's report of the swallowed exception ("Exception ignored in ...") is kept off
    the screen.

    With ``exit_outside_runs`` (a command-line program), a signal while no run is open
    (before the first, after the last) ends the process at once with one line and status
    130 (128 + the signal): there is nothing to close, and an exception raised in the
    middle of a native library's import or start-up can crash the interpreter.
    """

    def __init__(self, *, exit_outside_runs: bool = False) -> None:
        self.exit_outside_runs = exit_outside_runs
        self.signum: int | None = None
        """The first signal received, or None."""
        self._previous: dict[int, Any] = {}
        self._previous_hook: Callable[[Any], object] | None = None

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        defaults = {
            signal.SIGINT: signal.default_int_handler,
            **dict.fromkeys(HANDLED_SIGNALS, signal.SIG_DFL),
        }
        for signum, default in defaults.items():
            current = signal.getsignal(signum)
            if current is default:
                signal.signal(signum, self._receive)
                self._previous[signum] = current
        if self._previous_hook is None:
            self._previous_hook, sys.unraisablehook = sys.unraisablehook, self._unraisable

    def restore(self) -> None:
        previous, self._previous = self._previous, {}
        for signum, handler in previous.items():
            if signal.getsignal(signum) == self._receive:
                signal.signal(signum, handler)
        if self._previous_hook is not None and sys.unraisablehook == self._unraisable:
            sys.unraisablehook = self._previous_hook
        self._previous_hook = None

    def _unraisable(self, unraisable: Any) -> None:
        """Python's hook for an exception it cannot raise: silent for the latch's own."""
        if self.signum is not None and isinstance(unraisable.exc_value, (KeyboardInterrupt, Terminated)):
            return  # kept: the next check raises it again
        hook = self._previous_hook or sys.__unraisablehook__
        hook(unraisable)

    def _receive(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
        if self.exit_outside_runs and not SignalGuard.open_runs:
            exit_now(signum)
        raise interruption(signum)

    def check(self) -> None:
        """Raise the signal received, if any (again, when its first exception was swallowed)."""
        if self.signum is not None:
            raise interruption(self.signum)


__all__ = [
    "HANDLED_SIGNALS",
    "INTERRUPTED_EXIT_CODE",
    "InterruptLatch",
    "SignalGuard",
    "Terminated",
    "exit_now",
    "exit_status",
    "interruption",
    "interruption_line",
]
