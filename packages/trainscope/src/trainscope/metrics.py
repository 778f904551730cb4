"""The metrics pipeline: cheap per-step buffering, batched conversion, running means.

Values stay as given (device arrays stay on the device) until a flush converts a
whole buffer at once: JAX arrays through one ``jax.device_get`` call, so the host
waits for the device once per flush instead of once per step.
"""

from __future__ import annotations

import numbers
import sys
import time
from collections.abc import Mapping
from typing import Any

from trainscope.run import StepRecord

_PLAIN_TYPES: frozenset[type] = frozenset({float, int, type(None)})
_ARRAY_KINDS = frozenset("fiub")

Entry = tuple[int, Any, Any, "Mapping[str, Any] | None", float]
"""A buffered step: step, loss, accuracy, other metrics, monotonic time."""


class MetricValueError(TypeError):
    """A metric value that is not a number."""


def check_metric(name: str, value: object) -> None:
    """Raise :class:`MetricValueError` unless ``value`` is a real number or a one-element array.

    Never reads an array's contents, so it does not wait for a device.
    """
    if type(value) in _PLAIN_TYPES or isinstance(value, numbers.Real):
        return
    dtype = getattr(value, "dtype", None)
    if dtype is not None and hasattr(value, "shape"):
        kind = getattr(dtype, "kind", None)
        size = getattr(value, "size", None)
        if kind in _ARRAY_KINDS and size == 1:
            return
        if kind in _ARRAY_KINDS:
            raise MetricValueError(
                f"metric {name!r} must be a single number, got an array of shape "
                f"{tuple(value.shape)}; reduce it first (e.g. .mean())"  # type: ignore[attr-defined]
            )
    raise MetricValueError(
        f"metric {name!r} must be a number (float, int, numpy scalar, or 0-d array), "
        f"got {type(value).__name__}: {value!r:.60}"
    )


def _to_float(value: Any) -> float:
    if type(value) is float:
        return value
    item = getattr(value, "item", None)
    return float(item() if item is not None else value)


def _fetch_device_values(values: list[Any]) -> list[Any]:
    """Bring every JAX array among ``values`` to the host in one batched transfer."""
    jax = sys.modules.get("jax")
    if jax is None:
        return values
    array_type = jax.Array
    positions = [i for i, v in enumerate(values) if isinstance(v, array_type)]
    if not positions:
        return values
    fetched = jax.device_get([values[i] for i in positions])
    out = list(values)
    for i, host in zip(positions, fetched):
        out[i] = host
    return out


def convert_entries(entries: list[Entry], clock_offset: float) -> list[StepRecord]:
    """Turn buffered entries into step records with float metrics, converting in one batch."""
    names: list[list[str]] = []
    raw: list[Any] = []
    for _, loss, accuracy, extra, _t in entries:
        entry_names: list[str] = []
        if loss is not None:
            entry_names.append("loss")
            raw.append(loss)
        if accuracy is not None:
            entry_names.append("accuracy")
            raw.append(accuracy)
        if extra:
            for key, value in extra.items():
                if value is not None:
                    entry_names.append(key)
                    raw.append(value)
        names.append(entry_names)
    if any(type(v) is not float for v in raw):
        raw = [_to_float(v) for v in _fetch_device_values(raw)]
    records: list[StepRecord] = []
    index = 0
    for (step, _l, _a, _e, t), entry_names in zip(entries, names):
        n = len(entry_names)
        records.append(StepRecord(step, dict(zip(entry_names, raw[index : index + n])), t + clock_offset))
        index += n
    return records


class RunningMeans:
    """Per-metric running means over a phase (NaN values make the mean NaN)."""

    __slots__ = ("_counts", "_sums")

    def __init__(self) -> None:
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}

    def add(self, records: list[StepRecord]) -> None:
        sums, counts = self._sums, self._counts
        for record in records:
            for key, value in record.metrics.items():
                sums[key] = sums.get(key, 0.0) + value
                counts[key] = counts.get(key, 0) + 1

    def means(self) -> dict[str, float]:
        return {key: self._sums[key] / self._counts[key] for key in self._sums}


def wall_clock_offset() -> float:
    """Seconds to add to ``time.monotonic()`` to get wall-clock time."""
    return time.time() - time.monotonic()


__all__ = ["MetricValueError", "RunningMeans", "check_metric", "convert_entries"]
