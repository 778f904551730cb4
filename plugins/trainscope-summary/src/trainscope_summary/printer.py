"""``EpochSummaryPrinter``: prints the epoch summary and the end-of-run line."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from trainscope import EpochSummary, RunInfo, RunStatus, hookimpl, printable
from trainscope_summary.formatting import format_epoch_summary, format_run_end


class EpochSummaryPrinter:
    """Prints each epoch's summary at its end, and the best epoch and total time when the run ends.

    ``file`` defaults to standard output, looked up at each print; every print is
    flushed so that the summary stays in order with progress bars on standard error.
    """

    def __init__(self, *, file: TextIO | None = None) -> None:
        self.file = file
        self._epochs: dict[str, list[EpochSummary]] = {}

    def _print(self, text: str) -> None:
        # Metric names come from user code: control characters cannot reach the terminal.
        print(printable(text, one_line=False), file=self.file or sys.stdout, flush=True)

    @hookimpl
    def trainscope_train_start(self, run: RunInfo) -> None:
        self._epochs[run.run_id] = []

    @hookimpl
    def trainscope_epoch_end(self, run: RunInfo, summary: EpochSummary) -> None:
        self._epochs.setdefault(run.run_id, []).append(summary)
        self._print("\n" + format_epoch_summary(summary, run.epochs))

    @hookimpl
    def trainscope_train_end(self, run: RunInfo, status: RunStatus) -> None:
        summaries = self._epochs.pop(run.run_id, [])
        elapsed = max(0.0, time.time() - run.start_time)
        self._print("\n" + format_run_end(status, summaries, run.epochs, elapsed))
