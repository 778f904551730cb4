"""The text of the epoch summary and of the end-of-run line."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from trainscope.plugin_api import (
    Alert,
    EpochSummary,
    EvaluationSummary,
    RunStatus,
    Throughput,
    format_si,
    is_accuracy_like,
)

_LABELS = {"loss": "Loss", "accuracy": "Accuracy"}
_PHASES = (("train", "Training"), ("validation", "Validation"))
_LABEL_WIDTH = max(len(label) for _, label in _PHASES)


def format_value(name: str, value: float) -> str:
    """``65.23%`` for an accuracy-like fraction, else 4 decimals (``1.3087``).

    Values too small for 4 decimals use scientific notation (``1.2346e-05``);
    non-finite values print as ``nan``, ``inf``, ``-inf``.
    """
    if not math.isfinite(value):
        return str(value)
    if is_accuracy_like(name):
        return f"{value * 100:.2f}%"
    if value != 0 and abs(value) < 5e-5:
        return f"{value:.4e}"
    return f"{value:.4f}"


def format_metrics(metrics: Mapping[str, float]) -> str:
    """``Loss: 1.3087, Accuracy: 65.23%, precision: 0.8123``: loss, accuracy, then the rest as given."""
    names = [name for name in _LABELS if name in metrics]
    names += [name for name in metrics if name not in _LABELS]
    if not names:
        return "no metrics"
    return ", ".join(f"{_LABELS.get(name, name)}: {format_value(name, metrics[name])}" for name in names)


def format_epoch_summary(summary: EpochSummary, epochs: int) -> str:
    """The block printed at each epoch end; a phase that did not run is left out."""
    return _summary_block(f"Epoch {summary.epoch}/{epochs} Summary:", summary)


def evaluation_heading(summary: EvaluationSummary, epochs: int | None) -> str:
    """``Step 400/1200``, or ``Epoch 2/5, Step 200/620`` for a validation within an epoch."""
    step = f"Step {summary.step}" + (f"/{summary.total_steps}" if summary.total_steps is not None else "")
    return step if summary.epoch is None else f"Epoch {summary.epoch}/{epochs}, {step}"


def format_evaluation_summary(summary: EvaluationSummary, epochs: int | None) -> str:
    """The block printed after a validation in the middle of training: the training means since
    the previous one and the validation's, e.g. ``Step 400/1200 Summary:``."""
    return _summary_block(f"{evaluation_heading(summary, epochs)} Summary:", summary)


def format_throughput(throughput: Throughput) -> str:
    """``3,812 examples/s, 1.21 TFLOP/s, MFU 2.3%, peak memory 312 MB``: the figures that are known."""
    parts: list[str] = []
    if throughput.examples_per_second is not None:
        rate = throughput.examples_per_second
        parts.append(f"{rate:,.0f} examples/s" if rate >= 100 else f"{rate:.3g} examples/s")
    if throughput.flops_per_second is not None:
        parts.append(format_si(throughput.flops_per_second, "FLOP/s"))
    if throughput.mfu is not None:
        parts.append(f"MFU {throughput.mfu * 100:.1f}%")
    if throughput.peak_memory_bytes is not None:
        parts.append(f"peak memory {format_si(throughput.peak_memory_bytes, 'B')}")
    return ", ".join(parts)


def _summary_block(heading: str, summary: EpochSummary | EvaluationSummary) -> str:
    lines = [heading]
    for attribute, label in _PHASES:
        metrics: dict[str, float] | None = getattr(summary, attribute)
        if metrics is not None:
            lines.append(f"  {label:<{_LABEL_WIDTH}} - {format_metrics(metrics)}")
    if len(lines) == 1:
        lines.append("  no steps were reported")
    if summary.throughput is not None and (figures := format_throughput(summary.throughput)):
        lines.append(f"  {'Throughput':<{_LABEL_WIDTH}} - {figures}")
    if summary.health is not None:
        lines.extend(f"  {'Health':<{_LABEL_WIDTH}} - {finding}" for finding in summary.health.findings())
    if (eta := format_run_eta(summary)) is not None:
        lines.append(f"  {'Run':<{_LABEL_WIDTH}} - {eta}")
    return "\n".join(lines)


def format_run_eta(summary: EpochSummary | EvaluationSummary) -> str | None:
    """``1m 04s elapsed, about 1m 36s to go (validation included)``; None at the run's end, when
    its total is unknown, or under a second to go."""
    if summary.run_eta is None or summary.run_elapsed is None or summary.run_eta < 1.0:
        return None
    return (
        f"{format_duration(summary.run_elapsed)} elapsed, about {format_duration(summary.run_eta)} to go "
        "(validation included)"
    )


def format_alerts(alerts: Sequence[Alert]) -> str | None:
    """``Alerts: loss is NaN at step 412 (training, epoch 2)`` (the first three, and how many more)."""
    if not alerts:
        return None
    shown = "; ".join(alert.message for alert in alerts[:3])
    more = f" (and {len(alerts) - 3} more)" if len(alerts) > 3 else ""
    return f"Alerts: {shown}{more}"


def format_duration(seconds: float) -> str:
    """``52.3s``, ``4m 21s`` or ``1h 02m 03s``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s"


@dataclass(frozen=True)
class BestEpoch:
    """The epoch (or, in a run declared in steps, the evaluation) with the lowest loss of a phase."""

    epoch: int
    """The epoch; for an evaluation, the training step it followed."""
    phase: str
    """``Validation`` or ``Training``."""
    loss: float


def best_epoch(summaries: Sequence[EpochSummary | EvaluationSummary]) -> BestEpoch | None:
    """The epoch (or evaluation) with the lowest validation loss, or the lowest training loss
    when none has a validation loss; None when none has a finite loss. Ties go to the earlier one."""
    for attribute, label in reversed(_PHASES):
        candidates = [
            (loss, summary.step if isinstance(summary, EvaluationSummary) else summary.epoch)
            for summary in summaries
            if (metrics := getattr(summary, attribute)) is not None
            and math.isfinite(loss := metrics.get("loss", math.nan))
        ]
        if candidates:
            loss, epoch = min(candidates, key=lambda item: item[0])
            return BestEpoch(epoch=epoch, phase=label, loss=loss)
    return None


SETUP_SHOWN = 0.5
"""Seconds of set-up (run start to the first phase) from which the end line shows them apart."""


def format_total_time(elapsed: float, setup: float | None = None) -> str:
    """``total time: 33.4s``, from the run's start to its end; with a set-up of at least
    :data:`SETUP_SHOWN` seconds before the first phase (the reporters starting, a tracking
    server connecting), ``total time: 33.4s (set-up 24.9s, training 8.5s)``."""
    total = f"total time: {format_duration(elapsed)}"
    if setup is None or setup < SETUP_SHOWN:
        return total
    return f"{total} (set-up {format_duration(setup)}, training {format_duration(max(0.0, elapsed - setup))})"


def format_run_end(
    status: RunStatus, summaries: list[EpochSummary], epochs: int, elapsed: float, setup: float | None = None
) -> str:
    """``Best epoch: 3/5 (Validation Loss: 0.8123), total time: 4m 21s`` (see :func:`format_total_time`).

    A run that did not complete says so first: ``Training interrupted after 2/5 epochs. ...``.
    """
    total = format_total_time(elapsed, setup)
    best = best_epoch(summaries)
    if best is None:
        text = total[0].upper() + total[1:]
    else:
        loss = format_value("loss", best.loss)
        text = f"Best epoch: {best.epoch}/{epochs} ({best.phase} Loss: {loss}), {total}"
    if status != "completed":
        text = f"Training {status} after {len(summaries)}/{epochs} epochs. {text}"
    return text


def format_steps_run_end(
    status: RunStatus,
    evaluations: Sequence[EvaluationSummary],
    step: int,
    total_steps: int | None,
    elapsed: float,
    setup: float | None = None,
) -> str:
    """The end-of-run line of a run declared in steps:
    ``Best evaluation: step 800/1200 (Validation Loss: 0.1234), total time: 1m 02s``.

    A run that did not complete says where it stopped: ``Training interrupted at step 500/1200. ...``.
    """
    of_total = f"/{total_steps}" if total_steps is not None else ""
    total = format_total_time(elapsed, setup)
    best = best_epoch(evaluations)
    if best is None:
        text = total[0].upper() + total[1:]
    else:
        loss = format_value("loss", best.loss)
        text = f"Best evaluation: step {best.epoch}{of_total} ({best.phase} Loss: {loss}), {total}"
    if status != "completed":
        text = f"Training {status} at step {step}{of_total}. {text}"
    return text


ARTIFACT_LABELS = {"jsonl": "log", "tensorboard": "TensorBoard", "mlflow": "MLflow"}
"""How the end of a run names the files of the reporters in this repository (``run.artifacts``)."""


def format_run_files(artifacts: Mapping[str, str]) -> str | None:
    """``Run files:`` and one indented line per file a reporter wrote (``run.artifacts``), or None."""
    if not artifacts:
        return None
    known = [name for name in ARTIFACT_LABELS if name in artifacts]
    names = [*known, *(name for name in artifacts if name not in ARTIFACT_LABELS)]
    labels = {name: ARTIFACT_LABELS.get(name, name) for name in names}
    width = max(map(len, labels.values()))
    lines = [f"  {labels[name]:<{width}}  {artifacts[name]}" for name in names]
    return "\n".join(["Run files:", *lines])
