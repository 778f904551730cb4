"""The log file: created before the first epoch, written in whole lines, synced to disk."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from trainscope import PluginFatalError
from trainscope import environment_variables as core_env

DEFAULT_LOG_DIR = "runs"
"""Where logs go when ``TRAINSCOPE_LOG_DIR`` is not set (relative to the working directory)."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class LogDirectoryError(PluginFatalError, OSError):
    """The run log cannot be created; the message names the path and what to do.

    Raised at ``trainscope_train_start``, it stops the run before the first epoch.
    """


def log_directory(environ: Mapping[str, str] | None = None) -> Path:
    """``TRAINSCOPE_LOG_DIR``, or ``runs`` when unset or empty."""
    value = (os.environ if environ is None else environ).get(core_env.TRAINSCOPE_LOG_DIR, "")
    return Path(value.strip() or DEFAULT_LOG_DIR)


def log_file_name(run_name: str, run_id: str, start_time: float) -> str:
    """``20260509T073512.123Z-CatDogCNN-1a2b3c4d.jsonl``: UTC start time first, so names sort by start."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(start_time))
    millis = int((start_time % 1) * 1000)
    name = _UNSAFE.sub("_", run_name).strip("._")[:64] or "run"
    return f"{stamp}.{millis:03d}Z-{name}-{run_id[:8]}.jsonl"


_IOV_MAX = 1024
"""Buffers per ``writev`` call (the POSIX minimum of IOV_MAX)."""


@contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """Hold Ctrl-C back while a write runs, so that it never cuts a line in two.

    Python's SIGINT handler is swapped for one that only notes the signal; the
    original handler runs (raising KeyboardInterrupt) as soon as the write is done.
    Only on the main thread, and only when the current handler is a Python one.
    """
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous) or threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[FrameType | None] = []

    def note(signum: int, frame: FrameType | None) -> None:
        received.append(frame)

    signal.signal(signal.SIGINT, note)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            previous(signal.SIGINT, received[0])


class LogWriter:
    """An open run log. Each :meth:`write` hands whole lines to the OS at once, unbuffered,
    with Ctrl-C deferred until they are written.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)

    @classmethod
    def create(cls, directory: Path, file_name: str) -> LogWriter:
        """Create ``directory`` if needed and a new log file in it, or raise :class:`LogDirectoryError`."""
        path = directory / file_name
        try:
            directory.mkdir(parents=True, exist_ok=True)
            return cls(path)
        except OSError as exc:
            raise LogDirectoryError(
                exc.errno,
                f"trainscope-jsonl cannot create the run log {str(path)!r}: "
                f"{exc.strerror or exc}. Set {core_env.TRAINSCOPE_LOG_DIR} to a writable directory, "
                f"or block the log with {core_env.TRAINSCOPE_DISABLE_PLUGINS}=jsonl",
            ) from exc

    def write(self, *chunks: bytes) -> None:
        """Write ``chunks`` (each whole lines) to the OS, in one system call when it takes them all."""
        with _ctrl_c_deferred():
            if len(chunks) == 1 or not hasattr(os, "writev"):
                self._write_fully(b"".join(chunks))
                return
            for start in range(0, len(chunks), _IOV_MAX):
                group = chunks[start : start + _IOV_MAX]
                written = os.writev(self._fd, group)
                if written < sum(len(chunk) for chunk in group):
                    self._write_fully(b"".join(group)[written:])

    def _write_fully(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]

    def sync(self) -> None:
        """Push everything written so far to the disk (fsync)."""
        os.fsync(self._fd)

    def close(self) -> None:
        """Sync and close; closing twice does nothing."""
        if self._fd < 0:
            return
        try:
            self.sync()
        finally:
            fd, self._fd = self._fd, -1
            os.close(fd)
