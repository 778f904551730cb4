"""Reading a large run log by its bytes, without parsing its steps (for ``trainscope watch``).

Every event but ``step`` begins ``{"event":NAME,"run_id":ID,"time":`` (the writer puts
``event``, ``run_id`` and ``time`` first; a step has ``epoch`` after its run id), and the run's
id is the same on every line. So the events that shape the screen (phases, summaries,
alerts, the end) are found by searching the bytes for ``"run_id":ID,"time":``, which cannot
occur inside a JSON string (its quotes would be escaped), at the speed of a byte search
rather than of parsing millions of steps. Memory stays bounded by :data:`CHUNK` and the
longest line (:data:`~trainscope_jsonl.reader.MAX_LINE_BYTES`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import orjson

from trainscope_jsonl.reader import MAX_LINE_BYTES, LogFormatError, parse_line

CHUNK = 4 * 1024 * 1024
"""Bytes read at a time."""
_BACK_WINDOW = 64 * 1024
_BACK_LIMIT = 16 * 1024 * 1024
"""How far before a ``phase_end`` the number of the phase's last step is looked for."""


def event_needle(run_id: str) -> bytes:
    """What every line of run ``run_id`` but its steps holds: ``"run_id":ID,"time":``."""
    return b'"run_id":' + orjson.dumps(run_id) + b',"time":'


class LogBytes:
    """Reads an open log by byte offsets (``os.pread``: the reads share no file position).

    :param fd: the open log; not closed here.
    :param path: its path, for messages.
    """

    def __init__(self, fd: int, path: Path) -> None:
        self.fd = fd
        self.path = path

    def error(self, offset: int, message: str) -> LogFormatError:
        """A :class:`LogFormatError` naming the file and the byte offset of the line."""
        return LogFormatError(f"{str(self.path)!r} at byte {offset}: {message}")

    def line_at(self, offset: int) -> bytes:
        """The whole line that starts at ``offset``, with its newline (without one at the end)."""
        parts: list[bytes] = []
        size = 0
        while size <= MAX_LINE_BYTES:
            data = os.pread(self.fd, min(CHUNK, MAX_LINE_BYTES + 1 - size), offset + size)
            cut = data.find(b"\n")
            if cut != -1 or not data:
                parts.append(data if cut == -1 else data[: cut + 1])
                return b"".join(parts)
            parts.append(data)
            size += len(data)
        raise self.error(offset, f"longer than {MAX_LINE_BYTES // 2**20} MiB: not a run log line")

    def complete_end(self, start: int, size: int) -> int:
        """The offset just after the last complete line that ends before ``size`` (at least ``start``)."""
        position = size
        while position > start:
            low = max(start, position - _BACK_WINDOW)
            cut = os.pread(self.fd, position - low, low).rfind(b"\n")
            if cut != -1:
                return low + cut + 1
            position = low
        return start

    def chunks(self, start: int, end: int) -> Iterator[tuple[int, bytearray, int]]:
        """``(offset, buffer, length)``: ``buffer[:length]`` holds whole lines of ``[start, end)``
        (``end`` ends a line), in order. The buffer is used again for the next piece."""
        buffer = bytearray(CHUNK)
        with open(os.dup(self.fd), "rb", buffering=0) as reader:  # readinto: no new buffer each time
            position = start
            while position < end:
                reader.seek(position)
                length = reader.readinto(memoryview(buffer)[: min(CHUNK, end - position)]) or 0
                if not length:
                    return  # the file became shorter: whoever reads it sees that next
                cut = buffer.rfind(b"\n", 0, length) + 1 if position + length < end else length
                if not cut:  # a line longer than a chunk
                    line = self.line_at(position)
                    yield position, bytearray(line), len(line)
                    position += len(line)
                    continue
                yield position, buffer, cut
                position += cut

    def lines(self, start: int, end: int) -> Iterator[tuple[int, bytes]]:
        """``(offset, line)`` for every line of ``[start, end)``, in order."""
        for position, data, length in self.chunks(start, end):
            at = 0
            while at < length:
                stop = data.find(b"\n", at, length) + 1 or length
                yield position + at, bytes(data[at:stop])
                at = stop

    def events(self, start: int, end: int, needle: bytes) -> Iterator[tuple[int, bytes]]:
        """``(offset, line)`` for every line of ``[start, end)`` holding ``needle`` (see
        :func:`event_needle`): every event but the steps, in order."""
        for position, data, length in self.chunks(start, end):
            found = data.find(needle, 0, length)
            while found != -1:
                begin = data.rfind(b"\n", 0, found) + 1
                stop = data.find(b"\n", found, length) + 1 or length
                yield position + begin, bytes(data[begin:stop])
                found = data.find(needle, stop, length)

    def last_step(self, prefix: bytes, low: int, high: int) -> int | None:
        """The step number of the last line of ``[low, high)`` (``low`` a line start) that begins
        with ``prefix`` (a phase's step lines, see :func:`~trainscope_jsonl.encoding.step_prefix`);
        None when none does within :data:`_BACK_LIMIT` bytes or the line does not read."""
        position, window = high, _BACK_WINDOW
        floor = max(low, high - _BACK_LIMIT)
        while position > floor:
            begin = max(floor, position - window)
            data = os.pread(self.fd, position - begin, begin)
            found = data.rfind(b"\n" + prefix)
            at = (
                begin + found + 1
                if found != -1
                else (begin if begin == low and data.startswith(prefix) else -1)
            )
            if at != -1:
                try:
                    step = parse_line(self.line_at(at)).get("step")
                except ValueError:
                    return None
                return step if isinstance(step, int) and not isinstance(step, bool) else None
            position = begin + len(prefix)  # a prefix across the window's start is found next time
            window *= 4
            if begin == floor:
                break
        return None


__all__ = ["CHUNK", "LogBytes", "event_needle"]
