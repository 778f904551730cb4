"""A logged run handed to the screen reporters as the hook calls the run made (``trainscope watch``).

:class:`Replay` turns each event into its hook: ``run_start`` into ``trainscope_train_start``
(after the architecture the log holds is printed, as the ``arch`` reporter printed it),
batches of ``step`` events into ``trainscope_progress``, and so on. The run is timed by the
log: :meth:`Replay.clock` is the log's time of the last event handed on, in seconds since the
run started, and every :class:`~trainscope.plugin_api.RunInfo` it builds reads that clock, so
bars and summaries show the run's own times. A phase's running means are those of the steps
handed on (one value per step: the log holds no batch sizes); at its end they are the
phase's means from the log, so a finished phase looks as the run showed it. Steps are handed
on in the batches the run's flushes made of them (a batch ends at the first step at least
:data:`FLUSH_INTERVAL` after the last one handed on, as the session's default refresh
interval does), so bars redraw, and write their lines in a pipe, as the run's did.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from trainscope.plugin_api import PhaseInfo, PluginManager, RunInfo, RunStatus, encodable, printable
from trainscope_jsonl import fields
from trainscope_jsonl import watch_events as build
from trainscope_jsonl.watch_events import Means

FLUSH_INTERVAL = 0.1
"""The session's default refresh interval: steps are handed on in the batches its flushes make."""
FLUSH_STEPS = 4096
"""The most steps the session flushes at once."""


@dataclass
class OpenPhase:
    """A phase between its ``phase_start`` and its ``phase_end``, and what its figures need."""

    info: PhaseInfo
    means: Means = field(default_factory=Means)
    interval: Means = field(default_factory=Means)
    """A training phase's steps since its last evaluation (a validation in the middle of it)."""
    evaluations: int = 0
    """Evaluations in the middle of this training phase so far."""
    paused: float = 0.0
    """Seconds validations in the middle of it paused this training phase."""
    paused_at: float | None = None
    flushed: float = 0.0
    """The time of the last step handed on (the phase's start before any)."""

    def __post_init__(self) -> None:
        self.flushed = self.info.start_time


class Replay:
    """Hands one logged run to the reporters of ``hooks``, event by event, in the log's order.

    :param hooks: the plugin manager of the reporters (see
        :func:`trainscope.plugin_api.create_replay_manager`).
    :param log: the log's path, listed as the run's ``jsonl`` file.
    """

    def __init__(self, hooks: PluginManager, log: Path) -> None:
        self.hooks = hooks
        self.log = log
        self.now = 0.0
        """The log's time of the last event handed on, in seconds since the run's start."""
        self.run: RunInfo | None = None
        self.phases: dict[str, OpenPhase] = {}
        """The open phases by name: the training phase stays open while a validation pauses it."""
        self.end: Mapping[str, Any] | None = None
        """The ``run_end`` event, once handed on."""
        self.log_error: Mapping[str, Any] | None = None
        """The writer's ``log_error`` event (it gave up on the log), if any."""
        self._moved = False
        self._handlers: dict[str, Callable[[RunInfo, Mapping[str, Any], int | None], None]] = {
            "epoch_start": self._epoch_start,
            "phase_start": self._phase_start,
            "phase_end": self._phase_end,
            "evaluation_end": self._evaluation_end,
            "epoch_end": self._epoch_end,
            "alert": self._alert,
            "run_end": self._run_end,
            "log_error": self._log_error,
        }

    def clock(self) -> float:
        """The run's time as far as the log has told (the clock of the runs this replay builds)."""
        return self.now

    def _move_to(self, run: RunInfo, when: float) -> None:
        """Move the clock on to ``when`` (a time of the session's clock: a phase's start, a
        step's), never back. The other events are stamped by the wall clock as they are
        written, which a session given another clock does not follow: they leave it. The first
        time sets it, even before the run's start (the session's clock and the wall clock may
        differ by a constant)."""
        self.now = max(self.now, when - run.start_time) if self._moved else when - run.start_time
        self._moved = True

    # -- events ------------------------------------------------------------------------

    def start(self, event: Mapping[str, Any]) -> RunInfo:
        """``run_start``: print the architecture the log holds, then ``trainscope_train_start``."""
        run = self.run = build.run_info(event, log=self.log, clock=self.clock)
        text = event.get("architecture")
        if isinstance(text, str) and text:
            out = sys.stdout
            out.write(encodable(printable(text, one_line=False), out) + "\n")
            out.flush()
        self.hooks.train_start(run)
        return run

    def event(self, event: Mapping[str, Any], last_step: int | None = None) -> None:
        """Hand on one event other than ``step`` (unknown events are skipped, as readers do).

        ``last_step``: for a ``phase_end`` whose steps were not handed on, the number of its
        last step (where its bar stops).
        """
        if event.get("event") == "run_resume":
            self._run_resume(event)
            return
        handler = self._handlers.get(cast(str, event.get("event")))
        if handler is not None and self.run is not None and self.end is None:
            handler(self.run, event, last_step)

    def steps(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Hand on consecutive ``step`` events, one ``trainscope_progress`` per phase among them."""
        run = self.run
        if run is None or self.end is not None:
            return
        first = 0
        for index in range(1, len(events) + 1):
            if index == len(events) or events[index].get("phase") != events[first].get("phase"):
                self._progress(run, events[first:index])
                first = index

    def _implicit(self, run: RunInfo, event: Mapping[str, Any], start: float) -> OpenPhase:
        """A phase whose ``phase_start`` this replay did not see: opened as the run would have."""
        name = build.phase_name(event)
        info = PhaseInfo(
            name, fields.integer(event, "epoch"), build.planned_total(run, name), start_time=start
        )
        opened = self.phases[name] = OpenPhase(info)
        self.hooks.phase_start(run, build.snapshot(info))
        return opened

    def _epoch_start(self, run: RunInfo, event: Mapping[str, Any], _: int | None) -> None:
        self.hooks.epoch_start(run, fields.integer(event, "epoch"))

    def _phase_start(self, run: RunInfo, event: Mapping[str, Any], _: int | None) -> None:
        info = build.phase_info(event)
        self._move_to(run, info.start_time)
        train = self.phases.get("train")
        if info.name == "validation" and info.training_step is not None and train is not None:
            train.info.paused = True
            train.paused_at = info.start_time
            train.info.step = max(train.info.step, info.training_step)
        self.phases[info.name] = OpenPhase(info)
        self.hooks.phase_start(run, build.snapshot(info))

    def _progress(self, run: RunInfo, events: Sequence[Mapping[str, Any]]) -> None:
        """One phase's consecutive steps, in the batches the run's flushes made of them."""
        times = [build.step_time(event) for event in events]
        opened = self.phases.get(build.phase_name(events[0])) or self._implicit(run, events[0], times[0])
        if opened.paused_at is not None:  # resumed before its validation ended: the pause ends now
            opened.paused += times[0] - opened.paused_at
            opened.paused_at = None
        if opened.info.paused:  # a resumed phase counts its refresh interval from its first step
            opened.info.paused, opened.flushed = False, times[0]
        first, flushed = 0, opened.flushed
        for index, when in enumerate(times):
            if (
                when - flushed >= FLUSH_INTERVAL
                or index + 1 - first >= FLUSH_STEPS
                or index + 1 == len(times)
            ):
                self._hand_on(run, opened, events[first : index + 1], times[first : index + 1])
                first, flushed = index + 1, when
        opened.flushed = flushed

    def _hand_on(
        self, run: RunInfo, opened: OpenPhase, events: Sequence[Mapping[str, Any]], times: list[float]
    ) -> None:
        records = build.step_records(events, times)
        info = opened.info
        opened.means.add_columns(records.metrics)
        opened.interval.add_columns(records.metrics)
        info.step = records.steps[-1]
        info.steps += len(records)
        self._show_means(opened)
        info.elapsed = records.times[-1] - info.start_time - opened.paused
        self._move_to(run, records.times[-1])
        self.hooks.progress(run, build.snapshot(info), records)

    def _show_means(self, opened: OpenPhase) -> None:
        info = opened.info
        info.metrics = opened.means.means()
        if info.name != "train" or not opened.evaluations:
            info.interval_metrics = info.metrics
        elif opened.interval:
            info.interval_metrics = opened.interval.means()

    def _phase_end(self, run: RunInfo, event: Mapping[str, Any], last_step: int | None) -> None:
        name = build.phase_name(event)
        duration = fields.number(event, "duration")
        opened = self.phases.pop(name, None) or self._implicit(
            run, event, run.start_time + self.now - duration
        )
        info = opened.info
        info.steps = fields.integer(event, "steps")
        if last_step is not None:
            info.step = last_step
        elif not info.step:
            info.step = info.steps
        info.metrics = fields.metrics(event, "means")
        if name != "train" or not opened.evaluations:
            info.interval_metrics = info.metrics
        elif opened.interval:  # steps since the last evaluation; else its figures stay
            info.interval_metrics = opened.interval.means()
        info.elapsed = duration
        info.ended, info.paused = True, False
        train = self.phases.get("train")
        if info.training_step is not None and train is not None and train.paused_at is not None:
            train.paused += info.start_time + duration - train.paused_at  # training waited this long
            train.paused_at = None
        info.throughput = build.throughput(event)
        info.health = build.health(event)
        self.hooks.phase_end(run, build.snapshot(info))

    def _evaluation_end(self, run: RunInfo, event: Mapping[str, Any], _: int | None) -> None:
        summary = build.evaluation_summary(event)
        train = self.phases.get("train")
        if train is not None:
            train.evaluations += 1
            train.interval = Means()
            train.info.interval_metrics = dict(summary.train or {})
            train.info.step = max(train.info.step, summary.step)
        self.hooks.evaluation_end(run, summary)

    def _epoch_end(self, run: RunInfo, event: Mapping[str, Any], _: int | None) -> None:
        summary = build.epoch_summary(event)
        self.hooks.epoch_end(run, summary.epoch, summary)

    def _alert(self, run: RunInfo, event: Mapping[str, Any], _: int | None) -> None:
        found = build.alert(event)
        self.hooks.alert(run, found)

    def _log_error(self, run: RunInfo, event: Mapping[str, Any], _: int | None) -> None:
        self.log_error = event

    def _run_end(self, run: RunInfo, event: Mapping[str, Any], _: int | None) -> None:
        status = cast(RunStatus, fields.text(event, "status"))
        error = fields.optional_text(event, "error")
        self.now = fields.number(event, "duration")  # exactly what the run's own end said
        self.end = event
        self.phases.clear()
        self.hooks.train_end(run, status, None if error is None else build.LoggedRunError(error))

    def _run_resume(self, event: Mapping[str, Any]) -> None:
        """``run_resume``: the run went on after an earlier end: a new part, drawn as the resumed
        run drew it (``trainscope_train_start`` with ``run.resumed`` set), timed from its start."""
        run = build.run_info(event, log=self.log, clock=self.clock)
        run.resumed = build.resume_point(event, log=self.log)
        if self.run is not None and self.end is None:  # the part before ended without its run_end
            self._run_end(self.run, {"status": "interrupted", "duration": self.now}, None)
        self.run, self.end, self._moved, self.now = run, None, False, 0.0
        self.phases.clear()
        self.hooks.train_start(run)

    # -- catching up ---------------------------------------------------------------------

    def evaluations_of(self, info: PhaseInfo) -> int | None:
        """How many evaluations the open phase ``info`` has had, or None once it is not open."""
        opened = self.phases.get(info.name)
        return opened.evaluations if opened is not None and opened.info is info else None

    def add_earlier(
        self, info: PhaseInfo, *, means: Means | None = None, steps: int = 0, interval: Means | None = None
    ) -> None:
        """Add steps of the open phase ``info`` that came before those handed on (read back after
        a start in the middle of a run), shown from its next batch on: ``means`` over all of them
        (``steps`` of them), ``interval`` over those since its last evaluation."""
        opened = self.phases.get(info.name)
        if opened is None or opened.info is not info:
            return  # the phase has ended (its means came from the log) or another began
        if means is not None:
            opened.means = opened.means.merged_after(means)
        if interval is not None:
            opened.interval = opened.interval.merged_after(interval)
        info.steps += steps
        self._show_means(opened)

    def close_quietly(self) -> None:
        """End a run the log did not end (the watch stops, or starts over) without its
        summary: the reporters close their bars; what they print to standard output is dropped."""
        run = self.run
        if run is None or self.end is not None:
            return
        self.end = {"event": "run_end", "status": "interrupted"}
        with contextlib.redirect_stdout(io.StringIO()):
            self.hooks.train_end(run, "interrupted", build.LoggedRunError("stopped watching"))


__all__ = ["OpenPhase", "Replay"]
