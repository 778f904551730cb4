"""The `tqdm` reporter's hook implementations (entry point `tqdm`).

The hooks are the bound methods of one module-level :class:`TqdmReporter`;
:func:`configure` sets its options in code.
"""

from __future__ import annotations

from typing import TextIO

from trainscope_tqdm.reporter import TqdmReporter

REPORTER = TqdmReporter()
"""The reporter the entry point registers."""

trainscope_train_start = REPORTER.trainscope_train_start
trainscope_phase_start = REPORTER.trainscope_phase_start
trainscope_progress = REPORTER.trainscope_progress
trainscope_phase_end = REPORTER.trainscope_phase_end
trainscope_train_end = REPORTER.trainscope_train_end


def configure(
    *,
    width: int | None = None,
    show_rate: bool | None = None,
    show_eta: bool | None = None,
    refresh_interval: float | None = None,
    line_interval: float | None = None,
    file: TextIO | None = None,
) -> None:
    """Set the options of the installed ``tqdm`` reporter for the runs that start from now on.

    An option left as None comes from its ``TRAINSCOPE_TQDM_*`` environment variable,
    else the default. Calling ``configure()`` with no argument restores that.
    """
    REPORTER.configure(
        width=width,
        show_rate=show_rate,
        show_eta=show_eta,
        refresh_interval=refresh_interval,
        line_interval=line_interval,
        file=file,
    )
