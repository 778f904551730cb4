"""The `summary` reporter's hook implementations (entry point `summary`).

The hooks are the bound methods of one module-level :class:`EpochSummaryPrinter`.
"""

from __future__ import annotations

from trainscope_summary.printer import EpochSummaryPrinter

PRINTER = EpochSummaryPrinter()
"""The printer the entry point registers."""

trainscope_train_start = PRINTER.trainscope_train_start
trainscope_phase_start = PRINTER.trainscope_phase_start
trainscope_progress = PRINTER.trainscope_progress
trainscope_phase_end = PRINTER.trainscope_phase_end
trainscope_epoch_end = PRINTER.trainscope_epoch_end
trainscope_evaluation_end = PRINTER.trainscope_evaluation_end
trainscope_alert = PRINTER.trainscope_alert
trainscope_train_end = PRINTER.trainscope_train_end
