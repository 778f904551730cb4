"""The log file: created before the first epoch, written in whole lines, synced to disk."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from pathlib import Path

from trainscope import environment_variables as core_env

DEFAULT_LOG_DIR = "runs"
"""Where logs go when ``TRAINSCOPE_LOG_DIR`` is not set (relative to the working directory)."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class LogDirectoryError(OSError):
    """The run log cannot be created; the message names the path and what to do."""


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


class LogWriter:
    """An open run log. :meth:`write` hands whole lines to the OS in one call, unbuffered.

    A write interrupted part-way (Ctrl-C inside the system call) keeps the rest
    and writes it first next time, so every line still ends whole.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        self._pending = b""

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

    def write(self, data: bytes) -> None:
        """Write ``data`` (whole lines) to the OS."""
        data = self._pending + data if self._pending else data
        view = memoryview(data)
        self._pending = data
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
            self._pending = bytes(view) if view else b""

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
