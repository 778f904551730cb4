"""The metrics pipeline: cheap per-step buffering, batched conversion, running means.

Values stay as given (device arrays stay on the device) until a flush converts a
whole buffer at once: JAX arrays are stacked on the device and copied to the host in
one transfer, so the host waits for the device once per flush instead of once per step.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from itertools import repeat
from typing import Any

from trainscope.device_arrays import fetch_scalars, jax_array_type
from trainscope.run import StepRecord

_PLAIN_TYPES: frozenset[type] = frozenset({float, int, type(None)})
_ARRAY_KINDS = frozenset("fiub")
_numeric_array_types: set[type] = set()
"""Array types already seen with a numeric dtype: a 0-d one needs no further check."""

Entry = tuple[int, Any, Any, "Mapping[str, Any] | None", float]
"""A buffered step: step, loss, accuracy, other metrics (or None), monotonic time."""


class MetricValueError(TypeError):
    """A metric value that is not a number."""


def check_metric(name: str, value: object) -> None:
    """Raise :class:`MetricValueError` unless ``value`` is a real number or a one-element array.

    Never reads an array's contents, so it does not wait for a device.
    """
    kind_of_value = type(value)
    if kind_of_value in _PLAIN_TYPES or (kind_of_value in _numeric_array_types and value.shape == ()):  # type: ignore[attr-defined]
        return
    dtype = getattr(value, "dtype", None)
    if dtype is not None and hasattr(value, "shape"):
        kind = getattr(dtype, "kind", None)
        if kind in _ARRAY_KINDS and math.prod(value.shape) == 1:
            _numeric_array_types.add(kind_of_value)
            return
        if kind in _ARRAY_KINDS:
            raise MetricValueError(
                f"metric {name!r} must be a single number, got an array of shape "
                f"{tuple(value.shape)}; reduce it first (e.g. .mean())"
            )
    if isinstance(value, numbers.Real):
        return
    raise MetricValueError(
        f"metric {name!r} must be a number (float, int, numpy scalar, or 0-d array), "
        f"got {type(value).__name__}: {value!r:.60}"
    )


def _to_float(value: Any) -> float:
    item = getattr(value, "item", None)
    return float(item() if item is not None else value)


def _convert_values(values: list[Any]) -> list[float]:
    """Floats for ``values``: JAX arrays in one batched transfer, the rest one by one."""
    array_type = jax_array_type()
    if array_type is None:
        return [v if type(v) is float else _to_float(v) for v in values]
    positions = [i for i, v in enumerate(values) if isinstance(v, array_type)]
    out = [0.0 if isinstance(v, array_type) else v if type(v) is float else _to_float(v) for v in values]
    for i, host in zip(positions, fetch_scalars([values[i] for i in positions])):
        out[i] = host
    return out


def _columns(entries: list[Entry]) -> dict[str, list[Any]]:
    """Metric name -> one value per entry (None where the step did not report it)."""
    columns: dict[str, list[Any]] = {}
    losses = [entry[1] for entry in entries]
    if any(v is not None for v in losses):
        columns["loss"] = losses
    accuracies = [entry[2] for entry in entries]
    if any(v is not None for v in accuracies):
        columns["accuracy"] = accuracies
    n = len(entries)
    for i, entry in enumerate(entries):
        extra = entry[3]
        if extra:
            for key, value in extra.items():
                if value is not None:
                    columns.setdefault(key, [None] * n)[i] = value
    return columns


def convert_entries(
    entries: list[Entry], clock_offset: float
) -> tuple[list[StepRecord], dict[str, list[float]]]:
    """Step records with float metrics for buffered entries, and the converted columns.

    Conversion happens in one batch for the whole buffer.
    """
    columns = _columns(entries)
    values = [v for column in columns.values() for v in column if v is not None]
    if any(type(v) is not float for v in values):
        converted = iter(_convert_values(values))
        columns = {
            name: [None if v is None else next(converted) for v in column] for name, column in columns.items()
        }
    names = tuple(columns)
    steps = [entry[0] for entry in entries]
    times = [entry[4] + clock_offset for entry in entries]
    rows = zip(*columns.values())
    if all(None not in column for column in columns.values()):
        dicts: Iterable[dict[str, float]] = map(dict, map(zip, repeat(names), rows))
    else:
        dicts = ({n: v for n, v in zip(names, row) if v is not None} for row in rows)
    records = list(map(StepRecord._make, zip(steps, dicts, times)))
    return records, columns


class RunningMeans:
    """Per-metric running means over a phase (NaN values make the mean NaN)."""

    __slots__ = ("_counts", "_sums")

    def __init__(self) -> None:
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}

    def add(self, columns: Mapping[str, list[float]]) -> None:
        """Add converted columns (None marks a step without that metric)."""
        for name, column in columns.items():
            present = column if None not in column else [v for v in column if v is not None]
            self._sums[name] = self._sums.get(name, 0.0) + sum(present)
            self._counts[name] = self._counts.get(name, 0) + len(present)

    def means(self) -> dict[str, float]:
        return {key: self._sums[key] / self._counts[key] for key in self._sums}
