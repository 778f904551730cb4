"""``trainscope log`` (a run's epochs as a table, several runs side by side) and
``trainscope plot`` (runs' metrics per training step as an image)."""

from __future__ import annotations

from pathlib import Path

import click

from trainscope.plugin_api import printable
from trainscope_jsonl.command_support import (
    LOGS,
    plot_notes,
    read_or_fail,
    require_matplotlib,
    resolve_log,
    same_file,
)
from trainscope_jsonl.compare import compare_command
from trainscope_jsonl.curves import read_curves
from trainscope_jsonl.outputs import one_line_errors
from trainscope_jsonl.report import report_command
from trainscope_jsonl.summary import read_summary
from trainscope_jsonl.table import format_comparison, format_epochs
from trainscope_jsonl.watch import watch_command


@click.command("log", short_help="Print the epochs of a logged run.")
@LOGS
def log_command(paths: tuple[Path, ...]) -> None:
    """Print the epochs of the run logged in PATH (a folder: its newest run).

    Several PATHs: the runs side by side, one small table per metric with a column per run.
    """
    logs = [resolve_log(path) for path in paths]
    summaries = [read_or_fail(read_summary, path) for path in logs]
    if len(summaries) == 1:
        click.echo(f"Log: {printable(logs[0])}")
        click.echo(format_epochs(summaries[0]))
    else:
        click.echo(format_comparison(summaries))


@click.command("plot", short_help="Plot a logged run's metrics per step.")
@LOGS
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The image to write: .png, .svg or .pdf (default: the first log's name with .png).",
)
def plot_command(paths: tuple[Path, ...], output: Path | None) -> None:
    """Plot the metrics of the runs logged in PATH per training step (a folder: its newest run).

    Loss, accuracy and every other metric: per step, epoch means, validation points and
    the best epoch, one colour per run. Needs matplotlib (the extra trainscope-jsonl[plot]).
    """
    require_matplotlib()
    from trainscope_jsonl.plot import build_figure, check_format, save_figure

    logs = [resolve_log(path) for path in paths]
    output = logs[0].with_suffix(".png") if output is None else output
    try:
        check_format(output)
    except ValueError as exc:
        raise click.ClickException(printable(exc)) from None
    if any(same_file(output, log) for log in logs):
        raise click.ClickException(
            printable(f"{str(output)!r} is one of the logs: give another file with -o")
        )
    runs = [read_or_fail(read_curves, path) for path in logs]
    for path, run in zip(logs, runs):
        for note in plot_notes(path, run):
            click.echo(f"Note: {note}", err=True)
    with one_line_errors(output):
        save_figure(build_figure(runs), output)
    click.echo(f"Wrote {printable(output)}")


COMMANDS: tuple[click.Command, ...] = (
    log_command,
    plot_command,
    compare_command,
    report_command,
    watch_command,
)
"""The sub-commands this package adds to ``trainscope``."""
