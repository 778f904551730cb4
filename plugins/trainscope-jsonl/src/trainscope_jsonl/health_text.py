"""A logged run's health as text: the findings and alerts ``trainscope log`` prints under its
table, the per-epoch figures of ``trainscope report`` and the last epoch's of ``trainscope compare``.

Everything that came from the log goes through :func:`trainscope.printable`. Logs older than
schema 3 have no health figures: every function here then gives nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from trainscope.plugin_api import PhaseHealth, format_seconds, printable
from trainscope_jsonl.fields import HEALTH_NUMBERS
from trainscope_jsonl.records import EpochRecord, Health, Result
from trainscope_jsonl.summary import RunSummary

MAX_FINDING_LINES = 5
"""Epochs (or evaluations) whose findings ``trainscope log`` prints; more are counted."""
SHOWN_ALERTS = 3
"""Alerts ``trainscope log`` prints on its ``Alerts:`` line; more are counted."""
MISSING = "-"

HEALTH_HEADINGS = (
    "Verdict",
    "Step time",
    "p90",
    "Max",
    "Slow steps",
    "Waiting for data",
    "Waiting for the device",
    "Run elapsed",
    "Run ETA",
)
"""The columns of :func:`health_table`, after the epoch (or step)."""


def result_label(result: Result) -> str:
    """``epoch 2``, or ``step 400`` for an evaluation."""
    return f"epoch {result.epoch}" if isinstance(result, EpochRecord) else f"step {result.step}"


def health_results(summary: RunSummary) -> list[tuple[str, Health, Result | None]]:
    """``(label, figures, result)`` of each epoch (or evaluation) with health figures; in a run
    with none (a run in steps without a validation), its training phases' (result None)."""
    found: list[tuple[str, Health, Result | None]] = [
        (result_label(result), result.health, result)
        for result in summary.results
        if result.health is not None
    ]
    if found:
        return found
    return [
        (f"epoch {phase.epoch}" if summary.planned_epochs else "training", phase.health, None)
        for phase in summary.phases
        if phase.phase == "train" and phase.health is not None
    ]


def has_health(summary: RunSummary) -> bool:
    """True when the log holds health figures or alerts (schema 3)."""
    return bool(summary.alert_count or health_results(summary))


def findings(health: Health) -> list[str]:
    """The findings the writer drew from the figures (none for a healthy phase), printable."""
    return [printable(finding) for finding in health.get("findings") or []]


def finding_lines(summary: RunSummary) -> list[str]:
    """``Health: epoch 2: input-bound: 71% of step time waiting for data (...)``: a line per epoch
    (or evaluation) with findings, the first :data:`MAX_FINDING_LINES`, then how many more."""
    found = [(label, said) for label, health, _ in health_results(summary) if (said := findings(health))]
    lines = [f"Health: {label}: {'; '.join(said)}" for label, said in found[:MAX_FINDING_LINES]]
    if len(found) > MAX_FINDING_LINES:
        more = len(found) - MAX_FINDING_LINES
        lines.append(f"Health: {more} more with findings (trainscope report lists them all)")
    return lines


def alerts_line(summary: RunSummary) -> str | None:
    """``Alerts: loss is NaN at step 412 (training, epoch 2)``: the first :data:`SHOWN_ALERTS`
    alerts, and how many more; None without any."""
    if not summary.alert_count:
        return None
    shown = "; ".join(printable(alert.message) for alert in summary.alerts[:SHOWN_ALERTS])
    more = summary.alert_count - min(len(summary.alerts), SHOWN_ALERTS)
    return f"Alerts: {shown}{f' (and {more} more)' if more else ''}"


def health_notes(summary: RunSummary) -> list[str]:
    """What ``trainscope log`` prints under its table: the findings and the alerts (nothing for a
    healthy run, or a log without health figures)."""
    alerts = alerts_line(summary)
    return [*finding_lines(summary), *([alerts] if alerts else [])]


def verdict_text(health: Health) -> str:
    """``input-bound`` or ``compute-bound``; else ``balanced``, ``too short`` (a phase too short
    to judge) or ``not measured`` (a loop that did not say what it waited for)."""
    verdict = health.get("verdict")
    if verdict:
        return printable(verdict)
    figures = PhaseHealth.from_dict({name: health.get(name) for name in HEALTH_NUMBERS})
    if not figures.judged:
        return "too short"
    return "not measured" if figures.data_share is None and figures.device_share is None else "balanced"


def seconds_text(value: object) -> str:
    """``12.1 ms``, ``4m 21s``, ``0 s``; ``-`` when unknown."""
    if not isinstance(value, float):
        return MISSING
    return format_seconds(value) if value > 0 else "0 s"


def share_text(value: object) -> str:
    """``71%``; ``-`` when unknown."""
    return f"{value:.0%}" if isinstance(value, float) else MISSING


def health_row(health: Health) -> list[str]:
    """The figures of :data:`HEALTH_HEADINGS` but the run's elapsed time and ETA."""
    outliers = health.get("outliers")
    return [
        verdict_text(health),
        seconds_text(health.get("step_time_median")),
        seconds_text(health.get("step_time_p90")),
        seconds_text(health.get("step_time_max")),
        MISSING if outliers is None else str(outliers),
        share_text(health.get("data_share")),
        share_text(health.get("device_share")),
    ]


def health_table(summary: RunSummary) -> tuple[list[str], list[list[str]]]:
    """The headings and rows of the run's health: one row per epoch (or evaluation) with figures."""
    found = health_results(summary)
    rows = [
        [
            label if result is None else str(result.number),
            *health_row(health),
            seconds_text(None if result is None else result.run_elapsed),
            seconds_text(None if result is None else result.run_eta),
        ]
        for label, health, result in found
    ]
    first = found[0][2] if found else None
    key = "Phase" if first is None else ("Epoch" if isinstance(first, EpochRecord) else "Step")
    return [key, *HEALTH_HEADINGS], rows


def last_health_rows(summaries: Sequence[RunSummary]) -> list[tuple[str, list[str]]]:
    """``trainscope compare``'s rows: the verdict, median step time and data share of each run's
    last epoch (or evaluation) with figures; none when no run has any."""
    last = [next(reversed(health_results(summary)), None) for summary in summaries]
    if all(found is None for found in last):
        return []
    healths: list[Health] = [{} if found is None else found[1] for found in last]
    return [
        ("Verdict", [verdict_text(h) if h else MISSING for h in healths]),
        ("Step time (median)", [seconds_text(h.get("step_time_median")) for h in healths]),
        ("Waiting for data", [share_text(h.get("data_share")) for h in healths]),
    ]


__all__ = [
    "HEALTH_HEADINGS",
    "MAX_FINDING_LINES",
    "SHOWN_ALERTS",
    "alerts_line",
    "finding_lines",
    "findings",
    "has_health",
    "health_notes",
    "health_results",
    "health_row",
    "health_table",
    "last_health_rows",
    "result_label",
    "seconds_text",
    "share_text",
    "verdict_text",
]
