"""One run's TensorBoard event file, written on a background thread."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path

from tensorboardX.proto.event_pb2 import Event

from trainscope.plugin_api import (
    Alert,
    BackgroundWorker,
    EpochSummary,
    EvaluationSummary,
    GlobalStep,
    PhaseName,
    RunInfo,
    RunStatus,
    StepRecords,
    architecture_text,
    error_text,
    flatten_config,
    warn_plugin,
)
from trainscope_tensorboard import events
from trainscope_tensorboard.directory import directory_error, run_folder_name, tensorboard_directory
from trainscope_tensorboard.event_file import EventFile
from trainscope_tensorboard.health import ALERTS_TAG, health_scalars
from trainscope_tensorboard.scalar_records import Scalars, joined, scalar_records

ARCHITECTURE_TAG = "model/architecture"
"""The text tag of the architecture printout (TensorBoard shows it as ``model/architecture/text_summary``)."""

STATUS_TAG = "run/status"
"""The text tag of the run's end status: ``completed``, ``interrupted`` or ``failed: <error>``."""

FLUSH_INTERVAL = 5.0
"""Seconds between two flushes of the event file to the disk while steps arrive (and at every epoch end)."""
HANDOVER_STEPS = 16384
"""Steps gathered on the training thread before they are handed to the writer thread in one job."""
HANDOVER_INTERVAL = 0.5
"""Seconds after which gathered steps are handed over anyway (and at every epoch end)."""


class RunWriter:
    """Writes one run's scalars, epoch means, hyper-parameters and architecture to its folder.

    The training thread only computes global steps and gathers the step columns, handing
    them over every :data:`HANDOVER_STEPS` steps or :data:`HANDOVER_INTERVAL` seconds (one
    job, rather than one per batch: the writer thread wakes, and takes the interpreter lock,
    a few times a second); events are encoded, many steps at once (see
    :mod:`trainscope_tensorboard.scalar_records`), and written by a :class:`BackgroundWorker`.
    At most 2 jobs wait: when the disk is slower than the training, the training waits. At
    each flush, an event file deleted during the run (its folder removed) is created again
    with every event so far, and the training thread warns once it hears of it.
    """

    def __init__(self, run: RunInfo, directory: Path | None = None) -> None:
        self.path = (directory or tensorboard_directory()) / run_folder_name(run.name, run.run_id)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            point = run.resumed
            self._file = EventFile(self.path, None if point is None else point.global_step + 1)
        except OSError as exc:
            raise directory_error(self.path, exc) from exc
        self._notes: list[str] = []
        """Warnings from the writer thread, given on the training thread."""
        self.steps = GlobalStep.for_run(run)
        self._last_flush = time.monotonic()
        self._gathered: list[Scalars] = []
        self._gathered_steps = 0
        self._last_handover = self._last_flush
        self._worker = BackgroundWorker(f"trainscope-tensorboard-{run.run_id[:8]}")
        self._worker.submit(partial(self._write_run_start, run))

    def _write(self, items: Iterable[Event]) -> None:
        for event in items:
            self._file.write(event)
        self._flush_if_due()

    def _write_scalars(
        self,
        prefix: str,
        steps: Sequence[int],
        times: Sequence[float],
        metrics: Mapping[str, Sequence[float | None]],
    ) -> None:
        """One scalar event per step: encoded all at once, or one at a time when that does not apply."""
        records = scalar_records(prefix, steps, times, metrics)
        if records is None:
            self._write(events.scalar_events(prefix, steps, times, metrics))
        else:
            self._file.write_records(records)
            self._flush_if_due()

    def _flush_if_due(self) -> None:
        if time.monotonic() - self._last_flush >= FLUSH_INTERVAL:
            self._flush()

    def _flush(self) -> None:
        try:
            recreated = self._file.reattach()
        except OSError as exc:
            raise OSError(
                exc.errno,
                f"trainscope-tensorboard: the event file {str(self._file.path)!r} was deleted during "
                f"the run (was its folder removed?) and cannot be created again: {exc.strerror or exc}",
            ) from exc
        if recreated:
            self._notes.append(
                f"trainscope-tensorboard: the event file was deleted during the run (was its folder "
                f"removed?); it is created again at {str(self._file.path)!r} with every event so far"
            )
        self._file.flush()
        self._last_flush = time.monotonic()

    def _warn_notes(self) -> None:
        while self._notes:
            warn_plugin(self._notes.pop(0))

    def _write_run_start(self, run: RunInfo) -> None:
        now = time.time()
        self._file.write(events.hparams_start_event(flatten_config(run.config), now))
        if run.model is not None and run.resumed is None:  # a resumed run's folder has it
            text = architecture_text(run.name, run.model)
            # Indented four spaces: a Markdown code block, so the columns stay aligned.
            block = "\n".join(f"    {line}" for line in text.splitlines())
            self._file.write(events.text_event(ARCHITECTURE_TAG, block, 0, now))
        self._flush()

    def add_steps(self, phase: PhaseName, epoch: int, records: StepRecords) -> None:
        """Gather a batch of steps: training at their global steps, validation at the current one."""
        if phase == "train":
            offset = self.steps.training(epoch, records.steps)
            batch = Scalars(phase, records.steps, records.times, records.metrics, offset)
        else:
            steps = [self.steps.current] * len(records.steps)
            batch = Scalars(phase, steps, records.times, records.metrics)
        self._gathered.append(batch)
        self._gathered_steps += len(batch.steps)
        if (
            self._gathered_steps >= HANDOVER_STEPS
            or time.monotonic() - self._last_handover >= HANDOVER_INTERVAL
        ):
            self._hand_over()

    def _hand_over(self) -> None:
        """Queue what was gathered, as one job."""
        self._last_handover = time.monotonic()
        if self._gathered:
            gathered, self._gathered, self._gathered_steps = self._gathered, [], 0
            self._worker.submit(partial(self._write_gathered, gathered))

    def _write_gathered(self, gathered: list[Scalars]) -> None:
        for batch in joined(gathered):
            self._write_scalars(batch.prefix, batch.global_steps(), batch.times, batch.metrics)

    def add_epoch(self, summary: EpochSummary | EvaluationSummary, kind: str = "epoch") -> None:
        """Queue the means as ``<kind>/train/<metric>`` and ``<kind>/validation/<metric>`` (``kind``:
        ``epoch``, or ``evaluation`` after a validation in the middle of training) and the health
        figures as ``health/<figure>``, all at the current step; flush."""
        means = {
            f"{kind}/{phase}/{name}": value
            for phase, phase_means in (("train", summary.train), ("validation", summary.validation))
            for name, value in (phase_means or {}).items()
        }
        means.update(health_scalars(summary))
        self._hand_over()
        if means:
            event = events.means_event(self.steps.current, time.time(), means)
            self._worker.submit(partial(self._write, [event]))
        self._worker.submit(self._flush)
        self._warn_notes()

    def add_alert(self, alert: Alert) -> None:
        """Queue the alert's message as text under :data:`ALERTS_TAG`: a training alert at its own
        global step (its batch was gathered just before), a validation one at the current step."""
        step = self.steps.current
        if alert.phase == "train":
            step = min(step, self.steps.training(alert.epoch, ()) + alert.step)
        self._hand_over()  # the batch's steps first, so the file stays in step order
        event = events.text_event(ALERTS_TAG, alert.message, step, time.time())
        self._worker.submit(partial(self._write, [event]))

    def close(self, status: RunStatus, error: BaseException | None) -> None:
        """Write what is queued and the run's end status, then close the file (also after a failure)."""
        now = time.time()
        text = f"{status}: {error_text(error)}" if status == "failed" and error else status
        end = [
            events.text_event(STATUS_TAG, text, self.steps.current, now),
            events.hparams_end_event(status, now),
        ]
        try:
            self._hand_over()
            self._worker.submit(partial(self._write, end))
            self._worker.submit(self._flush)
        finally:
            try:
                self._worker.close()
            finally:
                self._file.close()
                self._warn_notes()


__all__ = ["ARCHITECTURE_TAG", "STATUS_TAG", "RunWriter"]
