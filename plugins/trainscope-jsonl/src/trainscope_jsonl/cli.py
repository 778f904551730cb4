"""``trainscope log`` (a run's epochs as a table, several runs side by side) and
``trainscope plot`` (runs' metrics per training step as an image)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from trainscope.plugin_api import printable
from trainscope_jsonl.curves import MAX_METRICS, RunCurves, read_curves
from trainscope_jsonl.reader import LogFormatError
from trainscope_jsonl.summary import read_summary
from trainscope_jsonl.table import format_comparison, format_epochs, run_state

MATPLOTLIB_MISSING = 'trainscope plot needs matplotlib: pip install "trainscope-jsonl[plot]"'

T = TypeVar("T")

_LOGS = click.argument(
    "paths", nargs=-1, required=True, metavar="PATH...", type=click.Path(exists=True, path_type=Path)
)


def newest_log(directory: Path) -> Path:
    """The log of the most recent run in ``directory`` (names sort by start time)."""
    logs = sorted(path for path in directory.glob("*.jsonl") if path.is_file())
    if not logs:
        raise click.ClickException(printable(f"no run logs (*.jsonl files) in the folder {str(directory)!r}"))
    return logs[-1]


def resolve_log(path: Path) -> Path:
    """``path``, or for a folder the newest log in it."""
    return newest_log(path) if path.is_dir() else path


def read_or_fail(reader: Callable[[Path], T], path: Path) -> T:
    """``reader(path)``, with a bad or unreadable log turned into a one-line error."""
    try:
        return reader(path)
    except LogFormatError as exc:
        raise click.ClickException(printable(exc)) from None
    except OSError as exc:
        raise click.ClickException(printable(f"cannot read {str(path)!r}: {exc.strerror or exc}")) from None


@click.command("log", short_help="Print the epochs of a logged run.")
@_LOGS
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


def same_file(a: Path, b: Path) -> bool:
    """True when ``a`` and ``b`` name one file: the same path, a link to it, a hard link."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): not the same file
        return False


def require_matplotlib() -> None:
    """A one-line error naming the ``plot`` extra when matplotlib cannot be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise click.ClickException(MATPLOTLIB_MISSING) from None


def plot_notes(path: Path, run: RunCurves) -> list[str]:
    """What the plot of ``run`` leaves out, and why."""
    summary, where = run.summary, printable(path)
    notes = []
    if summary.end is None or summary.abandoned is not None:
        notes.append(f"{where}: {printable(run_state(summary))}; plotting what the log has")
    if summary.truncated:
        notes.append(f"{where}: the last line was cut off and is skipped")
    if run.metrics_cut:
        notes.append(f"{where}: more than {MAX_METRICS} metrics; plotting the first {MAX_METRICS}")
    return notes


@click.command("plot", short_help="Plot a logged run's metrics per step.")
@_LOGS
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
    try:
        save_figure(build_figure(runs), output)
    except ValueError as exc:
        raise click.ClickException(printable(exc)) from None
    except OSError as exc:
        raise click.ClickException(
            printable(f"cannot write {str(output)!r}: {exc.strerror or exc}")
        ) from None
    click.echo(f"Wrote {printable(output)}")


COMMANDS: tuple[click.Command, ...] = (log_command, plot_command)
"""The sub-commands this package adds to ``trainscope``."""
