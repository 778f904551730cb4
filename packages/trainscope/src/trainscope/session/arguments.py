"""The session's arguments checked and normalised: run declaration, process, mappings, steps,
batch sizes and the forms metrics may come in."""

from __future__ import annotations

import platform
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from trainscope import device_arrays
from trainscope.metrics import MetricValueError, check_metric, check_metric_name
from trainscope.run import RunInfo, RunStatus
from trainscope.signals import Terminated
from trainscope.spec import ModelSpec
from trainscope.values import INT64_MAX, check_count, plain_text, plain_value
from trainscope.version import __version__

MIN_STEP = -INT64_MAX - 1
"""The lowest step number a log can hold (steps are 64-bit integers)."""


def declared_run(
    model_name: str,
    epochs: int | None,
    steps_per_epoch: int | None,
    validation_steps: int | None,
    *,
    total_steps: int | None,
    model: ModelSpec | None,
    config: Mapping[str, Any] | None,
    environment: Mapping[str, Any] | None,
    process_index: int | None,
    process_count: int | None,
    clock: Callable[[], float],
) -> RunInfo:
    """The run a session was declared with (see :class:`trainscope.TrainingSession`), checked."""
    epochs = check_count("epochs", epochs, minimum=1, allow_none=True)
    steps_per_epoch = check_count("steps_per_epoch", steps_per_epoch, minimum=1, allow_none=True)
    validation_steps = check_count("validation_steps", validation_steps, minimum=0, allow_none=True)
    total_steps = check_count("total_steps", total_steps, minimum=1, allow_none=True)
    check_declaration(epochs, steps_per_epoch, total_steps, model)
    index, count = process(process_index, process_count)
    return RunInfo(
        name=plain_text(model_name),
        run_id=uuid.uuid4().hex,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        validation_steps=validation_steps,
        total_steps=total_steps,
        model=model,
        config=plain_mapping("config", config),
        environment={**default_environment(), **plain_mapping("environment", environment)},
        process_index=index,
        process_count=count,
        clock=clock,
    )


def check_declaration(
    epochs: int | None, steps_per_epoch: int | None, total_steps: int | None, model: object
) -> None:
    """Refuse a run declared both in epochs and in steps, or with a model that is not a spec."""
    if epochs is not None and total_steps is not None:
        raise ValueError(
            "give either epochs (a run declared in epochs) or total_steps (a run declared in steps), not both"
        )
    if epochs is None and steps_per_epoch is not None:
        raise ValueError(
            "steps_per_epoch was given without epochs: declare the run in epochs "
            "(epochs=..., steps_per_epoch=...) or in steps (total_steps=...)"
        )
    if model is not None and not isinstance(model, ModelSpec):
        raise TypeError(
            f"model must be a trainscope.ModelSpec or None, got {type(model).__name__}; "
            "build one with trainscope_jax.model_spec(...) or pass it to the architecture printer"
        )


def default_environment() -> dict[str, Any]:
    """What every run's environment holds: Python, the OS, the machine, trainscope's version."""
    return {
        "python": platform.python_version(),
        "os": platform.platform(),
        "machine": platform.machine(),
        "trainscope": __version__,
    }


def process(index: int | None, count: int | None) -> tuple[int, int]:
    """``(process_index, process_count)``: as given, else JAX's multi-controller runtime's, else (0, 1)."""
    if index is None and count is None:
        return device_arrays.distributed_process() or (0, 1)
    checked_count = check_count("process_count", 1 if count is None else count, minimum=1)
    checked_index = check_count("process_index", 0 if index is None else index, minimum=0)
    assert checked_count is not None
    assert checked_index is not None
    if checked_index >= checked_count:
        raise ValueError(f"process_index must be below process_count ({checked_count}), got {checked_index}")
    return checked_index, checked_count


def plain_mapping(name: str, value: Mapping[str, Any] | None) -> dict[str, Any]:
    """``value`` as a dict of plain JSON data (see :func:`trainscope.values.plain_value`)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping (a dict), got {type(value).__name__}")
    plain: dict[str, Any] = plain_value(value)
    return plain


def status_of(error: BaseException) -> RunStatus:
    """``interrupted`` for Ctrl-C and SIGTERM/SIGHUP, ``failed`` for anything else."""
    return "interrupted" if isinstance(error, (KeyboardInterrupt, Terminated)) else "failed"


def as_step(step: Any) -> int:
    """``step`` as an int that fits in 64 bits (anything with ``__index__``; not a bool)."""
    if isinstance(step, bool):
        raise TypeError(f"step must be an integer, got bool {step!r}")
    try:
        number = int(step.__index__())
    except (AttributeError, TypeError):
        raise TypeError(f"step must be an integer, got {type(step).__name__}: {step!r:.40}") from None
    if not MIN_STEP <= number <= INT64_MAX:
        raise ValueError(f"step must fit in 64 bits (below 2**63), got {number}")
    return number


def as_batch_size(batch_size: Any) -> int:
    """``batch_size`` checked as a count of examples (0 or more)."""
    number = check_count("batch_size", batch_size, minimum=0)
    assert number is not None
    return number


def metric_names(names: Iterable[str]) -> frozenset[str]:
    """``names`` checked as metric names (a single string is refused: it would be its letters)."""
    if isinstance(names, str):
        raise TypeError(f"last_value_metrics must be a collection of metric names, got the string {names!r}")
    checked = frozenset(names)
    for name in checked:
        check_metric_name(name)
    return checked


def checked_results(results: Mapping[str, Any]) -> dict[str, Any]:
    """``results`` as a dict of checked metric values (not converted yet)."""
    if not isinstance(results, Mapping):
        raise MetricValueError(
            f"results must be a mapping of metric names to values, got {type(results).__name__}"
        )
    checked = dict(results)
    for name, value in checked.items():
        check_metric_name(name)
        check_metric(name, value)
    return checked


def normalize_metrics(loss: Any, accuracy: Any, metrics: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    """Accept ``(loss, accuracy, **metrics)`` or ``({...}, **metrics)``; check every value."""
    if isinstance(loss, Mapping):
        if accuracy is not None:
            raise TypeError("pass metrics either as a dict or as loss, accuracy, **metrics, not both")
        merged = dict(loss)
        for key in metrics:
            if key in merged:
                raise TypeError(f"metric {key!r} given twice")
        merged.update(metrics)
        loss, accuracy = merged.pop("loss", None), merged.pop("accuracy", None)
        metrics = merged
    else:
        for key, positional in (("loss", loss), ("accuracy", accuracy)):
            if key in metrics and positional is not None:
                raise TypeError(f"metric {key!r} given twice (positionally and by keyword)")
        if "loss" in metrics or "accuracy" in metrics:
            metrics = dict(metrics)
            loss = metrics.pop("loss", loss)
            accuracy = metrics.pop("accuracy", accuracy)
    check_metric("loss", loss)
    check_metric("accuracy", accuracy)
    for key, value in metrics.items():
        check_metric_name(key)
        check_metric(key, value)
    return loss, accuracy, metrics
