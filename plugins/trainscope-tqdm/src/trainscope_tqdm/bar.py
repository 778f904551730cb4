"""``ProgressBar``: one tqdm bar, usable on its own and from several threads."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TextIO

from trainscope.plugin_api import printable
from trainscope_tqdm.meters import Mode, choose_mode, create_meter, set_clock
from trainscope_tqdm.options import BarOptions, check_width


class ProgressBar:
    """A tqdm progress bar with rate, ETA and metrics, e.g.
    ``Training:  40%|████▍     | 62/155 [00:03<00:05, 17.78batch/s, loss=1.28, accuracy=66.51%]``.

    ``update(step, metrics)`` moves the bar to ``step`` (it never moves back, so
    threads that race each other cannot make it jump) and shows ``metrics`` as
    given: loss-like values with 3 significant digits, accuracy-like fractions as
    percentages. ``total`` None shows a counter with a rate.

    Options left as None come from the ``TRAINSCOPE_TQDM_*`` environment variables,
    else from ``options``, else the defaults (width 70, rate and ETA shown). On a
    terminal the bar is redrawn in place; anywhere else one line is written at most
    every ``line_interval`` seconds, plus the final line at :meth:`finish`.
    Thread-safe; also a context manager that finishes the bar. ``position`` pins the bar
    to a terminal line counted from the cursor's (0: the cursor's line), as tqdm's does.
    ``clock`` (seconds, e.g. ``time.monotonic``) times the bar instead of tqdm's wall clock: the
    tqdm reporter passes the run's own clock (``RunInfo.clock``), so that a bar redrawn from a
    run log (``trainscope watch``) shows the run's times, not the time it is drawn at.
    ``initial``: the steps done before the bar starts (a resumed run's), left out of its rate.
    """

    def __init__(
        self,
        description: str,
        total: int | None,
        *,
        width: int | None = None,
        show_rate: bool | None = None,
        show_eta: bool | None = None,
        refresh_interval: float | None = None,
        line_interval: float | None = None,
        unit: str = "batch",
        file: TextIO | None = None,
        options: BarOptions | None = None,
        position: int | None = None,
        clock: Callable[[], float] | None = None,
        initial: int = 0,
    ) -> None:
        if options is None:
            options = BarOptions.from_environment()
        options = options.with_overrides(
            width=width,
            show_rate=show_rate,
            show_eta=show_eta,
            refresh_interval=refresh_interval,
            line_interval=line_interval,
        )
        stream = sys.stderr if file is None else file
        self._lock = threading.Lock()
        self._paused_at: float | None = None
        self._options = options
        self._mode: Mode = choose_mode(stream)
        self._meter = create_meter(
            printable(description),
            total,
            options,
            unit=unit,
            file=stream,
            mode=self._mode,
            position=position,
            initial=initial,
        )
        if clock is not None:
            set_clock(self._meter, clock)

    # -- progress --------------------------------------------------------------

    def update(self, step: int, metrics: Mapping[str, float] | None = None) -> None:
        """Move to ``step`` (steps done so far) and show ``metrics``; ignored once finished.

        The bar keeps ``metrics`` itself, not a copy, and reads it when it redraws: a mapping
        changed in place after the call shows its new values at the next redraw.
        """
        with self._lock:
            meter = self._meter
            if meter.disable:
                return
            if metrics is not None:
                meter.ts_metrics = metrics
            if meter.ts_note is not None:
                meter.ts_note = None
            delta = step - meter.n
            if delta > 0:
                meter.update(delta)

    def set_note(self, note: str | None) -> None:
        """Show ``note`` where the metrics go until the next :meth:`update` (a bar waiting for
        its first step: ``compiling the first step...``); None removes it."""
        with self._lock:
            meter = self._meter
            if meter.disable:
                return
            meter.ts_note = None if note is None else printable(note)
            if self._mode == "terminal":
                meter.refresh()

    def pause(self) -> None:
        """Take the bar off the screen while something else is shown (a validation's bar);
        :meth:`resume` puts it back. A line writer writes nothing either way."""
        with self._lock:
            meter = self._meter
            if meter.disable:
                return
            if self._paused_at is None:
                self._paused_at = meter._time()
            if self._mode == "terminal":
                meter.clear()

    def resume(self) -> None:
        """Draw the bar again after :meth:`pause`; its rate and ETA leave out the time paused."""
        with self._lock:
            meter = self._meter
            paused_at, self._paused_at = self._paused_at, None
            if meter.disable or paused_at is None:
                return
            # tqdm's own unpause() skips the time since the last redraw, which a line writer
            # makes seconds before the pause: its rate then left out training time too
            pause = meter._time() - paused_at
            meter.start_t += pause
            meter.last_print_t += pause
            if self._mode == "terminal":
                meter.refresh()

    def finish(self, elapsed: float | None = None) -> None:
        """Draw the final state and end the line (the bar stays on screen); idempotent.

        ``elapsed``: the seconds the work took by its own account (a phase's duration), shown
        in the final line with the average rate it gives (steps / ``elapsed``), instead of the
        bar's time since it started. A run's bar and the same bar redrawn from its log then
        end on the same figures.
        """
        with self._lock:
            meter = self._meter
            if elapsed is not None and not meter.disable:
                # exactly ``elapsed`` since the start, as tqdm subtracts them (and drawn since)
                meter.start_t = meter.last_print_t = 0.0
                meter._time = lambda: elapsed
            meter.close()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.finish()

    # -- settings --------------------------------------------------------------

    def set_width(self, width: int) -> None:
        """Set the width of the bar itself, in characters (still shrunk to fit the terminal)."""
        self._change(self._options.with_overrides(width=check_width(width)))

    def set_show_rate(self, show: bool) -> None:
        """Show or hide the rate (``11.91batch/s``)."""
        self._change(self._options.with_overrides(show_rate=bool(show)))

    def set_show_eta(self, show: bool) -> None:
        """Show or hide the estimated time remaining (``<00:05``)."""
        self._change(self._options.with_overrides(show_eta=bool(show)))

    def _change(self, options: BarOptions) -> None:
        with self._lock:
            self._options = options
            meter = self._meter
            if self._mode != "notebook":
                meter.ts_width = self._options.width
            meter.ts_show_rate = self._options.show_rate
            meter.ts_show_eta = self._options.show_eta
            if self._mode != "lines" and not meter.disable:
                meter.refresh()

    # -- state -----------------------------------------------------------------

    @property
    def options(self) -> BarOptions:
        """The options in effect."""
        return self._options

    @property
    def step(self) -> int:
        """The position of the bar: the highest step reported so far."""
        return int(self._meter.n)

    @property
    def total(self) -> int | None:
        total: int | None = self._meter.total
        return total

    @property
    def finished(self) -> bool:
        return bool(self._meter.disable)

    def __str__(self) -> str:
        """The bar's current line, as it would be drawn (without a terminal width limit)."""
        with self._lock:
            meter = self._meter
            return str(meter.format_meter(**{**meter.format_dict, "ncols": None}))
