"""The `tqdm` reporter's hook implementations (entry point `tqdm`).

The hooks are the bound methods of one module-level :class:`TqdmReporter`;
:func:`configure` sets its options in code.
"""

from __future__ import annotations

from trainscope_tqdm.reporter import TqdmReporter

REPORTER = TqdmReporter()
"""The reporter the entry point registers."""

trainscope_train_start = REPORTER.trainscope_train_start
trainscope_phase_start = REPORTER.trainscope_phase_start
trainscope_progress = REPORTER.trainscope_progress
trainscope_phase_end = REPORTER.trainscope_phase_end
trainscope_train_end = REPORTER.trainscope_train_end
trainscope_alert = REPORTER.trainscope_alert


configure = REPORTER.configure
"""Set the options of the installed ``tqdm`` reporter for the runs that start from now on.

An option left as None comes from its ``TRAINSCOPE_TQDM_*`` environment variable, else
the default; ``configure()`` with no argument restores that."""
