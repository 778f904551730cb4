"""The ``trainscope`` command line; packages add sub-commands through a hook."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import click

from trainscope import environment_variables as env_vars
from trainscope.log_files import log_directory_set
from trainscope.plugin_types import PluginFatalError, PluginWarning
from trainscope.plugins import PluginManager, create_plugin_manager
from trainscope.signals import (
    HANDLED_SIGNALS,
    INTERRUPTED_EXIT_CODE,
    InterruptLatch,
    Terminated,
    exit_now,
    exit_status,
    interruption_line,
)
from trainscope.status import StartupStatus
from trainscope.text import printable
from trainscope.version import __version__


@dataclass
class CliContext:
    """What every sub-command gets as ``ctx.obj``: the plugin manager and ``-p no:`` names."""

    plugin_manager: PluginManager
    disabled: list[str] = field(default_factory=list)
    interrupts: InterruptLatch | None = None
    """The command line's signal latch: a command checks it between its start-up stages."""
    status: StartupStatus = field(default_factory=StartupStatus)
    """A transient line on a terminal saying what the command is loading (cleared before its run)."""


def blocked_names(args: Sequence[str]) -> list[str]:
    """The plugin names blocked with ``-p no:NAME`` (or ``-pno:NAME``) in ``args``."""
    names: list[str] = []
    for i, arg in enumerate(args):
        value = None
        if arg == "-p" and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith("-p") and arg != "-p":
            value = arg[2:].lstrip("=")
        if value is not None and value.startswith("no:"):
            names.append(value[3:])
    return names


def _check_plugin_option(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    for value in values:
        if not value.startswith("no:") or not value[3:]:
            raise click.BadParameter(f"expected no:NAME to block plugin NAME, got {value!r}", ctx, param)
    return values


class TrainscopeGroup(click.Group):
    """The ``trainscope`` group: an unknown command that a blocked plugin provides says so."""

    plugin_manager: PluginManager | None = None

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else None
        if name is not None and not name.startswith("-") and self.get_command(ctx, name) is None:
            hint = blocked_command_hint(self.plugin_manager, name)
            if hint is not None:
                ctx.fail(f"No such command {name!r}: {hint}")
        return super().resolve_command(ctx, args)


def blocked_command_hint(plugin_manager: PluginManager | None, command: str) -> str | None:
    """Which plugin that is not enabled provides ``command``, and why it is not; None if none does.

    Only on this error path, each plugin that is not enabled is loaded into a scratch
    group to see the commands it would add.
    """
    if plugin_manager is None:
        return None
    for info in plugin_manager.list_plugins():
        if info.enabled:
            continue
        scratch = click.Group("scratch")
        try:
            loaded = create_plugin_manager(plugins=[info.name], environ={})
            loaded.register_commands(scratch)
        except Exception:  # noqa: BLE001 - a plugin that cannot even load gives no hint
            continue
        if command in scratch.commands:
            dist = f" ({info.distribution})" if info.distribution else ""
            reason = info.reason or "not enabled"
            return (
                f"it is provided by the plugin {info.name!r}{dist}, which is {reason}; "
                f"unblock it (check {env_vars.TRAINSCOPE_PLUGINS}, {env_vars.TRAINSCOPE_DISABLE_PLUGINS} "
                f"and -p no:{info.name})"
            )
    return None


def build_cli(plugin_manager: PluginManager) -> click.Group:
    """A fresh ``trainscope`` group with every enabled plugin's commands added."""

    @click.group(cls=TrainscopeGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, prog_name="trainscope")
    @click.option(
        "-p",
        "plugin_options",
        multiple=True,
        metavar="no:NAME",
        callback=_check_plugin_option,
        help="Block plugin NAME for this command (repeatable).",
    )
    def trainscope(plugin_options: tuple[str, ...]) -> None:
        """trainscope: see what a training run is doing while it runs."""

    assert isinstance(trainscope, TrainscopeGroup)
    trainscope.plugin_manager = plugin_manager
    trainscope.add_command(plugins_command)
    trainscope.add_command(demo_command)
    plugin_manager.register_commands(trainscope)
    return trainscope


@click.command("plugins", short_help="List the plugins found and their state.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def plugins_command(obj: CliContext, as_json: bool) -> None:
    """List every plugin found: distribution, version, hooks, enabled or why not."""
    infos = obj.plugin_manager.list_plugins()
    if as_json:
        click.echo(json.dumps([info.as_dict() for info in infos], indent=2))
        return
    if not infos:
        click.echo("No trainscope plugins installed.")
        return
    for info in infos:
        dist = f"{info.distribution} {info.version}" if info.distribution else "(registered in code)"
        state = "enabled" if info.enabled else f"disabled: {info.reason}"
        click.echo(f"{info.name}  [{dist}]  {state}")
        if info.hooks:
            click.echo(f"    hooks: {', '.join(info.hooks)}")


@click.command("demo", short_help="Show every reporter on a scripted run.")
@click.option("--epochs", default=3, show_default=True, type=click.IntRange(min=1))
@click.option("--steps", default=60, show_default=True, type=click.IntRange(min=1))
@click.option("--step-seconds", default=0.02, show_default=True, type=click.FloatRange(min=0))
@click.option(
    "--log-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the demo's run files in this folder  [default: none are kept]",
)
@click.pass_obj
def demo_command(obj: CliContext, epochs: int, steps: int, step_seconds: float, log_dir: Path | None) -> None:
    """Show every enabled reporter on a scripted run (nothing is trained, nothing is kept).

    Without ``--log-dir`` the run's files go to a temporary folder removed at the end, and
    reporters that write to a store of their own (MLflow) are left out.
    """
    from trainscope.demo import run_demo

    with contextlib.ExitStack() as stack:
        disabled = list(obj.disabled)
        if log_dir is None:
            log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="trainscope-demo-")))
            disabled += obj.plugin_manager.external_store_names()
        stack.enter_context(log_directory_set(log_dir))
        run_demo(
            epochs=epochs,
            steps=steps,
            validation_steps=max(1, steps // 4),
            step_seconds=step_seconds,
            disable=disabled,
        )


INTERRUPTED_EXIT_CODES = frozenset({INTERRUPTED_EXIT_CODE, *(128 + signum for signum in HANDLED_SIGNALS)})
"""130, 143 and 129: the exit statuses of a command ended by a signal."""


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point.

    Ctrl-C, SIGTERM and SIGHUP at any instant end the command with one line and exit
    status 130 (143, 129), never lost (see :class:`~trainscope.signals.InterruptLatch`). Run
    as the console script (``argv`` None), a signal while no run is open ends the process at
    once, and so does the end of an interrupted run, once its reporters closed: without the
    interpreter's teardown, which can crash inside a native library stopped half-way.
    """
    console = argv is None
    interrupts = InterruptLatch(exit_outside_runs=console)
    interrupts.install()
    show_warning = warnings.showwarning
    warnings.showwarning = _plugin_warnings_as_lines(show_warning)
    try:
        code = _run_command(list(sys.argv[1:] if argv is None else argv), interrupts)
        if not code:
            interrupts.check()  # an interrupt swallowed while the command went on still ends it
    except (KeyboardInterrupt, click.Abort, Terminated) as exc:
        signum = exc.signum if isinstance(exc, Terminated) else signal.SIGINT
        if console:
            exit_now(signum)
        click.echo(f"\n{interruption_line(signum)}", err=True)
        code = exit_status(signum)
    finally:
        warnings.showwarning = show_warning
        if not console:  # the console script keeps its latch until the process ends
            interrupts.restore()
    if isinstance(code, int) and code:  # ctx.exit(code) of a command
        if console and code in INTERRUPTED_EXIT_CODES:  # the command said why
            exit_now(code - 128, say=False)
        sys.exit(code)


def _plugin_warnings_as_lines(show: Callable[..., None]) -> Callable[..., None]:
    """``warnings.showwarning`` that prints a :class:`PluginWarning` as its one line of text
    (``trainscope: no plugin named 'bogus' is installed ...``) and any other warning as ``show``."""

    def show_warning(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if issubclass(category, PluginWarning):
            click.echo(printable(message), err=True)
        else:
            show(message, category, filename, lineno, file, line)

    return show_warning


def _run_command(args: list[str], interrupts: InterruptLatch) -> object:
    """Build the command line and run it; returns the command's exit code."""
    disabled = blocked_names(args)
    status = StartupStatus()
    status.show("trainscope: loading the reporters...")
    manager = create_plugin_manager(disable=disabled, disable_reason="blocked by -p no:NAME")
    group = build_cli(manager)
    status.clear()
    try:
        return _invoke(group, args, CliContext(manager, disabled, interrupts, status))
    except click.ClickException as exc:  # shown here, so that what it quotes is printable
        exc.message = printable(exc.message)  # type: ignore[misc]  # a quoted name may hold escapes
        exc.show()
        sys.exit(exc.exit_code)
    except PluginFatalError as exc:  # an unwritable log, a full disk, an unreachable server
        message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        click.echo(f"Error: {printable(message)}", err=True)
        sys.exit(1)


def _invoke(group: click.Group, args: list[str], context: CliContext) -> object:
    """Run the command; its status line is erased before anything else is printed about it."""
    try:
        return group.main(args=args, prog_name="trainscope", obj=context, standalone_mode=False)
    finally:
        context.status.clear()
