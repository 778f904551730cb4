"""Reading a run log back: strict JSON per line, a truncated last line tolerated."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from trainscope_jsonl.encoding import NON_FINITE

_METRIC_FIELDS = ("metrics", "means", "train", "validation")
"""Fields holding metric maps, whose "NaN"/"Infinity"/"-Infinity" strings are read back as floats."""


class LogFormatError(ValueError):
    """A complete line of a run log is not a JSON object."""


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
    return event


def parse_line(line: bytes) -> dict[str, Any]:
    """One line as a JSON object, strictly (no NaN or Infinity tokens); ValueError otherwise."""
    value = orjson.loads(line)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


def read_run(path: str | os.PathLike[str]) -> RunLog:
    """Read a run log. A cut-off last line is skipped (``truncated`` is then True);
    any other line that is not a strict JSON object raises :class:`LogFormatError`.
    """
    log = RunLog(Path(path))
    data = log.path.read_bytes()
    lines = data.split(b"\n")
    tail = lines.pop()  # after the last newline: empty unless the last line was cut off
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            log.events.append(_decode(parse_line(line)))
        except ValueError as exc:
            raise LogFormatError(f"{str(log.path)!r} line {number} is not a JSON object: {exc}") from None
    if tail.strip():
        try:
            log.events.append(_decode(parse_line(tail)))
        except ValueError:
            log.truncated = True
    return log
