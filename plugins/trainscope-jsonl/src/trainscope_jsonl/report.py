"""``trainscope report``: one logged run as one self-contained HTML page.

The page (see :mod:`trainscope_jsonl.report_html`) has a header saying how the run ended,
then a section per function of :data:`SECTIONS`, in order: the summary, the architecture,
the curves (inline SVG, with matplotlib), the epochs, throughput, health, config and environment.
A section is a function of the :class:`~trainscope_jsonl.overview.RunOverview` returning a
:class:`~trainscope_jsonl.report_html.Section`, or None to leave it out (a figure the log
does not have): adding a part of the report is adding such a function there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from importlib.metadata import version
from pathlib import Path

import click

from trainscope.plugin_api import printable
from trainscope_jsonl.atomic import replaced_whole
from trainscope_jsonl.command_support import read_or_fail, resolve_log, same_file
from trainscope_jsonl.health_text import findings, has_health, health_results, health_table
from trainscope_jsonl.outputs import one_line_errors
from trainscope_jsonl.overview import (
    RunOverview,
    flat_items,
    metric_rows,
    read_overview,
    run_rows,
    throughput_rows,
)
from trainscope_jsonl.report_html import (
    Section,
    bullets,
    columns,
    note,
    page,
    pairs,
    paragraph,
    preformatted,
    table,
    text,
)
from trainscope_jsonl.table import epoch_table, format_best, notes, run_state

DISTRIBUTION = "trainscope-jsonl"
"""The distribution whose version the page names."""
PLOTS_MISSING = 'No plots: they need matplotlib: pip install "trainscope-jsonl[plot]"'
THROUGHPUT_NOTE = (
    "Examples/s, FLOP/s, MFU and peak memory of the last epoch (or evaluation) that logged them: "
    "the first also holds the compilation. Steps/s: the last training phase. Per epoch: see Epochs."
)

HEALTH_NOTE = (
    "Each row: the training of that epoch (or since the previous evaluation). Step time: the median "
    "step; slow steps: over 3x it. Waiting: the share of the time the loop waited for its next batch, "
    "or for the device ('-': the loop did not say). Run ETA: the whole run's time still to go then."
)
HEALTH_GUIDE = "What the figures mean, and what to do: the run-health guide (docs/health.md)."

SectionBuilder = Callable[[RunOverview], Section | None]
"""Makes a part of the report from the run, or None when the run has nothing for it."""


def summary_section(run: RunOverview) -> Section:
    """How the run ended and how long it ran, then each metric's final and best value."""
    overview = [(label, cells[0]) for label, cells in run_rows([run])]
    metrics = [[row.heading, row.final[0], row.best[0], row.better] for row in metric_rows([run])]
    figures = (
        table(("Metric", "Final", "Best", "Best is"), metrics) if metrics else note("No metrics logged.")
    )
    return Section("summary", "Summary", columns(pairs(overview, empty=""), figures))


def architecture_section(run: RunOverview) -> Section:
    """The model as the architecture printer printed it; its totals when only they were logged."""
    start = run.start
    if start.architecture is not None:
        body = preformatted(start.architecture)
    elif start.model is not None:
        body = note("The log holds the model's totals only.") + pairs(
            list(flat_items(start.model).items()), empty=""
        )
    else:
        body = note("No model recorded.")
    return Section("architecture", "Architecture", body)


def curves_section(run: RunOverview) -> Section:
    """Every metric against the training step, as ``trainscope plot`` draws it, as inline SVG."""
    if run.curves is None:
        return Section("curves", "Curves", note(PLOTS_MISSING))
    from trainscope_jsonl.plot import build_figure, figure_svg

    try:
        body = figure_svg(build_figure([run.curves]))
    except ValueError as exc:  # no metric to plot
        body = note(str(exc))
    return Section("curves", "Curves", body)


def epochs_section(run: RunOverview) -> Section:
    """The epochs (in a run declared in steps: the evaluations) as ``trainscope log`` shows them,
    the best one marked."""
    summary = run.summary
    headings, rows = epoch_table(summary)
    title = "Epochs" if headings[0] == "Epoch" else "Evaluations"
    if not rows:
        return Section("epochs", title, note(f"No {title.lower()[:-1]} finished."))
    best = summary.best
    marked = next(
        (index for index, result in enumerate(summary.results) if best and result is best.record), None
    )
    caption = format_best(summary)
    body = table(headings, rows, marked=marked) + (paragraph(text(caption)) if caption else "")
    return Section("epochs", title, body)


def throughput_section(run: RunOverview) -> Section:
    """Examples/s, steps/s, FLOP/s, MFU and peak memory, where logged."""
    rows = [(label, cells[0]) for label, cells in throughput_rows([run])]
    body = pairs(rows, empty="No throughput figures logged.") + (note(THROUGHPUT_NOTE) if rows else "")
    return Section("throughput", "Throughput", body)


def health_section(run: RunOverview) -> Section | None:
    """Verdicts, step times, what the loop waited for and the run's ETA per epoch (or evaluation),
    the findings and the alerts; None for a log without health figures (before schema 3)."""
    summary = run.summary
    if not has_health(summary):
        return None
    headings, rows = health_table(summary)
    parts = [table(headings, rows) + note(HEALTH_NOTE)] if rows else []
    said = [
        f"{label}: {finding}" for label, health, _ in health_results(summary) for finding in findings(health)
    ]
    if said:
        parts.append(paragraph("<strong>Findings</strong>") + bullets(said))
    if summary.alert_count:
        messages = [alert.message for alert in summary.alerts]
        left = summary.alert_count - len(messages)
        parts.append(paragraph("<strong>Alerts</strong>") + bullets(messages))
        parts += [note(f"And {left} more alerts (the log holds them all).")] if left else []
    return Section("health", "Health", "".join([*parts, note(HEALTH_GUIDE)]))


def config_section(run: RunOverview) -> Section:
    """The hyper-parameters, nested keys flattened (``optimizer.lr``)."""
    items = list(flat_items(run.start.config).items())
    return Section("config", "Config", pairs(items, empty="No config logged."))


def environment_section(run: RunOverview) -> Section:
    """Platform, device and versions."""
    items = list(flat_items(run.start.environment).items())
    return Section("environment", "Environment", pairs(items, empty="No environment logged."))


SECTIONS: tuple[SectionBuilder, ...] = (
    summary_section,
    architecture_section,
    curves_section,
    epochs_section,
    throughput_section,
    health_section,
    config_section,
    environment_section,
)
"""The parts of the report, in order."""


def _state_class(run: RunOverview) -> str:
    summary = run.summary
    if summary.abandoned is not None:
        return "abandoned"
    return "incomplete" if summary.end is None else printable(summary.end.status).replace(" ", "-")


def _header(run: RunOverview) -> str:
    """The run's name and id, how it ended (and its error), when it started, its log, and notes."""
    summary = run.summary
    status = text(run_state(summary))
    lines = [
        f"<h1>{text(summary.name)}</h1>",
        paragraph(f'<span class="status {text(_state_class(run))}">{status}</span>'),
    ]
    error = summary.abandoned or (summary.end.error if summary.end is not None else None)
    if error:
        lines.append(paragraph(text(error), "error"))
    started = run.start.started
    when = "" if started is None else time.strftime(" · started %Y-%m-%d %H:%M:%S UTC", time.gmtime(started))
    lines.append(paragraph(f"Run {text(summary.run_id)}{when} · log {text(summary.path)}", "muted"))
    lines += [note(line.strip("()")) for line in notes(summary)]
    return "\n".join(lines)


def build_report(run: RunOverview) -> str:
    """The whole HTML page of ``run`` (see :data:`SECTIONS`)."""
    sections = [section for build in SECTIONS if (section := build(run)) is not None]
    footer = f"Written by trainscope-jsonl {text(version(DISTRIBUTION))} from {text(run.path)}."
    return page(f"{run.summary.name}: trainscope report", _header(run), sections, footer)


def _plots_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def report_notes(run: RunOverview, plots: bool) -> list[str]:
    """What the report of ``run`` leaves out, and why."""
    summary, where = run.summary, printable(run.path)
    lines = []
    if summary.end is None or summary.abandoned is not None:
        lines.append(f"{where}: {printable(run_state(summary))}; the report shows what the log has")
    if summary.truncated:
        lines.append(f"{where}: the last line was cut off and is skipped")
    if not plots:
        lines.append(PLOTS_MISSING)
    return lines


@click.command("report", short_help="Write a logged run as one HTML page.")
@click.argument("path", metavar="LOG", type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The HTML file to write (default: the log's name with .html).",
)
def report_command(path: Path, output: Path | None) -> None:
    """Write the run logged in LOG (a folder: its newest run) as one self-contained HTML page.

    How the run ended, its architecture, curves, epochs, throughput, health (verdicts, step
    times, alerts, the run's ETA), config and environment.
    The page loads nothing when viewed: styles are inline, plots inline SVG (they need
    matplotlib, the extra trainscope-jsonl[plot]; without it the page is written without them).
    """
    # cli.py imports this module for its list of commands: its helpers are imported when run

    log = resolve_log(path)
    output = log.with_suffix(".html") if output is None else output
    if same_file(output, log):
        raise click.ClickException(printable(f"{str(output)!r} is the log: give another file with -o"))
    plots = _plots_available()
    run = read_or_fail(partial(read_overview, curves=plots), log)
    for line in report_notes(run, plots):
        click.echo(f"Note: {line}", err=True)
    document = build_report(run).encode("utf-8")
    with one_line_errors(output), replaced_whole(output) as file:
        file.write(document)
    click.echo(f"Wrote {printable(output)}")
