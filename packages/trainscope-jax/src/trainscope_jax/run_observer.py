"""What ``trainscope train`` keeps of the run it trains, and the signals it must not lose."""

from __future__ import annotations

from trainscope import RunInfo, hookimpl
from trainscope.signals import InterruptLatch
from trainscope.status import StartupStatus


class RunObserver:
    """Keeps the run a command trained, so the command can say where its log went, and
    raises a signal the command line received whose first exception was swallowed (see
    :class:`~trainscope.signals.InterruptLatch`) at the run's next hook."""

    def __init__(self, interrupts: InterruptLatch | None = None, status: StartupStatus | None = None) -> None:
        self.run: RunInfo | None = None
        self.interrupts = interrupts
        self.status = status or StartupStatus()

    def check_interrupts(self) -> None:
        if self.interrupts is not None:
            self.interrupts.check()

    @hookimpl(tryfirst=True)
    def trainscope_train_start(self, run: RunInfo) -> None:
        self.status.clear()  # before the reporters print
        self.run = run
        self.check_interrupts()

    @hookimpl
    def trainscope_epoch_start(self) -> None:
        self.check_interrupts()

    @hookimpl
    def trainscope_phase_start(self) -> None:
        self.check_interrupts()

    @hookimpl
    def trainscope_progress(self) -> None:
        self.check_interrupts()

    def log_path(self) -> str | None:
        """The run log's path when the jsonl reporter wrote one."""
        return None if self.run is None else self.run.artifacts.get("jsonl")


__all__ = ["RunObserver"]
