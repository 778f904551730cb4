"""Reading a run log back: one strict JSON object per line, a cut-off last line tolerated.

:class:`EventStream` reads one line at a time, so memory stays flat whatever the
file's size; :func:`read_run` keeps every event, for callers who want them all.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from trainscope_jsonl.encoding import NON_FINITE

MAX_LINE_BYTES = 16 * 1024 * 1024
"""The longest line a reader accepts (16 MiB); a longer one is an error naming its line number."""

_METRIC_FIELDS = ("metrics", "means", "train", "validation")
"""Fields holding metric maps, whose "NaN"/"Infinity"/"-Infinity" strings are read back as floats."""

_FILE_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
_ORJSON_POSITION = re.compile(r": line \d+ column (\d+) \(char \d+\)$")


class LogFormatError(ValueError):
    """A run log cannot be read: not a regular file, a line that is not a JSON object or is
    too long, or an event field of the wrong type. The message names the file and the line.
    """


def _kind(mode: int) -> str:
    return next((name for test, name in _FILE_KINDS if test(mode)), "not a regular file")


def open_log_file(path: Path) -> IO[bytes]:
    """``path`` opened for reading in binary; :class:`LogFormatError` unless it is a regular file.

    Opened without blocking first, so a named pipe with no writer is refused, not waited on.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise LogFormatError(f"{str(path)!r} is {_kind(mode)}, not a run log file: give a .jsonl file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def parse_line(line: bytes) -> dict[str, Any]:
    """One line as a JSON object, strictly (no NaN or Infinity tokens); ValueError otherwise."""
    value = orjson.loads(line)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


def _size(count: int) -> str:
    """``16 MiB``, or ``1000 bytes`` for a count that is not a whole number of MiB."""
    mib, rest = divmod(count, 2**20)
    return f"{mib} MiB" if mib and not rest else f"{count} bytes"


def json_error_reason(exc: ValueError) -> str:
    """orjson's message with its position given as the column (every line is its own document)."""
    return _ORJSON_POSITION.sub(r" at column \1", str(exc))


class EventStream:
    """The events of a run log, read one line at a time as they are iterated.

    Memory is bounded by the longest line (:data:`MAX_LINE_BYTES`). Blank lines are
    skipped; a last line without its newline that does not parse (the writing process
    was killed) ends the stream and sets :attr:`truncated`; any other line that is not a
    strict JSON object raises :class:`LogFormatError`. Events are yielded as parsed:
    non-finite metric values are still the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.

    :param path: the log file.
    :param max_line_bytes: the longest line accepted.
    """

    def __init__(self, path: str | os.PathLike[str], *, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.path = Path(path)
        self.max_line_bytes = max_line_bytes
        self.line_number = 0
        """The number of the line last read (1-based)."""
        self.truncated = False
        """True once a cut-off last line has been met (and skipped)."""

    def error(self, message: str) -> LogFormatError:
        """A :class:`LogFormatError` naming the file and the line last read."""
        return LogFormatError(f"{str(self.path)!r} line {self.line_number}: {message}")

    def __iter__(self) -> Iterator[dict[str, Any]]:
        with open_log_file(self.path) as file:
            readline, limit = file.readline, self.max_line_bytes + 1
            while line := readline(limit):
                self.line_number += 1
                complete = line.endswith(b"\n")
                if not complete and len(line) == limit:
                    raise self.error(f"longer than {_size(self.max_line_bytes)}: not a run log line")
                if line.isspace():
                    continue
                try:
                    event = parse_line(line)
                except ValueError as exc:
                    if complete:
                        raise self.error(f"not a JSON object: {json_error_reason(exc)}") from None
                    self.truncated = True
                    return
                yield event


@dataclass
class RunLog:
    """A run log as read by :func:`read_run`: its events in order, metric values as floats."""

    path: Path
    events: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False
    """True when the last line was cut off (the writing process was killed) and was skipped."""

    def of(self, event: str) -> Iterator[dict[str, Any]]:
        """The events named ``event``, in order."""
        return (item for item in self.events if item.get("event") == event)

    @property
    def start(self) -> dict[str, Any] | None:
        """The ``run_start`` event, if the log has one."""
        return next(self.of("run_start"), None)

    @property
    def end(self) -> dict[str, Any] | None:
        """The ``run_end`` event, or None when the run never ended (the process was killed)."""
        return next(self.of("run_end"), None)

    @property
    def status(self) -> str | None:
        """``completed``, ``interrupted``, ``failed``, or None without a ``run_end``."""
        end = self.end
        return None if end is None else end.get("status")

    @property
    def epochs(self) -> list[dict[str, Any]]:
        """The ``epoch_end`` events."""
        return list(self.of("epoch_end"))

    @property
    def steps(self) -> list[dict[str, Any]]:
        """The ``step`` events."""
        return list(self.of("step"))


def _decode_metrics(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: NON_FINITE.get(v, v) if isinstance(v, str) else v for k, v in values.items()}


def _decode(event: dict[str, Any]) -> dict[str, Any]:
    for key in _METRIC_FIELDS:
        value = event.get(key)
        if isinstance(value, dict):
            event[key] = _decode_metrics(value)
    if event.get("event") == "alert" and isinstance(event.get("value"), str):
        event["value"] = NON_FINITE.get(event["value"], event["value"])
    return event


def read_run(path: str | os.PathLike[str]) -> RunLog:
    """Read a whole run log into memory (for a summary of a large log, see
    :func:`~trainscope_jsonl.read_summary`). A cut-off last line is skipped (``truncated``
    is then True); a line that is not a strict JSON object, a line longer than
    :data:`MAX_LINE_BYTES`, or a path that is not a regular file raises :class:`LogFormatError`.
    """
    stream = EventStream(path)
    events = [_decode(event) for event in stream]
    return RunLog(stream.path, events, stream.truncated)
