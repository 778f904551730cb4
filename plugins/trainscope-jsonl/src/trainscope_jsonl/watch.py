"""``trainscope watch [LOG | FOLDER]``: a live view of a run another process (or host) is logging.

The log's events are handed, as the hook calls the run made, to the installed reporters that
show a run (the tqdm bars, the summary, any third-party one), so the view is drawn by the same
code as the run's own screen; the architecture the log holds is printed first. The log is
followed as it grows until its ``run_end``; a file truncated or replaced makes the view start
over. Nothing is written to the log. See the documentation page "Watching a run".
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from trainscope.plugin_api import PluginManager, create_replay_manager, log_directory, printable
from trainscope_jsonl import fields
from trainscope_jsonl.command_support import newest_log, read_or_fail
from trainscope_jsonl.reader import EventStream, LogFormatError, json_error_reason, parse_line
from trainscope_jsonl.schema import SCHEMA_VERSION
from trainscope_jsonl.summary import SummaryBuilder
from trainscope_jsonl.table import describe_run
from trainscope_jsonl.watch_follow import FollowedLog
from trainscope_jsonl.watch_replay import Replay
from trainscope_jsonl.watch_start import CatchUp, replay_lines, start_at

POLL_SECONDS = 0.1
"""How often a log that did not grow is looked at again (the run's bars redraw as often)."""
READ_BYTES = 1024 * 1024
"""Bytes of new lines handed on at a time."""
CATCH_UP_BYTES = 2 * 1024 * 1024
"""Bytes of an open phase's earlier steps read back between two looks at the log."""
LEFT_OUT = ("jsonl", "arch", "tensorboard")
"""Reporters the view never calls: the log writer, the architecture printer (the log holds
its printout) and the TensorBoard writer (the reporters with a store of their own are left out
by :func:`~trainscope.plugin_api.create_replay_manager`)."""
EXIT_CODES: Mapping[str, int] = {"completed": 0, "failed": 3, "interrupted": 4}
"""The exit status for how the run ended (1 is the watch's own error, 2 a wrong command line)."""


@dataclass(frozen=True)
class StartOver:
    """The log no longer goes on from what was read: why, in a sentence."""

    reason: str


def _waited_too_long(what: str, wait: float) -> click.ClickException:
    return click.ClickException(printable(f"{what} within {wait:g} s: {_WAIT_FIX}"))


_WAIT_FIX = "start the run (its log folder is TRAINSCOPE_LOG_DIR, default runs/) or wait longer with --wait"


def find_log(path: Path, wait: float) -> Path:
    """The log ``path`` names: a file, or a folder's newest log (waiting up to ``wait`` seconds
    for one to appear, and for a folder that does not exist yet to be created)."""
    if path.suffix == ".jsonl" and not path.exists():
        raise click.ClickException(
            printable(f"no such run log: {str(path)!r}: give a .jsonl file or its folder")
        )
    if path.exists() and not path.is_dir():
        return path
    deadline, said = time.monotonic() + wait, False
    while True:
        if path.is_dir():
            try:
                return newest_log(path)
            except click.ClickException:
                pass
        if time.monotonic() >= deadline:
            raise _waited_too_long(f"no run log (*.jsonl file) appeared in the folder {str(path)!r}", wait)
        if not said:
            missing = "" if path.is_dir() else " (the folder does not exist yet)"
            click.echo(printable(f"Waiting for a run log in {str(path)!r}{missing}..."), err=True)
            said = True
        time.sleep(POLL_SECONDS * 2)


def _first_event(followed: FollowedLog, wait: float) -> dict[str, Any]:
    """The log's ``run_start`` once its first line is complete (waiting up to ``wait`` seconds)."""
    where = repr(printable(followed.path))
    deadline = time.monotonic() + wait
    while (line := followed.first_line()) is None:
        if time.monotonic() >= deadline:
            raise _waited_too_long(f"{where} got no complete first line", wait)
        time.sleep(POLL_SECONDS)
    try:
        event = parse_line(line)
    except ValueError as exc:
        raise LogFormatError(
            f"{where} line 1: not a JSON object: {json_error_reason(exc)}: not a trainscope run log"
        ) from None
    name = event.get("event", fields.MISSING)
    if name != "run_start":
        shown = fields.quoted(name) if isinstance(name, str) else fields.json_kind(name)
        raise LogFormatError(
            f"{where} line 1: the event is {shown}, not run_start: not a trainscope run log, "
            "or not from its start"
        )
    version = event.get("schema_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= SCHEMA_VERSION:
        raise LogFormatError(
            f"{where} has schema version {fields.json_kind(version)}, which this trainscope-jsonl "
            f"(schema version {SCHEMA_VERSION}) cannot draw: upgrade trainscope-jsonl"
        )
    return event


def follow(followed: FollowedLog, replay: Replay, jobs: list[CatchUp]) -> StartOver | None:
    """Hand on the log's new lines as they come until its ``run_end`` with nothing after it (None;
    a resumed run goes on after an earlier ``run_end``), or until it no longer goes on from what
    was read (:class:`StartOver`); read back ``jobs`` meanwhile."""
    lines: list[tuple[int, bytes]] = [(0, b"")]
    while replay.end is None or lines:
        change = followed.change()
        if change is not None:
            if not followed.follow_copy():
                return StartOver(change)
            click.echo(printable(f"trainscope watch: {change}, a copy of the log: following it"), err=True)
        lines = followed.read(READ_BYTES)
        replay_lines(replay, followed.bytes, lines)
        if jobs and jobs[0].work(followed.bytes, replay, CATCH_UP_BYTES):
            jobs.pop(0)
        if not lines and not jobs:
            time.sleep(POLL_SECONDS)
    return None


Ended = tuple[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any] | None]
"""A watched run's ``run_start``, its ``run_end`` and the writer's ``log_error``, if any."""


def watch_once(log: Path, hooks: PluginManager, wait: float) -> Ended | StartOver:
    """Draw the run logged in ``log`` to its end (:data:`Ended`), or say why the view must
    start over."""
    followed = FollowedLog(log)
    replay = Replay(hooks, log)
    try:
        head = _first_event(followed, wait)
        run = replay.start(head)
        end = followed.bytes.complete_end(followed.offset, followed.size())
        jobs = start_at(replay, followed.bytes, run.run_id, followed.offset, end)
        followed.offset = end
        started_over = follow(followed, replay, jobs)
        if started_over is not None:
            return started_over
        assert replay.end is not None
        return head, replay.end, replay.log_error
    except fields.FieldError as exc:  # a field of run_start
        raise LogFormatError(f'{str(log)!r} line 1: "run_start" event {exc}') from None
    finally:
        replay.close_quietly()
        followed.close()


def end_line(
    log: Path, head: Mapping[str, Any], end: Mapping[str, Any], log_error: Mapping[str, Any] | None
) -> tuple[str, int]:
    """``Run NAME (ID): completed after 4.20 s`` (as ``trainscope log`` says it) and the exit
    status for it."""
    builder = SummaryBuilder(EventStream(log))
    summary = builder.on_run_start(head)
    builder.on_run_end(summary, end)
    if log_error is not None:
        builder.on_log_error(summary, log_error)
    code = EXIT_CODES["failed"] if summary.abandoned else EXIT_CODES.get(str(summary.status), 3)
    return describe_run(summary), code


@click.command("watch", short_help="Follow a run from its log: bars and summaries.")
@click.argument("path", required=False, metavar="[LOG | FOLDER]", type=click.Path(path_type=Path))
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=300.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for a log to appear in FOLDER (or for a new log's first line).",
)
@click.pass_context
def watch_command(ctx: click.Context, path: Path | None, wait: float) -> None:
    """Show the run logged in LOG live, as the run itself shows it: the architecture, the
    progress bars, each summary. A FOLDER (default: TRAINSCOPE_LOG_DIR, else runs/) watches its
    newest log, waiting for one to appear. Ends when the run does: exit status 0 when it
    completed, 3 when it failed, 4 when it was interrupted.
    """
    log = find_log(path if path is not None else log_directory(), wait)
    click.echo(printable(f"Watching {log}"), err=True)
    hooks = create_replay_manager(leave_out=[*LEFT_OUT, *getattr(ctx.obj, "disabled", ())])
    while True:
        result = read_or_fail(lambda named: watch_once(named, hooks, wait), log)
        if not isinstance(result, StartOver):
            break
        click.echo(printable(f"trainscope watch: {result.reason}: starting over"), err=True)
    text, code = end_line(log, *result)
    click.echo(text)
    ctx.exit(code)


__all__ = [
    "EXIT_CODES",
    "LEFT_OUT",
    "Ended",
    "StartOver",
    "end_line",
    "find_log",
    "watch_command",
    "watch_once",
]
