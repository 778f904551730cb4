"""The events of a run log, as dicts; each becomes one JSON line.

Every event has ``event``, ``run_id`` and ``time`` (wall-clock seconds since the
Unix epoch). See the documentation page "JSON-lines log" for every field.
"""

from __future__ import annotations

import time
from typing import Any

from trainscope.plugin_api import (
    Alert,
    EpochSummary,
    EvaluationSummary,
    ModelSpec,
    PhaseHealth,
    PhaseInfo,
    ResumePoint,
    RunInfo,
    RunStatus,
    Throughput,
    architecture_text,
)
from trainscope.plugin_api import (
    error_text as core_error_text,
)

SCHEMA_VERSION = 4
"""Version of the log format; raised whenever a field changes meaning or is removed, or an
event is added (2: runs declared in steps, validations in the middle of training; 3: run
health, the ``alert`` event; 4: resumed runs, the ``run_resume`` event, ``run_end``'s
``duration`` over every part of the run)."""

EVENTS = (
    "run_start",
    "run_resume",
    "epoch_start",
    "phase_start",
    "step",
    "alert",
    "phase_end",
    "evaluation_end",
    "epoch_end",
    "run_end",
)
"""Every event name, in the order they first appear in a log."""


def _throughput(throughput: Throughput | None) -> dict[str, Any] | None:
    return None if throughput is None else throughput.as_dict()


def _health(health: PhaseHealth | None) -> dict[str, Any] | None:
    return None if health is None else health.as_dict()


def _event(name: str, run: RunInfo, when: float | None = None) -> dict[str, Any]:
    return {"event": name, "run_id": run.run_id, "time": time.time() if when is None else when}


def model_summary(spec: ModelSpec | None) -> dict[str, Any] | None:
    """The model's totals and size estimates (bytes), or None without a model."""
    if spec is None:
        return None
    return {
        "name": spec.name,
        "input_shape": list(spec.input_shape),
        "batch_size": spec.batch_size,
        "dtype_bytes": spec.dtype_bytes,
        "layers": sum(1 for _ in spec.walk()),
        "total_params": spec.total_params,
        "trainable_params": spec.trainable_params,
        "non_trainable_params": spec.non_trainable_params,
        "input_bytes": spec.input_bytes,
        "forward_backward_bytes": spec.forward_backward_bytes,
        "params_bytes": spec.params_bytes,
        "total_bytes": spec.total_bytes,
    }


def _declaration(run: RunInfo) -> dict[str, Any]:
    """The run as declared, in ``run_start`` and ``run_resume``."""
    return {
        "name": run.name,
        "epochs": run.epochs,
        "steps_per_epoch": run.steps_per_epoch,
        "total_steps": run.total_steps,
        "process_count": run.process_count,
        "validation_steps": run.validation_steps,
        "config": run.config,
    }


def run_start(run: RunInfo) -> dict[str, Any]:
    return {
        **_event("run_start", run, run.start_time),
        "schema_version": SCHEMA_VERSION,
        **_declaration(run),
        "model": model_summary(run.model),
        "architecture": None if run.model is None else architecture_text(run.name, run.model),
        "environment": run.environment,
    }


def run_resume(run: RunInfo, point: ResumePoint) -> dict[str, Any]:
    """The first line a resumed run appends: where it goes on, and this part's declaration,
    config and environment (those of ``run_start`` were the first part's)."""
    return {
        **_event("run_resume", run, run.start_time),
        "schema_version": SCHEMA_VERSION,
        "resumes": point.resumes + 1,
        "previous_status": point.status,
        "epoch": point.epoch,
        "step": point.step,
        "global_step": point.global_step,
        "last_reported_step": point.last_reported_step,
        "elapsed": point.elapsed,
        **_declaration(run),
        "environment": run.environment,
    }


def run_duration(run: RunInfo) -> float:
    """Seconds the run has trained, over every part of a resumed run."""
    return run.elapsed() + (run.resumed.elapsed if run.resumed is not None else 0.0)


def epoch_start(run: RunInfo, epoch: int) -> dict[str, Any]:
    return {**_event("epoch_start", run), "epoch": epoch}


def phase_start(run: RunInfo, phase: PhaseInfo) -> dict[str, Any]:
    return {
        **_event("phase_start", run, phase.start_time),
        "epoch": phase.epoch,
        "phase": phase.name,
        "total": phase.total,
        "training_step": phase.training_step,
    }


def phase_end(run: RunInfo, phase: PhaseInfo) -> dict[str, Any]:
    return {
        **_event("phase_end", run),
        "epoch": phase.epoch,
        "phase": phase.name,
        "steps": phase.steps,
        "means": phase.metrics,
        "duration": phase.elapsed,
        "rate": phase.rate,
        "training_step": phase.training_step,
        "throughput": _throughput(phase.throughput),
        "health": _health(phase.health),
    }


def evaluation_end(run: RunInfo, summary: EvaluationSummary) -> dict[str, Any]:
    return {
        **_event("evaluation_end", run),
        "epoch": summary.epoch,
        "step": summary.step,
        "total_steps": summary.total_steps,
        "train": summary.train,
        "validation": summary.validation,
        "duration": summary.duration,
        "throughput": _throughput(summary.throughput),
        "health": _health(summary.health),
        "run_elapsed": summary.run_elapsed,
        "run_eta": summary.run_eta,
    }


def epoch_end(run: RunInfo, summary: EpochSummary) -> dict[str, Any]:
    return {
        **_event("epoch_end", run),
        "epoch": summary.epoch,
        "train": summary.train,
        "validation": summary.validation,
        "duration": summary.duration,
        "throughput": _throughput(summary.throughput),
        "health": _health(summary.health),
        "run_elapsed": summary.run_elapsed,
        "run_eta": summary.run_eta,
    }


def alert(run: RunInfo, found: Alert) -> dict[str, Any]:
    """An alert: the fields of ``Alert.as_dict()``, its value a number (non-finite ones as
    ``"NaN"``, ``"Infinity"``, ``"-Infinity"``, as every number of the log)."""
    return {**_event("alert", run), **found.as_dict(), "value": found.value}


def error_text(error: BaseException | None) -> str | None:
    """``"ValueError: message"`` (see :func:`trainscope.plugin_api.error_text`), or None."""
    return None if error is None else core_error_text(error)


def run_end(run: RunInfo, status: RunStatus, error: BaseException | None) -> dict[str, Any]:
    event = _event("run_end", run)
    return {**event, "status": status, "error": error_text(error), "duration": run_duration(run)}
