"""One transient line on a terminal saying what a command is busy with before its run starts.

Loading JAX and the reporters takes seconds; a user who typed ``trainscope train`` should
see at once what is happening. On a terminal the line is redrawn in place and erased before
the run prints anything; in a pipe or a file (CI logs) nothing is written.
"""

from __future__ import annotations

import sys
from typing import TextIO

from trainscope.text import encodable, printable

_ERASE_LINE = "\r\x1b[2K"


class StartupStatus:
    """``show("Loading JAX...")`` draws the line (replacing the last one), ``clear()`` erases it."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._shown = False

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    def _on_terminal(self) -> bool:
        isatty = getattr(self.stream, "isatty", None)
        try:
            return bool(isatty and isatty())
        except (OSError, ValueError):  # a closed stream
            return False

    def show(self, text: str) -> None:
        if not self._on_terminal():
            return
        self._write(_ERASE_LINE + encodable(printable(text), self.stream))
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            self._shown = False
            self._write(_ERASE_LINE)

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # the terminal went away: the status is only a courtesy
            pass


__all__ = ["StartupStatus"]
