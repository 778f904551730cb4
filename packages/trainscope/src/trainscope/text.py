"""Text from outside (run names, metric names, a log file's fields) made safe to print."""

from __future__ import annotations

import re

_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
"""Bidirectional formatting characters (marks, embeddings, overrides, isolates): they
reorder what follows on the screen, so ``abc\u202eexe.txt`` shows as ``abctxt.exe``."""
_CONTROL = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f\\u2028\\u2029{_BIDI}]")
"""C0 and C1 control characters (ESC, CSI, OSC, BEL...) except tab and newline, the
Unicode line and paragraph separators, and the bidirectional formatting characters."""
_CONTROL_ONE_LINE = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029{_BIDI}]")


def printable(text: object, *, one_line: bool = True) -> str:
    """``str(text)`` with every control character replaced by ``?``.

    A terminal acts on escape sequences (clear the screen, set the title, write the
    clipboard); a name or message that came from a user or a file must not reach it
    raw. With ``one_line`` (the default) tabs and newlines are replaced too.
    """
    return (_CONTROL_ONE_LINE if one_line else _CONTROL).sub("?", str(text))


def encodable(text: str, stream: object) -> str:
    """``text`` as ``stream`` can encode it: a character its encoding lacks becomes an escape
    (``\\u03bb``), as tqdm shows it, so that an ASCII console degrades instead of failing."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return text.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:  # an encoding name Python does not know: leave the text to the stream
        pass
    return text


def format_si(value: float, unit: str) -> str:
    """3 significant digits with an SI prefix: ``1.21 TFLOP/s``, ``312 MB``, ``45.6 GFLOP/s``."""
    for factor, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def format_seconds(seconds: float | None) -> str:
    """A short time with 3 significant digits: ``3.40 us``, ``12.1 ms``, ``1.25 s``, ``4m 21s``
    (``?`` for None)."""
    if seconds is None:
        return "?"
    if seconds >= 60:
        minutes, secs = divmod(round(seconds), 60)
        return f"{minutes}m {secs:02d}s"
    for factor, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")):
        if seconds >= factor:
            return f"{seconds / factor:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


__all__ = ["encodable", "format_seconds", "format_si", "printable"]
