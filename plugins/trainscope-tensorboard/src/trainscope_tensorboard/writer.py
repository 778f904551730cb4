"""One run's TensorBoard event file, written on a background thread."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path

from tensorboardX.proto.event_pb2 import Event

from trainscope import (
    BackgroundWorker,
    EpochSummary,
    EvaluationSummary,
    GlobalStep,
    RunInfo,
    RunStatus,
    StepRecords,
)
from trainscope.plugins import warn_plugin
from trainscope.run import PhaseName
from trainscope.values import error_text, flatten_config
from trainscope_tensorboard import events
from trainscope_tensorboard.architecture import architecture_text
from trainscope_tensorboard.directory import directory_error, run_folder_name, tensorboard_directory
from trainscope_tensorboard.event_file import EventFile

ARCHITECTURE_TAG = "model/architecture"
"""The text tag of the architecture printout (TensorBoard shows it as ``model/architecture/text_summary``)."""

STATUS_TAG = "run/status"
"""The text tag of the run's end status: ``completed``, ``interrupted`` or ``failed: <error>``."""

FLUSH_INTERVAL = 5.0
"""Seconds between two flushes of the event file to the disk while steps arrive (and at every epoch end)."""


class RunWriter:
    """Writes one run's scalars, epoch means, hyper-parameters and architecture to its folder.

    The training thread only computes global steps and queues the step columns; events
    are encoded and written by a :class:`BackgroundWorker`. At each flush, an event file
    deleted during the run (its folder removed) is created again with every event so far,
    and the training thread warns once it hears of it.
    """

    def __init__(self, run: RunInfo, directory: Path | None = None) -> None:
        self.path = (directory or tensorboard_directory()) / run_folder_name(run.name, run.run_id)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self._file = EventFile(self.path)
        except OSError as exc:
            raise directory_error(self.path, exc) from exc
        self._notes: list[str] = []
        """Warnings from the writer thread, given on the training thread."""
        self.steps = GlobalStep()
        self._last_flush = time.monotonic()
        self._worker = BackgroundWorker(f"trainscope-tensorboard-{run.run_id[:8]}")
        self._worker.submit(partial(self._write_run_start, run))

    def _write(self, items: Iterable[Event]) -> None:
        for event in items:
            self._file.write(event)
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
        if run.model is not None:
            text = architecture_text(run.name, run.model)
            # Indented four spaces: a Markdown code block, so the columns stay aligned.
            block = "\n".join(f"    {line}" for line in text.splitlines())
            self._file.write(events.text_event(ARCHITECTURE_TAG, block, 0, now))
        self._flush()

    def add_steps(self, phase: PhaseName, epoch: int, records: StepRecords) -> None:
        """Queue a batch of steps: training at their global steps, validation at the current one."""
        if phase == "train":
            offset = self.steps.training(epoch, records.steps)
            self._worker.submit(
                partial(self._write_training, offset, records.steps, records.times, records.metrics)
            )
        else:
            steps = [self.steps.current] * len(records.steps)
            self._worker.submit(
                partial(self._write, events.scalar_events(phase, steps, records.times, records.metrics))
            )

    def _write_training(
        self,
        offset: int,
        steps: Sequence[int],
        times: Sequence[float],
        metrics: Mapping[str, Sequence[float | None]],
    ) -> None:
        self._write(events.scalar_events("train", [offset + step for step in steps], times, metrics))

    def add_epoch(self, summary: EpochSummary | EvaluationSummary, kind: str = "epoch") -> None:
        """Queue the means as ``<kind>/train/<metric>`` and ``<kind>/validation/<metric>`` (``kind``:
        ``epoch``, or ``evaluation`` after a validation in the middle of training); flush."""
        means = {
            f"{kind}/{phase}/{name}": value
            for phase, phase_means in (("train", summary.train), ("validation", summary.validation))
            for name, value in (phase_means or {}).items()
        }
        if means:
            event = events.means_event(self.steps.current, time.time(), means)
            self._worker.submit(partial(self._write, [event]))
        self._worker.submit(self._flush)
        self._warn_notes()

    def close(self, status: RunStatus, error: BaseException | None) -> None:
        """Write what is queued and the run's end status, then close the file (also after a failure)."""
        now = time.time()
        text = f"{status}: {error_text(error)}" if status == "failed" and error else status
        end = [
            events.text_event(STATUS_TAG, text, self.steps.current, now),
            events.hparams_end_event(status, now),
        ]
        try:
            self._worker.submit(partial(self._write, end))
            self._worker.submit(self._flush)
        finally:
            try:
                self._worker.close()
            finally:
                self._file.close()
                self._warn_notes()


__all__ = ["ARCHITECTURE_TAG", "STATUS_TAG", "RunWriter"]
