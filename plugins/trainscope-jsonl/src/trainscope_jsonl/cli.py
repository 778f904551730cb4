"""``trainscope log PATH``: a run's epochs as a table."""

from __future__ import annotations

from pathlib import Path

import click

from trainscope_jsonl.reader import LogFormatError, read_run
from trainscope_jsonl.table import format_epochs


def newest_log(directory: Path) -> Path:
    """The log of the most recent run in ``directory`` (names sort by start time)."""
    logs = sorted(directory.glob("*.jsonl"))
    if not logs:
        raise click.ClickException(f"no run logs (*.jsonl) in {str(directory)!r}")
    return logs[-1]


@click.command("log")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
def log_command(path: Path) -> None:
    """Print the epochs of the run logged in PATH (a directory: its newest run)."""
    if path.is_dir():
        path = newest_log(path)
    try:
        log = read_run(path)
    except LogFormatError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Log: {path}")
    click.echo(format_epochs(log))


COMMANDS: tuple[click.Command, ...] = (log_command,)
"""The sub-commands this package adds to ``trainscope``."""
