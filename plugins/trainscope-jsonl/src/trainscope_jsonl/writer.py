"""The log file: created before the first epoch, written in whole lines, synced to disk."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from trainscope.plugin_api import PluginFatalError, safe_run_name
from trainscope.plugin_api import environment_variables as core_env


class LogDirectoryError(PluginFatalError, OSError):
    """The run log cannot be created; the message names the path and what to do.

    Raised at ``trainscope_train_start``, it stops the run before the first epoch.
    """


class LogWriteError(PluginFatalError, OSError):
    """The run log could not be written during the run (the disk is full, the file
    system went away). The run stops as ``failed``; the log keeps every complete line
    written before, and ends with ``run_end`` when there is room for it.
    """


def _blocking_file(directory: Path) -> Path | None:
    """The nearest existing ancestor of ``directory`` (itself included) that is not a folder."""
    for candidate in (directory, *directory.parents):
        if candidate.exists() or candidate.is_symlink():
            return None if candidate.is_dir() else candidate
    return None


def log_file_name(run_name: str, run_id: str, start_time: float) -> str:
    """``20260509T073512.123Z-CatDogCNN-1a2b3c4d.jsonl``: UTC start time first, so names sort by start."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(start_time))
    millis = int((start_time % 1) * 1000)
    return f"{stamp}.{millis:03d}Z-{safe_run_name(run_name)}-{run_id[:8]}.jsonl"


_IOV_MAX = 1024
"""Buffers per ``writev`` call (the POSIX minimum of IOV_MAX)."""


_DEFERRED_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C, SIGTERM and SIGHUP back while a write runs, so that none cuts a line in two.

    Each Python signal handler is swapped for one that only notes the signal; the
    original handlers run (raising KeyboardInterrupt, or ending the run) as soon as
    the write is done. Only on the main thread, and only for Python handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in _DEFERRED_SIGNALS}
    handlers = {signum: handler for signum, handler in previous.items() if callable(handler)}
    received: list[tuple[int, FrameType | None]] = []

    def note(signum: int, frame: FrameType | None) -> None:
        received.append((signum, frame))

    for signum in handlers:
        signal.signal(signum, note)
    try:
        yield
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        for signum, frame in received[:1]:
            handlers[signum](signum, frame)


def _create(path: Path) -> int:
    """A new file at ``path``, open for appending and for reading (to copy it, were it deleted)."""
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)


def _create_free(path: Path) -> tuple[Path, int]:
    """A new file at ``path``, else at ``NAME-2.jsonl``, ``NAME-3.jsonl``... when another file took it."""
    for n in range(1, 100):
        candidate = path if n == 1 else path.with_name(f"{path.stem}-{n}{path.suffix}")
        try:
            return candidate, _create(candidate)
        except FileExistsError:
            continue
    return path, _create(path)  # raises FileExistsError, naming the path


def _open_to_append(path: Path) -> int:
    """The existing file at ``path``, open for appending and for reading."""
    return os.open(path, os.O_RDWR | os.O_APPEND)


def _whole_lines(fd: int) -> int:
    """The bytes of the open file's complete lines; a last line without its newline is cut off."""
    size = os.fstat(fd).st_size
    end = size
    while end > 0:
        start = max(0, end - _COPY_CHUNK)
        newline = os.pread(fd, end - start, start).rfind(b"\n")
        if newline >= 0:
            end = start + newline + 1
            break
        end = start
    if end < size:
        os.ftruncate(fd, end)
    return end


def _write_fully(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _copy(source: int, target: int, size: int) -> None:
    """The first ``size`` bytes of ``source`` onto the end of ``target``."""
    offset = 0
    while offset < size:
        data = os.pread(source, min(_COPY_CHUNK, size - offset), offset)
        if not data:
            raise OSError(errno.EIO, "the deleted log is shorter than what was written to it")
        _write_fully(target, data)
        offset += len(data)


def _sync_folder(directory: Path) -> None:
    """Make a new entry of ``directory`` durable (POSIX; a no-op where folders cannot be opened)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


_COPY_CHUNK = 1 << 20


class LogWriter:
    """An open run log. Each :meth:`write` hands whole lines to the OS at once, unbuffered,
    with Ctrl-C deferred until they are written.
    """

    def __init__(self, path: Path, *, append: bool = False) -> None:
        self.path = path
        self._fd = _open_to_append(path) if append else _create(path)
        try:
            self._size = _whole_lines(self._fd) if append else 0
            """Bytes of complete lines written so far."""
        except BaseException:
            os.close(self._fd)
            raise
        self._torn = False
        """True while the file may hold part of a line after ``_size`` (a write raised half-way)."""

    @property
    def size(self) -> int:
        """Bytes of complete lines written so far."""
        return self._size

    @classmethod
    def create(cls, directory: Path, file_name: str) -> LogWriter:
        """Create ``directory`` if needed and a new log file in it, or raise :class:`LogDirectoryError`."""
        path = directory / file_name
        try:
            directory.mkdir(parents=True, exist_ok=True)
            return cls(path)
        except OSError as exc:
            blocking = _blocking_file(directory)
            reason = (
                f"{str(blocking)!r} is a file, not a folder"
                if blocking is not None
                else (exc.strerror or str(exc))
            )
            raise LogDirectoryError(
                exc.errno,
                f"trainscope-jsonl cannot create the run log {str(path)!r}: "
                f"{reason}. Set {core_env.TRAINSCOPE_LOG_DIR} to a writable directory, "
                f"or block the log with {core_env.TRAINSCOPE_DISABLE_PLUGINS}=jsonl",
            ) from exc

    @classmethod
    def reopen(cls, path: Path) -> LogWriter:
        """The log of a run being resumed, open to append to; a torn last line (its process was
        killed mid-write) is cut first. :class:`LogWriteError` when it cannot be opened or cut."""
        try:
            return cls(path, append=True)
        except OSError as exc:
            raise LogWriteError(
                exc.errno,
                f"trainscope-jsonl cannot append to the run log {str(path)!r} to resume its run: "
                f"{exc.strerror or exc}; make it writable, or start a new run",
            ) from exc

    def write(self, *chunks: bytes) -> None:
        """Write ``chunks`` (each whole lines) to the OS, in one system call when it takes them all.

        When the OS refuses (a full disk), the lines of this call are taken back (the
        file is cut at the end of the last complete write, so every line stays whole)
        and :class:`LogWriteError` is raised. Any other exception half-way (no memory
        left) takes them back too, now or at the next write, and is raised as it is.
        """
        with _signals_deferred():
            if self._torn and not self._take_back():
                raise self._write_error(OSError(errno.EIO, "its last line is cut and cannot be taken back"))
            self._torn = True
            try:
                self._write(chunks)
            except OSError as exc:
                self._take_back()
                raise self._write_error(exc) from exc
            except BaseException:
                self._take_back()
                raise
            self._size += sum(map(len, chunks))
            self._torn = False

    def _write_error(self, exc: OSError) -> LogWriteError:
        return LogWriteError(
            exc.errno,
            f"trainscope-jsonl could not write the run log {str(self.path)!r}: "
            f"{exc.strerror or exc}; the run is stopped, and the log keeps every step "
            "written before. Free some space (or set "
            f"{core_env.TRAINSCOPE_LOG_DIR} to another disk) and run again",
        )

    def _write(self, chunks: tuple[bytes, ...]) -> None:
        if len(chunks) == 1 or not hasattr(os, "writev"):
            _write_fully(self._fd, b"".join(chunks))
            return
        for start in range(0, len(chunks), _IOV_MAX):
            group = chunks[start : start + _IOV_MAX]
            written = os.writev(self._fd, group)
            if written < sum(len(chunk) for chunk in group):
                _write_fully(self._fd, b"".join(group)[written:])

    def _take_back(self) -> bool:
        """Cut the file after the last complete write (a failed write may have left half a line);
        False when it cannot be cut."""
        try:
            os.ftruncate(self._fd, self._size)
        except OSError:
            return False
        self._torn = False
        return True

    def reattach(self) -> bool:
        """If the file was deleted while open (its folder removed), create it again at its path
        with every line written so far, and write there from now on; True when it did.

        :class:`LogWriteError` when it cannot be created again: the run stops, and the
        lines are lost with the deleted file.
        """
        try:
            if os.fstat(self._fd).st_nlink > 0:
                return False  # still in a folder (perhaps moved): nothing is lost
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path, fd = _create_free(self.path)
        except OSError as exc:
            raise LogWriteError(
                exc.errno,
                f"trainscope-jsonl: the run log {str(self.path)!r} was deleted during the run (was "
                f"its folder removed?) and cannot be created again: {exc.strerror or exc}; "
                "the run is stopped",
            ) from exc
        try:
            _copy(self._fd, fd, self._size)
            os.fsync(fd)
        except BaseException as exc:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            if isinstance(exc, OSError):
                raise self._write_error(exc) from exc
            raise
        _sync_folder(self.path.parent)
        old, self._fd = self._fd, fd
        self._torn = False
        os.close(old)
        return True

    def sync(self) -> None:
        """Push everything written so far to the disk (fsync); :class:`LogWriteError` if it cannot."""
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise LogWriteError(
                exc.errno,
                f"trainscope-jsonl could not sync the run log {str(self.path)!r} to the disk: "
                f"{exc.strerror or exc}; the run is stopped",
            ) from exc

    def close(self) -> None:
        """Sync and close; closing twice does nothing."""
        if self._fd < 0:
            return
        try:
            with contextlib.suppress(OSError):  # the data is written; a failing sync loses nothing more
                os.fsync(self._fd)
        finally:
            fd, self._fd = self._fd, -1
            os.close(fd)
