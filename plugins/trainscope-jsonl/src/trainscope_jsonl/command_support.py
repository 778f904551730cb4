"""What the log commands share: finding the log a path names, reading it with one-line errors,
and the checks before writing an output file."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from trainscope.plugin_api import printable
from trainscope_jsonl.curves import MAX_METRICS, RunCurves
from trainscope_jsonl.reader import LogFormatError
from trainscope_jsonl.table import run_state

MATPLOTLIB_MISSING = 'trainscope plot needs matplotlib: pip install "trainscope-jsonl[plot]"'

T = TypeVar("T")

LOGS = click.argument(
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


__all__ = [
    "LOGS",
    "MATPLOTLIB_MISSING",
    "newest_log",
    "plot_notes",
    "read_or_fail",
    "require_matplotlib",
    "resolve_log",
    "same_file",
]
