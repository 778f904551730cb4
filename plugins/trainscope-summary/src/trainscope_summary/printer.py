"""``EpochSummaryPrinter``: prints the epoch summary and the end-of-run line."""

from __future__ import annotations

import sys
from typing import TextIO

from trainscope.plugin_api import (
    Alert,
    EpochSummary,
    EvaluationSummary,
    PhaseInfo,
    RunInfo,
    RunStatus,
    encodable,
    hookimpl,
    printable,
)
from trainscope_summary.formatting import (
    format_alerts,
    format_epoch_summary,
    format_evaluation_summary,
    format_run_end,
    format_run_files,
    format_steps_run_end,
)


class EpochSummaryPrinter:
    """Prints each epoch's summary at its end, and the best epoch and total time when the run ends.

    ``file`` defaults to standard output, looked up at each print; every print is
    flushed so that the summary stays in order with progress bars on standard error.
    """

    def __init__(self, *, file: TextIO | None = None) -> None:
        self.file = file
        self._epochs: dict[str, list[EpochSummary]] = {}
        self._evaluations: dict[str, list[EvaluationSummary]] = {}
        self._training: dict[str, PhaseInfo] = {}
        """The training phase of a run declared in steps (to say where an interrupted run stopped)."""
        self._setup: dict[str, float] = {}
        """Seconds from the run's start to its first phase, by run id."""
        self._alerts: dict[str, list[Alert]] = {}
        """The run's alerts, by run id (said again when the run ends)."""

    def _print(self, text: str) -> None:
        # Metric names come from user code: control characters cannot reach the terminal,
        # and a character the console cannot encode is escaped rather than failing the print.
        out = self.file or sys.stdout
        print(encodable(printable(text, one_line=False), out), file=out, flush=True)

    @hookimpl
    def trainscope_train_start(self, run: RunInfo) -> None:
        self._epochs[run.run_id] = []

    @hookimpl
    def trainscope_epoch_end(self, run: RunInfo, summary: EpochSummary) -> None:
        self._epochs.setdefault(run.run_id, []).append(summary)
        self._print("\n" + format_epoch_summary(summary, run.epochs or 0))

    @hookimpl
    def trainscope_phase_start(self, run: RunInfo, phase: PhaseInfo) -> None:
        self._setup.setdefault(run.run_id, run.elapsed())
        self._keep_training(run, phase)

    @hookimpl
    def trainscope_progress(self, run: RunInfo, phase: PhaseInfo) -> None:
        self._keep_training(run, phase)

    @hookimpl
    def trainscope_phase_end(self, run: RunInfo, phase: PhaseInfo) -> None:
        self._keep_training(run, phase)

    def _keep_training(self, run: RunInfo, phase: PhaseInfo) -> None:
        """Keep the latest snapshot of a run in steps' training phase (its last step ends the run)."""
        if run.epochs is None and phase.name == "train":
            self._training[run.run_id] = phase

    @hookimpl
    def trainscope_evaluation_end(self, run: RunInfo, summary: EvaluationSummary) -> None:
        self._evaluations.setdefault(run.run_id, []).append(summary)
        self._print("\n" + format_evaluation_summary(summary, run.epochs))

    @hookimpl
    def trainscope_alert(self, run: RunInfo, alert: Alert) -> None:
        self._alerts.setdefault(run.run_id, []).append(alert)

    @hookimpl
    def trainscope_train_end(self, run: RunInfo, status: RunStatus) -> None:
        summaries = self._epochs.pop(run.run_id, [])
        evaluations = self._evaluations.pop(run.run_id, [])
        training = self._training.pop(run.run_id, None)
        setup = self._setup.pop(run.run_id, None)
        elapsed = max(0.0, run.elapsed())
        if run.epochs is None:
            step = training.step if training is not None else 0
            text = format_steps_run_end(status, evaluations, step, run.total_steps, elapsed, setup)
        else:
            text = format_run_end(status, summaries, run.epochs, elapsed, setup)
        extra = [format_alerts(self._alerts.pop(run.run_id, [])), format_run_files(run.artifacts)]
        self._print("\n" + "\n".join([text, *(line for line in extra if line is not None)]))
