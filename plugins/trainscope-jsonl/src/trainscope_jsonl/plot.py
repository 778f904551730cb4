"""Runs' metrics per training step as a matplotlib figure (needs the ``plot`` extra).

The figure is built with matplotlib's object API, without ``pyplot``: no GUI backend is
ever loaded, and saving renders with Agg (PNG), or the SVG or PDF backend.
"""

from __future__ import annotations

import io
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import EngFormatter, PercentFormatter

from trainscope.plugin_api import is_accuracy_like, printable
from trainscope_jsonl.atomic import replaced_whole
from trainscope_jsonl.curves import RunCurves
from trainscope_jsonl.summary import EpochRecord
from trainscope_jsonl.table import run_state

PLOT_FORMATS = (".png", ".svg", ".pdf")
"""The image formats :func:`save_figure` writes, by file suffix."""

PNG_DPI = 150
_LABEL_LIMIT = 80
_STEPS: dict[str, Any] = {"linewidth": 0.8, "alpha": 0.35}
_MEANS: dict[str, Any] = {"linewidth": 1.8, "marker": "o", "markersize": 4}
_VALIDATION: dict[str, Any] = {"linewidth": 1.8, "linestyle": "--", "marker": "s", "markersize": 4}
_BEST_LINE: dict[str, Any] = {"linewidth": 1.2, "linestyle": ":"}
_BEST_POINT: dict[str, Any] = {
    "linestyle": "none",
    "marker": "*",
    "markersize": 15,
    "markeredgecolor": "black",
    "zorder": 5,
}


def label_text(text: object) -> str:
    """Text from a log made safe for a matplotlib label: no control characters, no math mode, cut."""
    safe = printable(text)
    safe = safe if len(safe) <= _LABEL_LIMIT else safe[: _LABEL_LIMIT - 3] + "..."
    return safe.replace("$", r"\$")


def run_label(run: RunCurves) -> str:
    """``NAME (first 8 characters of the run id)``."""
    return label_text(f"{run.summary.name} ({run.summary.run_id[:8]})")


def run_caption(run: RunCurves, letter: str | None = None) -> str:
    """The run's label (after ``letter``, the name a comparison gives it, when given), how it
    ended, and its best epoch (or evaluation)."""
    parts = [run_label(run) if letter is None else f"{label_text(letter)}  {run_label(run)}"]
    parts.append(label_text(run_state(run.summary)))
    best = run.summary.best
    if best is not None:
        record = best.record
        parts.append(
            f"best epoch {record.epoch}"
            if isinstance(record, EpochRecord)
            else f"best evaluation at step {record.step}"
        )
    return ", ".join(parts)


def _metrics(runs: Sequence[RunCurves]) -> list[str]:
    names = list(dict.fromkeys(name for run in runs for name in run.metrics))
    first = [name for name in ("loss", "accuracy") if name in names]
    return first + [name for name in names if name not in first]


def _draw_run(ax: Axes, metric: str, run: RunCurves, index: int) -> set[str]:
    """One run's lines on the metric's axes; the kinds of line drawn."""
    color, drawn = f"C{index % 10}", set()
    for kind, points, style in (
        ("train-steps", run.training_steps(metric), _STEPS),
        (f"train-{run.means_per}s", run.training_means(metric), _MEANS),
        ("validation", run.validation(metric), _VALIDATION),
    ):
        xs, ys = points
        if xs:
            ax.plot(xs, ys, color=color, gid=f"{kind}:{index}", **style)
            drawn.add(kind)
    best = run.summary.best
    if best is not None:
        ax.axvline(best.record.global_step, color=color, gid=f"best-line:{index}", **_BEST_LINE)
        if metric == "loss":
            point = ([best.record.global_step], [best.loss])
            ax.plot(*point, color=color, gid=f"best:{index}", **_BEST_POINT)
        drawn.add("best")
    return drawn


_KEY: dict[str, tuple[str, dict[str, Any]]] = {
    "train-steps": ("training, per step", _STEPS),
    "train-epochs": ("training, epoch mean", _MEANS),
    "train-evaluations": ("training, mean between evaluations", _MEANS),
    "validation": ("validation", _VALIDATION),
    "best": ("best", {**_BEST_LINE, "marker": "*", "markersize": 12}),
}


def _key_label(kind: str, runs: Sequence[RunCurves]) -> str:
    """The legend's text for a kind of line: per-step lines say when they are bucket means,
    the best marker says what it marks."""
    label = _KEY[kind][0]
    if kind == "train-steps":
        bucket = max((series.bucket for run in runs for series in run.series.values()), default=1)
        return label + (f" (means of up to {bucket} steps)" if bucket > 1 else "")
    if kind == "best":
        marked = {run.means_per for run in runs if run.summary.best is not None}
        return f"{label} {' or '.join(sorted(marked))}"
    return label


def _add_legends(
    figure: Figure, runs: Sequence[RunCurves], kinds: set[str], letters: Sequence[str] | None
) -> None:
    """The kinds of line in one row at the bottom; several runs' colours at the top, as the title."""
    styles = [
        Line2D([], [], color="0.35", label=_key_label(kind, runs), **style)
        for kind, (_, style) in _KEY.items()
        if kind in kinds
    ]
    figure.legend(handles=styles, loc="outside lower center", ncols=max(len(styles), 1), frameon=False)
    if len(runs) > 1:
        colours = [
            Line2D(
                [],
                [],
                color=f"C{index % 10}",
                linewidth=4,
                label=run_caption(run, letters[index] if letters else None),
            )
            for index, run in enumerate(runs)
        ]
        figure.legend(
            handles=colours,
            loc="outside upper center",
            ncols=1 if len(runs) <= 3 else 2,
            frameon=False,
            title=f"{len(runs)} runs compared",
            title_fontproperties={"size": "large"},
        )


def build_figure(runs: Sequence[RunCurves], *, letters: Sequence[str] | None = None) -> Figure:
    """One plot per metric (loss, accuracy, then the others) against the global training step.

    Each run has its colour; per-step training values are a thin line, the epoch means (in
    a run declared in steps: the means between evaluations) a line with dots, validation a
    dashed line with squares at the step where it ran, and the best epoch (or evaluation) a
    dotted vertical line and a star on the loss. ``letters``: a name for each run (``A``,
    ``B``... as ``trainscope compare`` calls them), shown before it in the legend of several
    runs. ``ValueError`` when no run has a metric to plot.
    """
    metrics = _metrics(runs)
    if not metrics:
        raise ValueError("no metrics to plot: the logs hold no step, phase_end or epoch_end with metrics")
    columns = 1 if len(metrics) == 1 else 2
    rows = math.ceil(len(metrics) / columns)
    legend_height = 0.6 + 0.25 * math.ceil(len(runs) / 2) if len(runs) > 1 else 0.0
    figure = Figure(figsize=(6.4 * columns, 3.3 * rows + 1.3 + legend_height), layout="constrained")
    grid = figure.subplots(rows, columns, squeeze=False, sharex=True)
    kinds: set[str] = set()
    for position, ax in enumerate(grid.flat):
        if position >= len(metrics):
            ax.remove()
            grid.flat[position - columns].xaxis.set_tick_params(labelbottom=True)
            continue
        metric = metrics[position]
        for index, run in enumerate(runs):
            kinds |= _draw_run(ax, metric, run, index)
        ax.set_title(label_text(metric))
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
        if is_accuracy_like(metric):
            ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
        if position >= len(metrics) - columns:
            ax.set_xlabel("training step")
    if len(runs) == 1:
        figure.suptitle(run_caption(runs[0]), fontsize="large")
    _add_legends(figure, runs, kinds, letters)
    return figure


def check_format(path: str | os.PathLike[str]) -> str:
    """The format of ``path`` from its suffix (``png``, ``svg``, ``pdf``); ``ValueError`` for another."""
    suffix = Path(path).suffix.lower()
    if suffix not in PLOT_FORMATS:
        raise ValueError(
            f"cannot write a plot to {str(path)!r}: give a file name ending in {', '.join(PLOT_FORMATS)}"
        )
    return suffix[1:]


def save_figure(figure: Figure, path: str | os.PathLike[str]) -> None:
    """Write the figure to ``path`` in the format its suffix names (see :data:`PLOT_FORMATS`).

    The image is written to a new file next to ``path``, then renamed onto it: a file
    already at ``path`` (or a hard link of it elsewhere) is replaced whole or not at all,
    never written through.
    """
    image_format = check_format(path)
    with replaced_whole(Path(path)) as file:
        figure.savefig(file, format=image_format, dpi=PNG_DPI if image_format == "png" else "figure")


_SVG_START = re.compile(r"<svg[\s>]")
_COMMENT = re.compile(r"\s*<!--.*?-->", re.DOTALL)


def figure_svg(figure: Figure) -> str:
    """The figure as an ``<svg>`` element to put inside an HTML page: text drawn as paths (no
    fonts needed), without metadata, comments, XML declaration or DOCTYPE (which only a file needs)."""
    buffer = io.StringIO()
    with rc_context({"svg.fonttype": "path"}):
        figure.savefig(
            buffer, format="svg", metadata={"Creator": None, "Date": None, "Format": None, "Type": None}
        )
    text = buffer.getvalue()
    start = _SVG_START.search(text)
    return _COMMENT.sub("", text[start.start() :] if start else text)
