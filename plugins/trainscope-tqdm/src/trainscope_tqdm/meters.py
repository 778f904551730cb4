"""The tqdm classes behind :class:`~trainscope_tqdm.ProgressBar`.

* a terminal bar: tqdm's own bar, redrawn in place, with a fixed bar width that
  shrinks to fit a narrow terminal;
* a line writer for anything that is not a terminal (CI logs, files, pipes): one
  complete line per redraw and never a carriage return;
* the ``tqdm.auto`` bar where a notebook front end is present.

Every line comes from tqdm's ``format_meter``; the postfix is formatted only when
a line is drawn.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal, TextIO

from tqdm import tqdm as std_tqdm
from tqdm.utils import disp_len

from trainscope_tqdm.formatting import format_postfix
from trainscope_tqdm.options import BarOptions

Mode = Literal["terminal", "lines", "notebook"]


NO_BAR = 0
"""A bar width that leaves the bar out: ``Training:  40% 62/155 [...]``."""
MIN_BAR = 5
"""The narrowest bar drawn; a terminal with less room drops the bar instead."""


def bar_format(
    *, known_total: bool, width: int | None, show_rate: bool, show_eta: bool, show_time: bool = True
) -> str:
    """tqdm's default layout, with a fixed bar width (:data:`NO_BAR`: none) and optional rate,
    ETA and elapsed time.

    Without a known total (or past it) the line is a counter: ``62batch [00:03, 17.78batch/s]``.
    """
    times = ["{elapsed}" + ("<{remaining}" if known_total and show_eta else "")] if show_time else []
    stats = ", ".join(times + (["{rate_fmt}"] if show_rate else []))
    # tqdm puts ", " before the postfix: with no time or rate, the metrics follow the count
    tail = f" [{stats}{{postfix}}]" if stats else "{postfix}"
    if not known_total:
        return "{desc}: {n_fmt}{unit}" + tail
    if width == NO_BAR:
        return "{desc}: {percentage:3.0f}% {n_fmt}/{total_fmt}" + tail
    bar = "{bar}" if width is None else f"{{bar:{width}}}"
    return "{l_bar}" + bar + "| {n_fmt}/{total_fmt}" + tail


def _known_total(n: float, total: float | None) -> bool:
    # tqdm treats a position past the total as an unknown total; so does the layout
    return total is not None and 0 < total < math.inf and n < total + 0.5


class Meter(std_tqdm):
    """A tqdm bar that draws trainscope's layout and formats its metrics lazily."""

    ts_fits_terminal = True
    """Shrink the bar to the terminal width (the line writer has no width limit)."""

    def __init__(
        self, *args: Any, ts_width: int | None, ts_show_rate: bool, ts_show_eta: bool, **kwargs: Any
    ) -> None:
        # set before tqdm's __init__, which draws the first frame
        self.ts_width = ts_width
        self.ts_show_rate = ts_show_rate
        self.ts_show_eta = ts_show_eta
        self.ts_metrics: Mapping[str, float] | None = None
        self.ts_note: str | None = None
        """Shown where the metrics go until the first step (``compiling the first step...``)."""
        self._ts_formatted: tuple[Mapping[str, float] | None, str] = (None, "")
        super().__init__(*args, **kwargs)

    def _ts_postfix(self) -> str:
        metrics = self.ts_metrics
        if self.ts_note is not None and not metrics:
            return self.ts_note
        formatted_for, text = self._ts_formatted
        if metrics != formatted_for:  # compared by value: the caller's mapping may change in place
            text = format_postfix(metrics) if metrics else ""
            self._ts_formatted = (dict(metrics) if metrics else None, text)
        return text

    @property
    def format_dict(self) -> dict[str, Any]:
        """tqdm's format arguments, with trainscope's layout and postfix."""
        d: dict[str, Any] = super().format_dict
        if "prefix" not in d:  # a disabled bar
            return d
        d["postfix"] = self._ts_postfix()
        known = _known_total(d["n"], d["total"])
        width = self.ts_width
        d["bar_format"] = bar_format(
            known_total=known, width=width, show_rate=self.ts_show_rate, show_eta=self.ts_show_eta
        )
        ncols = d["ncols"] = d.get("ncols") if self.ts_fits_terminal else None
        if not ncols or self._ts_overflow(d, ncols) <= 0:
            return d
        for candidate in self._ts_narrower(d, known, ncols):  # whole fields go, never half a value
            if self._ts_overflow(candidate, ncols) <= 0:
                return candidate
        return candidate  # only the description is left too wide: tqdm cuts the line

    def _ts_narrower(self, d: dict[str, Any], known: bool, ncols: int) -> Iterator[dict[str, Any]]:
        """Ever narrower forms of the line in ``d``: the bar shrinks, then goes; then the metrics
        after the first two, the rate, the times, and the last metrics, one whole field at a time."""
        rate, eta, width = self.ts_show_rate, self.ts_show_eta, self.ts_width

        def form(bar: int | None, metrics: int | None, show_rate: bool, show_time: bool) -> dict[str, Any]:
            layout = bar_format(
                known_total=known, width=bar, show_rate=show_rate, show_eta=eta, show_time=show_time
            )
            shown = self.ts_metrics or {}
            if metrics is not None:
                shown = dict(list(shown.items())[:metrics])
            return {**d, "bar_format": layout, "postfix": format_postfix(shown) if shown else ""}

        if known and width is not None:
            overflow = self._ts_overflow(d, ncols)
            if width - overflow >= MIN_BAR:
                yield form(width - overflow, None, rate, True)
            yield form(NO_BAR, None, rate, True)
        bar = NO_BAR if known and width is not None else width
        count = len(self.ts_metrics or {})
        for kept in range(count - 1, 1, -1):
            yield form(bar, kept, rate, True)
        kept = min(count, 2)
        if rate:
            yield form(bar, kept, False, True)
        yield form(bar, kept, False, False)
        for fewer in range(kept - 1, -1, -1):
            yield form(bar, fewer, False, False)

    def _ts_overflow(self, d: dict[str, Any], ncols: int) -> int:
        """How many columns the line in ``d`` is wider than ``ncols``."""
        return int(disp_len(self.format_meter(**{**d, "ncols": None}))) - ncols


class LineMeter(Meter):
    """Writes one complete line per redraw and a final line at close; no carriage returns.

    Created with ``leave=False`` so that tqdm's own close writes nothing.
    """

    ts_fits_terminal = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._ts_written_n: float | None = None
        super().__init__(*args, leave=False, **kwargs)

    def _ts_write(self, line: str) -> None:
        self._ts_written_n = self.n
        self.fp.write(line + "\n")
        self.fp.flush()

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        last = self.initial if self._ts_written_n is None else self._ts_written_n
        if msg is not None or self.n == last:  # a request to clear, or nothing new
            return False
        self._ts_write(str(self))
        return True

    def clear(self, nolock: bool = False) -> None:
        """Nothing to clear: lines are never rewritten."""

    def moveto(self, n: int) -> None:
        """Lines never move the cursor."""

    def close(self) -> None:
        if not getattr(self, "disable", True) and self.n != self._ts_written_n:
            # the final line shows the average rate over the whole phase, as tqdm's does
            self._ts_write(self.format_meter(**{**self.format_dict, "rate": None}))
        super().close()


def set_clock(meter: Meter, clock: Callable[[], float]) -> None:
    """Time ``meter`` (its elapsed time, rate and ETA, and when it redraws) by ``clock``, in
    seconds, instead of tqdm's wall clock: a session's clock, or a replayed run's time.

    tqdm's monitor thread compares each bar with the wall clock, so a bar on another clock
    leaves it (``maxinterval`` infinite): it is redrawn as its steps come, never by the monitor.
    """
    meter._time = clock
    meter.start_t = meter.last_print_t = clock()
    meter.maxinterval = math.inf


_notebook_class: type[Meter] | None = None


def notebook_front_end() -> bool:
    """True inside a Jupyter kernel (notebook, lab, VS Code, Colab) or JupyterLite."""
    return "ipykernel.zmqshell" in sys.modules or "IPython.utils._process_emscripten" in sys.modules


def notebook_meter_class() -> type[Meter] | None:
    """The ``tqdm.auto`` widget bar with trainscope's layout, or None when tqdm.auto is not a widget."""
    global _notebook_class
    if _notebook_class is None:
        from tqdm.auto import tqdm as auto_tqdm

        if auto_tqdm is std_tqdm:  # no ipywidgets, or a console front end
            return None
        _notebook_class = type("NotebookMeter", (Meter, auto_tqdm), {})
    return _notebook_class


def _isatty(file: TextIO) -> bool:
    try:
        return bool(file.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def choose_mode(file: TextIO) -> Mode:
    """``notebook`` for the standard streams in a notebook, ``terminal`` for a tty, else ``lines``."""
    if file in (sys.stderr, sys.stdout) and notebook_front_end() and notebook_meter_class() is not None:
        return "notebook"
    return "terminal" if _isatty(file) else "lines"


def create_meter(
    description: str,
    total: int | None,
    options: BarOptions,
    *,
    unit: str,
    file: TextIO,
    mode: Mode,
    position: int | None = None,
    initial: int = 0,
) -> Meter:
    """A started tqdm bar of the given mode (``position``: the terminal line, counted from the
    cursor's; ``initial``: the steps done before it, left out of its rate)."""
    common: dict[str, Any] = {
        "desc": description,
        "total": total,
        "initial": initial,
        "unit": unit,
        "ts_show_rate": options.show_rate,
        "ts_show_eta": options.show_eta,
    }
    if mode == "notebook":
        cls = notebook_meter_class()
        assert cls is not None
        return cls(ts_width=None, mininterval=options.refresh_interval, **common)
    if mode == "terminal":
        return Meter(
            file=file,
            ts_width=options.width,
            mininterval=options.refresh_interval,
            dynamic_ncols=True,
            position=position,
            **common,
        )
    return LineMeter(file=file, ts_width=options.width, mininterval=options.line_interval, **common)
