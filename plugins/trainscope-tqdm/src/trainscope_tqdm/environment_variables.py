"""Every environment variable the tqdm reporter reads, declared once.

An argument given in code wins over its variable; a variable wins over the default.
"""

from __future__ import annotations

TRAINSCOPE_TQDM_WIDTH = "TRAINSCOPE_TQDM_WIDTH"
"""Width of the bar itself in characters (default ``70``); shrunk to fit a narrow terminal."""

TRAINSCOPE_TQDM_SHOW_RATE = "TRAINSCOPE_TQDM_SHOW_RATE"
"""``1`` or ``0`` (also ``true``/``false``, ``yes``/``no``, ``on``/``off``): show the batch rate
(default ``1``)."""

TRAINSCOPE_TQDM_SHOW_ETA = "TRAINSCOPE_TQDM_SHOW_ETA"
"""``1``/``0``: show the estimated time remaining (default ``1``)."""

TRAINSCOPE_TQDM_REFRESH_INTERVAL = "TRAINSCOPE_TQDM_REFRESH_INTERVAL"
"""Minimum seconds between two redraws of a bar on a terminal or in a notebook (default ``0.1``)."""

TRAINSCOPE_TQDM_LINE_INTERVAL = "TRAINSCOPE_TQDM_LINE_INTERVAL"
"""Minimum seconds between two progress lines when the output is not a terminal (default ``5``);
the final line of each phase is always written."""

__all__ = [
    "TRAINSCOPE_TQDM_LINE_INTERVAL",
    "TRAINSCOPE_TQDM_REFRESH_INTERVAL",
    "TRAINSCOPE_TQDM_SHOW_ETA",
    "TRAINSCOPE_TQDM_SHOW_RATE",
    "TRAINSCOPE_TQDM_WIDTH",
]
