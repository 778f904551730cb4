"""``TqdmReporter``: the hook implementations that draw one bar per phase."""

from __future__ import annotations

import contextlib
import sys
from typing import Any, TextIO

from tqdm import tqdm

from trainscope.plugin_api import Alert, PhaseInfo, RunInfo, encodable, hookimpl, printable
from trainscope_tqdm.bar import ProgressBar
from trainscope_tqdm.options import BarOptions

STARTING_LINE = "Starting training..."
_PHASE_LABELS = {"train": "Training", "validation": "Validation"}


def steps_done_before(run: RunInfo, phase: PhaseInfo) -> int:
    """The training steps a resumed run in steps did in its earlier parts (where its bar starts)."""
    resumed = run.resumed
    if phase.name != "train" or resumed is None or resumed.step is None:
        return 0
    return resumed.step


def phase_description(run: RunInfo, phase: PhaseInfo, training_total: int | None = None) -> str:
    """``Epoch 1/5 (Training)``; in a run declared in steps ``Training``, and for a validation
    in the middle of training the step it follows: ``Validation (step 400/1200)``."""
    label = _PHASE_LABELS.get(phase.name, phase.name)
    if phase.training_step is not None:
        of_total = f"/{training_total}" if training_total is not None else ""
        label = f"{label}, step {phase.training_step}{of_total}"
        if run.epochs is None:
            return f"Validation (step {phase.training_step}{of_total})"
    return label if run.epochs is None else f"Epoch {phase.epoch}/{run.epochs} ({label})"


def shown_metrics(run: RunInfo, phase: PhaseInfo) -> dict[str, float]:
    """What a bar shows: the phase's running means; in a run declared in steps, the training
    bar's since the last evaluation (what the next ``Step N/M Summary`` shows)."""
    return phase.interval_metrics if run.epochs is None and phase.name == "train" else phase.metrics


def _flush_stdout() -> None:
    # what the program printed to stdout must appear before the bar, even in a pipe
    with contextlib.suppress(AttributeError, ValueError, OSError):
        sys.stdout.flush()


def first_step_note(run: RunInfo) -> str:
    """What a run's first bar says until its first step: in a JAX run the first call of a jitted
    step compiles it, which can take seconds to minutes."""
    return "compiling the first step..." if "jax" in run.environment else "waiting for the first step..."


class TqdmReporter:
    """Prints ``Starting training...``, then one tqdm bar per phase with the running means.

    The bar moves at each ``trainscope_progress`` batch (not at each step) and is
    closed at the phase end, its final line timed by the phase's own duration
    (``phase.elapsed``); a run that fails or is interrupted closes its open bar. Bars are
    timed by the run's clock (``run.clock``), so that a run replayed from its log draws the
    run's own times.
    Options left as None come from the ``TRAINSCOPE_TQDM_*`` environment variables,
    read when each run starts. ``file`` defaults to standard error.
    """

    def __init__(
        self,
        *,
        width: int | None = None,
        show_rate: bool | None = None,
        show_eta: bool | None = None,
        refresh_interval: float | None = None,
        line_interval: float | None = None,
        file: TextIO | None = None,
    ) -> None:
        self._runs: dict[str, tuple[BarOptions, TextIO]] = {}
        self._bars: dict[str, ProgressBar] = {}
        self._paused: dict[str, ProgressBar] = {}
        """A training bar paused by a validation in the middle of training, by run."""
        self._waiting: set[str] = set()
        """Runs whose first phase has not had a step yet."""
        self.configure(
            width=width,
            show_rate=show_rate,
            show_eta=show_eta,
            refresh_interval=refresh_interval,
            line_interval=line_interval,
            file=file,
        )

    def configure(
        self,
        *,
        width: int | None = None,
        show_rate: bool | None = None,
        show_eta: bool | None = None,
        refresh_interval: float | None = None,
        line_interval: float | None = None,
        file: TextIO | None = None,
    ) -> None:
        """Set the options for the runs that start from now on (None: environment or default)."""
        self._overrides: dict[str, Any] = {
            "width": width,
            "show_rate": show_rate,
            "show_eta": show_eta,
            "refresh_interval": refresh_interval,
            "line_interval": line_interval,
        }
        BarOptions().with_overrides(**self._overrides)  # fail now on a bad value, not at the run start
        self.file = file

    def _start_run(self, run: RunInfo) -> tuple[BarOptions, TextIO]:
        options = BarOptions.from_environment().with_overrides(**self._overrides)
        settings = self._runs[run.run_id] = (options, self.file or sys.stderr)
        return settings

    def _close_bar(self, run: RunInfo, elapsed: float | None = None) -> None:
        bar = self._bars.pop(run.run_id, None)
        if bar is not None:
            bar.finish(elapsed)

    def _bar_of(self, run: RunInfo, phase: PhaseInfo) -> ProgressBar | None:
        """The bar of ``phase``: a paused training bar is put back on screen first."""
        paused = self._paused.get(run.run_id)
        if paused is not None and phase.name == "train":  # a run has one training phase at a time
            del self._paused[run.run_id]
            self._close_bar(run)
            paused.resume()
            self._bars[run.run_id] = paused
        return self._bars.get(run.run_id)

    # -- hooks -----------------------------------------------------------------

    @hookimpl(trylast=True)  # after reporters that print at the start, such as the architecture
    def trainscope_train_start(self, run: RunInfo) -> None:
        _, file = self._start_run(run)
        self._waiting.add(run.run_id)
        _flush_stdout()
        tqdm.write(STARTING_LINE, file=file)

    @hookimpl
    def trainscope_alert(self, run: RunInfo, alert: Alert) -> None:
        """The alert on a line of its own above the bar, which is drawn again below it."""
        settings = self._runs.get(run.run_id)
        file = settings[1] if settings is not None else self.file or sys.stderr
        tqdm.write(encodable(printable(f"Alert: {alert.message}"), file), file=file)

    @hookimpl
    def trainscope_phase_start(self, run: RunInfo, phase: PhaseInfo) -> None:
        training_total = position = None
        current = self._bars.get(run.run_id)
        if phase.training_step is not None and current is not None:
            # a validation in the middle of training: the training bar waits off screen
            current.pause()
            training_total = current.total
            self._paused[run.run_id] = current
            del self._bars[run.run_id]
            position = 0  # the line the training bar left, not the one below it
        elif phase.training_step is not None and run.run_id in self._paused:
            # another validation before training resumed: the training bar is still waiting
            training_total = self._paused[run.run_id].total
        self._close_bar(run)
        options, file = self._runs.get(run.run_id) or self._start_run(run)
        _flush_stdout()
        self._bars[run.run_id] = bar = ProgressBar(
            phase_description(run, phase, training_total),
            phase.total,
            options=options,
            file=file,
            position=position,
            clock=run.clock,
            initial=steps_done_before(run, phase),
        )
        if run.run_id in self._waiting:
            bar.set_note(first_step_note(run))

    @hookimpl
    def trainscope_progress(self, run: RunInfo, phase: PhaseInfo) -> None:
        self._waiting.discard(run.run_id)
        bar = self._bar_of(run, phase)
        if bar is not None:
            bar.update(phase.step, shown_metrics(run, phase))

    @hookimpl
    def trainscope_phase_end(self, run: RunInfo, phase: PhaseInfo) -> None:
        self._waiting.discard(run.run_id)
        bar = self._bar_of(run, phase)
        if bar is not None:
            bar.update(phase.step, shown_metrics(run, phase))
            self._close_bar(run, phase.elapsed)  # the phase's own time, as its log and summary say

    @hookimpl
    def trainscope_train_end(self, run: RunInfo) -> None:
        self._close_bar(run)  # a failed or interrupted run leaves its bar where it stopped
        paused = self._paused.pop(run.run_id, None)
        if paused is not None:
            paused.resume()
            paused.finish()
        self._runs.pop(run.run_id, None)
        self._waiting.discard(run.run_id)
