"""A run log read as another process writes it: new complete lines, and whether the file still
continues what was read (``trainscope watch``). Nothing is ever written to it."""

from __future__ import annotations

import os
from pathlib import Path

from trainscope.plugin_api import printable
from trainscope_jsonl.reader import MAX_LINE_BYTES, open_log_file
from trainscope_jsonl.watch_scan import LogBytes

_HEAD_CHECKED = 4096
"""Bytes of the first line compared at each look: a file written again from its start differs there."""
_COMPARED = 64 * 1024
"""Bytes before the position compared when the path names another file that may be a copy."""


class FollowedLog:
    """One log file, opened for reading, followed from :attr:`offset` on.

    :raises LogFormatError: ``path`` is not a regular file.
    :raises OSError: it cannot be opened.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = open_log_file(path)
        self.fd = self.file.fileno()
        status = os.fstat(self.fd)
        self.identity = (status.st_dev, status.st_ino)
        self.bytes = LogBytes(self.fd, path)
        self.offset = 0
        """Where the next line to read starts."""
        self.head = b""
        """The start of the first line, once read."""

    def close(self) -> None:
        self.file.close()

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def first_line(self) -> bytes | None:
        """The first line, once it is complete (the reading then goes on after it), else None."""
        line = self.bytes.line_at(0)
        if not line.endswith(b"\n"):
            return None
        self.head = line[:_HEAD_CHECKED]
        self.offset = len(line)
        return line

    def read(self, limit: int) -> list[tuple[int, bytes]]:
        """``(offset, line)`` for the complete lines written since the last read (up to about
        ``limit`` bytes of them); a line still being written waits for its newline."""
        data = os.pread(self.fd, limit, self.offset)
        cut = data.rfind(b"\n") + 1
        if not cut:
            if len(data) < limit:
                return []
            data = self.bytes.line_at(self.offset)  # one line longer than ``limit``
            if not data.endswith(b"\n"):
                if len(data) > MAX_LINE_BYTES:
                    raise self.bytes.error(self.offset, "a line longer than 16 MiB: not a run log line")
                return []
            cut = len(data)
        lines: list[tuple[int, bytes]] = []
        at = 0
        while at < cut:
            stop = data.find(b"\n", at) + 1
            lines.append((self.offset + at, data[at:stop]))
            at = stop
        self.offset += cut
        return lines

    def change(self) -> str | None:
        """Why the file no longer goes on from what was read, as a sentence, or None.

        A path removed (its folder deleted) is not a change: the writer may still be writing
        to the file, and puts it back at the same path when it notices.
        """
        where = repr(printable(self.path))
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            status = None
        if status is not None and (status.st_dev, status.st_ino) != self.identity:
            return f"{where} is now another file"
        size = self.size()
        if size < self.offset:
            return f"{where} was truncated (to {size} bytes, {self.offset} had been read)"
        if self.head and os.pread(self.fd, len(self.head), 0) != self.head:
            return f"{where} was written again from its start"
        return None

    def follow_copy(self) -> bool:
        """Go on in the file now at the path, from where this one was read to, when it holds the
        same lines (the writer created its log again after its folder was removed): True then."""
        try:
            other = FollowedLog(self.path)
        except (OSError, ValueError):
            return False
        low = max(0, self.offset - _COMPARED)
        same = (
            other.size() >= self.offset
            and os.pread(other.fd, len(self.head), 0) == self.head
            and os.pread(other.fd, self.offset - low, low) == os.pread(self.fd, self.offset - low, low)
        )
        if not same:
            other.close()
            return False
        self.close()
        self.file, self.fd, self.identity, self.bytes = other.file, other.fd, other.identity, other.bytes
        return True


__all__ = ["FollowedLog"]
