"""Handing a log's lines to a :class:`~trainscope_jsonl.watch_replay.Replay`, and starting in the
middle of a long run without handing on every step (``trainscope watch``).

A start on a log that already holds a long run (:func:`start_at`) hands on every event but
the steps of the part before its last :data:`TAIL_BYTES` (found by :class:`LogBytes.events`):
each finished phase opens and ends with the figures its ``phase_end`` gives, its bar drawn
at its final state. The tail is handed on in full, steps included, so the open phase's bar
stands where the run's does. The steps of an open phase before the tail are read back
afterwards by a :class:`CatchUp`, newest first, a chunk at a time, so its running means
become those of the whole phase while the view goes on following the run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trainscope.plugin_api import PhaseInfo
from trainscope_jsonl import fields
from trainscope_jsonl.encoding import step_prefix
from trainscope_jsonl.reader import json_error_reason, parse_line
from trainscope_jsonl.watch_events import Means
from trainscope_jsonl.watch_replay import Replay
from trainscope_jsonl.watch_scan import LogBytes, event_needle

TAIL_BYTES = 256 * 1024
"""The end of the log handed on in full when a watch starts (a few thousand steps)."""
CATCH_UP_AT_ONCE = 4 * 1024 * 1024
"""An open phase with no more than this before the tail is read back before the first screen."""


def parse(log: LogBytes, offset: int, line: bytes) -> dict[str, Any]:
    """The event on ``line``, or the error naming where it is."""
    try:
        return parse_line(line)
    except ValueError as exc:
        raise log.error(offset, f"not a JSON object: {json_error_reason(exc)}") from None


def _checked(log: LogBytes, offset: int, name: object, call: Any, *args: Any) -> Any:
    """``call(*args)``, a :class:`~trainscope_jsonl.fields.FieldError` turned into the error naming
    the ``name`` event at ``offset``."""
    try:
        return call(*args)
    except fields.FieldError as exc:
        raise log.error(offset, f"{fields.quoted(str(name))} event {exc}") from None


def replay_lines(replay: Replay, log: LogBytes, lines: Iterable[tuple[int, bytes]]) -> None:
    """Hand on ``(offset, line)`` pairs in order: each run of steps as one batch per phase."""
    steps: list[Mapping[str, Any]] = []
    first = 0
    for offset, line in lines:
        if line.isspace():
            continue
        event = parse(log, offset, line)
        name = event.get("event")
        if name == "step":
            first = first if steps else offset
            steps.append(event)
            continue
        if steps:
            _checked(log, first, "step", replay.steps, steps)
            steps = []
        _checked(log, offset, name, replay.event, event)
    if steps:
        _checked(log, first, "step", replay.steps, steps)


@dataclass
class CatchUp:
    """Reads back the steps of the open phase ``info`` in ``[start, end)``, newest first.

    ``interval_from``: where the steps since the phase's last evaluation begin (their means are
    handed on as soon as they are all read); ``evaluations``: how many it had had by then.
    """

    info: PhaseInfo
    prefix: bytes
    start: int
    end: int
    interval_from: int
    evaluations: int
    means: Means = field(default_factory=Means)
    interval: Means = field(default_factory=Means)
    steps: int = 0
    interval_done: bool = False

    @property
    def left(self) -> int:
        """Bytes still to read."""
        return self.end - self.start

    def work(self, log: LogBytes, replay: Replay, budget: int) -> bool:
        """Read back up to about ``budget`` bytes; True once done (the figures handed on)."""
        low = max(self.start, self.end - budget)
        if low > self.start:  # begin at the first line that starts in the piece
            low = min(self.end, low - 1 + len(log.line_at(low - 1)))
        for offset, line in log.lines(low, self.end):
            if line.startswith(self.prefix):
                metrics = _checked(log, offset, "step", fields.metrics, parse(log, offset, line), "metrics")
                self.means.add(metrics)
                self.steps += 1
                if offset >= self.interval_from:
                    self.interval.add(metrics)
        self.end = low
        if not self.interval_done and self.end <= self.interval_from:
            self.interval_done = True
            if replay.evaluations_of(self.info) == self.evaluations:  # none since: still the interval's
                replay.add_earlier(self.info, interval=self.interval)
        if self.end > self.start:
            return False
        replay.add_earlier(self.info, means=self.means, steps=self.steps)
        return True


def start_at(replay: Replay, log: LogBytes, run_id: str, head_end: int, end: int) -> list[CatchUp]:
    """Hand on ``[head_end, end)`` of a log whose ``run_start`` was handed on; the
    :class:`CatchUp` left to do, in order. A log whose lines are not as the writer writes them
    (another key order, spaces) is handed on line by line instead."""
    needle = event_needle(run_id)
    tail = head_end if end - head_end <= TAIL_BYTES else log.complete_end(head_end, end - TAIL_BYTES)
    if tail > head_end and needle not in log.line_at(0):
        tail = head_end
    starts: dict[str, int] = {}
    last_evaluation = previous = head_end
    for offset, line in log.events(head_end, tail, needle):
        event = parse(log, offset, line)
        name, phase, epoch = event.get("event"), event.get("phase"), event.get("epoch")
        last_step = None
        if name == "phase_end" and isinstance(phase, str) and isinstance(epoch, int) and event.get("steps"):
            last_step = log.last_step(step_prefix(run_id, epoch, phase), previous, offset)
        _checked(log, offset, name, replay.event, event, last_step)
        previous = offset + len(line)
        if name == "phase_start" and isinstance(phase, str):
            starts[phase] = previous
        elif name == "evaluation_end":
            last_evaluation = previous
    jobs = []
    for name, opened in replay.phases.items():
        begin = starts.get(name, tail)
        if begin < tail:
            prefix = step_prefix(run_id, opened.info.epoch, name)
            jobs.append(
                CatchUp(opened.info, prefix, begin, tail, max(begin, last_evaluation), opened.evaluations)
            )
    while jobs and jobs[0].left <= CATCH_UP_AT_ONCE:
        jobs.pop(0).work(log, replay, CATCH_UP_AT_ONCE)
    replay_lines(replay, log, log.lines(tail, end))
    return jobs


__all__ = ["CATCH_UP_AT_ONCE", "TAIL_BYTES", "CatchUp", "parse", "replay_lines", "start_at"]
