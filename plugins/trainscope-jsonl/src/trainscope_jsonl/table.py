"""Run summaries as text tables, for ``trainscope log``: one run's epochs, or several runs side by side.

Everything that came from the log goes through :func:`trainscope.printable`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from trainscope.plugin_api import format_si, is_accuracy_like, printable
from trainscope_jsonl.health_text import health_notes
from trainscope_jsonl.schema import SCHEMA_VERSION
from trainscope_jsonl.summary import EpochRecord, Result, RunSummary

_PHASES = (("train", "Train"), ("validation", "Validation"))
_BEST_PHASES = {"train": "Training", "validation": "Validation"}
COMPARISON_WIDTH = 80
"""The width the side-by-side tables of a comparison are packed into."""
_GAP = "    "

Column = tuple[str, str, str]
"""(heading, phase, metric)"""


def format_metric(name: str, value: float | None) -> str:
    """Accuracy-like metrics as percentages, others with 4 decimals; ``-`` when missing."""
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    return f"{value * 100:.2f}%" if is_accuracy_like(name) else f"{value:.4f}"


def run_state(summary: RunSummary) -> str:
    """How the run ended: ``completed after 3.00 s``, or why the log has no end."""
    if summary.abandoned is not None:
        return f"log abandoned: {summary.abandoned}"
    end = summary.end
    if end is None:
        return "no run_end: the process stopped before the run ended"
    state = f"{end.status} after {end.duration:.2f} s"
    return f"{state} ({end.error})" if end.error else state


def describe_run(summary: RunSummary) -> str:
    """``Run NAME (RUN_ID): STATE``, safe to print."""
    return printable(f"Run {summary.name} ({summary.run_id}): {run_state(summary)}")


def notes(summary: RunSummary) -> list[str]:
    """Remarks on the log itself: a cut-off last line, a newer schema."""
    lines = []
    if summary.truncated:
        lines.append("(the last line was cut off and is skipped)")
    version = summary.schema_version
    if version is not None and version > SCHEMA_VERSION:
        lines.append(
            f"(schema version {version} is newer than version {SCHEMA_VERSION}, which this reader knows: "
            "upgrade trainscope-jsonl if something looks wrong)"
        )
    return lines


def format_best(summary: RunSummary) -> str | None:
    """``Best epoch: 3/5 (Validation Loss: 0.8123)``, or in a run declared in steps
    ``Best evaluation: step 800/1200 (Validation Loss: 0.1234)``; None without a finite loss."""
    best = summary.best
    if best is None:
        return None
    loss = f"({_BEST_PHASES[best.phase]} Loss: {format_metric('loss', best.loss)})"
    record = best.record
    if isinstance(record, EpochRecord):
        planned = f"/{summary.planned_epochs}" if summary.planned_epochs else ""
        return f"Best epoch: {record.epoch}{planned} {loss}"
    total = summary.total_steps or record.total_steps
    return f"Best evaluation: step {record.step}{f'/{total}' if total else ''} {loss}"


def _key(summary: RunSummary) -> str:
    """What a run's rows are: ``Epoch``, or ``Step`` for the evaluations of a run declared in steps."""
    results = summary.results
    if results:
        return "Epoch" if isinstance(results[0], EpochRecord) else "Step"
    return "Step" if summary.planned_epochs is None and summary.total_steps is not None else "Epoch"


def _nothing_finished(keys: Sequence[str]) -> str:
    return "No epoch finished." if "Epoch" in keys else "No evaluation finished."


def _metric_names(results: Sequence[Result], phase: str) -> list[str]:
    names: dict[str, None] = {}
    for result in results:
        names.update(dict.fromkeys(getattr(result, phase) or {}))
    first = [name for name in ("loss", "accuracy") if name in names]
    return first + [name for name in names if name not in first]


def metric_columns(summaries: Sequence[RunSummary]) -> list[Column]:
    """A column per phase and metric of these runs' results: training first, ``loss`` and
    ``accuracy`` first in each phase."""
    results = [result for summary in summaries for result in summary.results]
    return [
        (printable(f"{label} {name}"), phase, name)
        for phase, label in _PHASES
        for name in _metric_names(results, phase)
    ]


THROUGHPUT_COLUMNS: tuple[Column, ...] = (
    ("Examples/s", "throughput", "examples_per_second"),
    ("FLOP/s", "throughput", "flops_per_second"),
    ("MFU", "throughput", "mfu"),
    ("Peak memory", "throughput", "peak_memory_bytes"),
)
"""The throughput figures an epoch (or evaluation) may log, as columns."""


def _throughput_columns(summaries: Sequence[RunSummary]) -> list[Column]:
    """The throughput figures that some epoch (or evaluation) of these runs has."""
    known = {name for summary in summaries for result in summary.results for name in result.throughput}
    return [column for column in THROUGHPUT_COLUMNS if column[2] in known]


def format_throughput_figure(name: str, value: float) -> str:
    """``3,812``, ``1.21 TFLOP/s``, ``2.3%``, ``312 MB``; steps per second as examples per second."""
    if name in ("examples_per_second", "steps_per_second"):
        return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
    if name == "mfu":
        return f"{value * 100:.1f}%"
    return format_si(value, "FLOP/s" if name == "flops_per_second" else "B")


def _cell(result: Result | None, column: Column) -> str:
    _, phase, metric = column
    if result is None:
        return "-"
    if phase == "time":
        return f"{result.duration:.2f}s"
    if phase == "throughput":
        value = result.throughput.get(metric)
        return "-" if value is None else format_throughput_figure(metric, value)
    return format_metric(metric, (getattr(result, phase) or {}).get(metric))


def render_columns(headings: Sequence[str], rows: Sequence[Sequence[str]], *, left: int = 0) -> list[str]:
    """Columns two spaces apart, right-aligned but for the first ``left`` ones (left-aligned,
    and then trailing spaces are cut)."""
    widths = [max(len(cell) for cell in column) for column in zip(headings, *rows)]
    lines = [
        "  ".join(
            cell.ljust(width) if index < left else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(row, widths))
        )
        for row in (headings, *rows)
    ]
    return [line.rstrip() for line in lines] if left else lines


_TIME: Column = ("Time", "time", "")


def epoch_table(summary: RunSummary) -> tuple[list[str], list[list[str]]]:
    """The headings and rows of a run's results: one row per finished epoch (in a run
    declared in steps: per evaluation, by training step), a column per phase and metric,
    throughput figure, and the time; every cell as ``trainscope log`` prints it."""
    columns = [*metric_columns([summary]), *_throughput_columns([summary]), _TIME]
    rows = [
        [str(result.number), *(_cell(result, column) for column in columns)] for result in summary.results
    ]
    return [_key(summary), *(heading for heading, _, _ in columns)], rows


def format_epochs(summary: RunSummary) -> str:
    """A header line naming the run and how it ended, one row per finished epoch (in a run
    declared in steps: per evaluation, by training step), then the best one, then the health
    findings and the alerts, if any (see :func:`~trainscope_jsonl.health_text.health_notes`)."""
    lines = [describe_run(summary), *notes(summary)]
    if not summary.results:
        lines.append(_nothing_finished([_key(summary)]))
    else:
        lines += render_columns(*epoch_table(summary))
        best = format_best(summary)
        lines += [best] if best else []
    return "\n".join([*lines, *health_notes(summary)])


def run_letter(index: int) -> str:
    """``A``, ``B``, ... ``Z``, ``AA``, ``AB``...: how a comparison names its runs."""
    label, number = "", index + 1
    while number:
        number, rest = divmod(number - 1, 26)
        label = chr(ord("A") + rest) + label
    return label


def run_headers(summaries: Sequence[RunSummary]) -> list[str]:
    """Each run under its letter (see :func:`run_letter`): its log, name, state, notes and best epoch."""
    lines: list[str] = []
    for index, summary in enumerate(summaries):
        label = run_letter(index)
        indent = " " * (len(label) + 2)
        best = format_best(summary)
        lines.append(f"{label}  {printable(summary.path)}")
        lines += [
            indent + text for text in (describe_run(summary), *notes(summary), *([best] if best else []))
        ]
    return lines


def _rows_of_blocks(blocks: Sequence[list[str]], width: int) -> list[list[list[str]]]:
    """The blocks grouped in order, as many per row as fit in ``width`` (at least one)."""
    rows: list[list[list[str]]] = []
    used = width
    for block in blocks:
        block_width = max(len(line) for line in block)
        if used + len(_GAP) + block_width > width:
            rows.append([])
            used = -len(_GAP)
        rows[-1].append(block)
        used += len(_GAP) + block_width
    return rows


def _pack(blocks: Sequence[list[str]], width: int) -> list[str]:
    """Blocks of lines side by side, packed into ``width`` columns; a blank line between rows."""
    lines: list[str] = []
    for row in _rows_of_blocks(blocks, width):
        widths = [max(len(line) for line in block) for block in row]
        height = max(len(block) for block in row)
        padded = [
            [line.ljust(w) for line in block + [""] * (height - len(block))] for block, w in zip(row, widths)
        ]
        lines += ["", *(_GAP.join(cells).rstrip() for cells in zip(*padded))]
    return lines[1:]


def format_comparison(summaries: Sequence[RunSummary], *, width: int = COMPARISON_WIDTH) -> str:
    """Several runs: each run's name, state and best epoch under a letter (``A``, ``B``...),
    then one small table per metric (and one of times) with a row per epoch (per evaluation
    step for runs declared in steps) and a column per run, packed side by side into ``width``.
    """
    labels = [run_letter(index) for index in range(len(summaries))]
    lines = run_headers(summaries)
    keys = list(dict.fromkeys(_key(summary) for summary in summaries))
    by_number = [{result.number: result for result in summary.results} for summary in summaries]
    numbers = sorted({number for results in by_number for number in results})
    if not numbers:
        return "\n".join([*lines, "", _nothing_finished(keys)])
    key = "/".join(keys)
    blocks = []
    for column in [*metric_columns(summaries), _TIME]:
        rows = [
            [str(number), *(_cell(results.get(number), column) for results in by_number)]
            for number in numbers
        ]
        blocks.append([column[0], *render_columns([key, *labels], rows)])
    return "\n".join([*lines, "", *_pack(blocks, width)])
