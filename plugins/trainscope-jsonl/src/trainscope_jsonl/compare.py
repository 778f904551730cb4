"""``trainscope compare``: whole runs side by side (how each ended, the config values that
differ, final and best metrics, time, throughput), and their curves on one image.

``trainscope log A B`` shows the runs epoch by epoch; this is the view of whole runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path

import click

from trainscope.plugin_api import printable
from trainscope_jsonl.command_support import plot_notes, read_or_fail, resolve_log, same_file
from trainscope_jsonl.health_text import last_health_rows
from trainscope_jsonl.outputs import one_line_errors
from trainscope_jsonl.overview import (
    Row,
    RunOverview,
    config_differences,
    metric_rows,
    read_overview,
    run_rows,
    throughput_rows,
)
from trainscope_jsonl.table import render_columns, run_headers, run_letter

PLOT_MATPLOTLIB_MISSING = 'trainscope compare --plot needs matplotlib: pip install "trainscope-jsonl[plot]"'
SAME_CONFIG = "Config: the same in every run"

Section = tuple[str, list[Row]]
"""A titled group of rows."""


def comparison_sections(runs: Sequence[RunOverview]) -> list[Section]:
    """The groups of rows of a comparison, in order: the run, its config differences, final
    and best metrics, throughput, health. Groups without rows are left out."""
    metrics = metric_rows(runs)
    sections: list[Section] = [
        ("Run", run_rows(runs)),
        ("Config (differences)", config_differences(runs)),
        ("Final", [(row.heading, row.final) for row in metrics]),
        ("Best", [(f"{row.heading} ({row.better})", row.best) for row in metrics]),
        ("Throughput (last epoch)", throughput_rows(runs)),
        ("Health (last epoch)", last_health_rows([run.summary for run in runs])),
    ]
    return [(title, rows) for title, rows in sections if rows]


def format_run_comparison(runs: Sequence[RunOverview]) -> str:
    """Each run under its letter (its log, name, state, best epoch), then one table with a
    column per run: a group of rows per section (see :func:`comparison_sections`), its
    title over the letters, every group aligned with the others."""
    letters = [run_letter(index) for index in range(len(runs))]
    table: list[list[str]] = []
    for title, rows in comparison_sections(runs):
        table += [[""] * (len(runs) + 1)] if table else []
        table += [[title, *letters], *([label, *cells] for label, cells in rows)]
    lines = [*run_headers([run.summary for run in runs]), "", *render_columns(table[0], table[1:], left=1)]
    if not config_differences(runs):
        lines += ["", SAME_CONFIG if any(run.start.config for run in runs) else "Config: none logged"]
    return "\n".join(lines)


def _plot_target(output: Path, logs: Sequence[Path]) -> None:
    """A one-line error unless ``output`` is an image file name that is none of the logs."""

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise click.ClickException(PLOT_MATPLOTLIB_MISSING) from None
    from trainscope_jsonl.plot import check_format

    with one_line_errors(output):
        check_format(output)
    if any(same_file(output, log) for log in logs):
        raise click.ClickException(printable(f"{str(output)!r} is one of the logs: give another file"))


def _write_plot(runs: Sequence[RunOverview], output: Path) -> None:
    """The runs' curves on one image: a plot per metric, every run on the same training-step axis."""
    from trainscope_jsonl.plot import build_figure, save_figure

    drawn = [(run.path, run.curves) for run in runs if run.curves is not None]  # all: read for the plot
    for path, curves in drawn:
        for note in plot_notes(path, curves):
            click.echo(f"Note: {note}", err=True)
    letters = [run_letter(index) for index in range(len(drawn))]
    with one_line_errors(output):
        save_figure(build_figure([curves for _, curves in drawn], letters=letters), output)
    click.echo(f"Wrote {printable(output)}")


@click.command("compare", short_help="Compare whole logged runs side by side.")
@click.argument(
    "paths", nargs=-1, required=True, metavar="LOG LOG...", type=click.Path(exists=True, path_type=Path)
)
@click.option(
    "--plot",
    "plot_output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also draw the runs' curves on one image: .png, .svg or .pdf (needs trainscope-jsonl[plot]).",
)
def compare_command(paths: tuple[Path, ...], plot_output: Path | None) -> None:
    """Compare the runs logged in LOG LOG... (a folder: its newest run), a column per run.

    How each run ended (status, error, time, length), the config values that differ
    (and keys only some runs have), each metric's final and best value (min for loss-like,
    max for accuracy-like metrics), throughput (examples/s, steps/s, FLOP/s, MFU,
    peak memory, where logged) and the last epoch's health (verdict, median step time, the
    share of time waiting for data). With --plot, the runs' curves against the training step.
    """
    # cli.py imports this module for its list of commands: its helpers are imported when run

    if len(paths) < 2:
        raise click.UsageError(
            "give at least two logs to compare (one run: trainscope log or trainscope report)"
        )
    logs = [resolve_log(path) for path in paths]
    if plot_output is not None:
        _plot_target(plot_output, logs)
    read = partial(read_overview, curves=plot_output is not None)
    runs = [read_or_fail(read, log) for log in logs]
    click.echo(format_run_comparison(runs))
    if plot_output is not None:
        _write_plot(runs, plot_output)
