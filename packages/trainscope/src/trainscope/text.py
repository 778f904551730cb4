"""Text from outside (run names, metric names, a log file's fields) made safe to print."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
"""C0 and C1 control characters (ESC, CSI, OSC, BEL...) except tab and newline, and the
Unicode line and paragraph separators."""
_CONTROL_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: object, *, one_line: bool = True) -> str:
    """``str(text)`` with every control character replaced by ``?``.

    A terminal acts on escape sequences (clear the screen, set the title, write the
    clipboard); a name or message that came from a user or a file must not reach it
    raw. With ``one_line`` (the default) tabs and newlines are replaced too.
    """
    return (_CONTROL_ONE_LINE if one_line else _CONTROL).sub("?", str(text))


def format_si(value: float, unit: str) -> str:
    """3 significant digits with an SI prefix: ``1.21 TFLOP/s``, ``312 MB``, ``45.6 GFLOP/s``."""
    for factor, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


__all__ = ["format_si", "printable"]
