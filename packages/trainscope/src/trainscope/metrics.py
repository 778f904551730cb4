"""The metrics pipeline: cheap per-step buffering, batched conversion, running means.

Values stay as given (device arrays stay on the device) until a flush converts a
whole buffer at once: JAX arrays are stacked on the device and copied to the host in
one transfer, so the host waits for the device once per flush instead of once per step.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Mapping
from typing import Any

from trainscope.device_arrays import fetch_scalars, jax_array_type
from trainscope.run import StepRecords

_PLAIN_TYPES: frozenset[type] = frozenset({float, int, type(None)})
_ARRAY_KINDS = frozenset("fiub")
_numeric_array_types: set[type] = set()
"""Array types already seen with a numeric dtype: a 0-d one needs no further check."""


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


class StepBuffer:
    """Buffered steps, column by column, values as given (nothing converted).

    Columns of plain numbers hold no objects the garbage collector tracks, so a
    long buffer costs the collector nothing. ``extras`` is sparse: ``(index, metrics)``
    for the steps that reported metrics other than loss and accuracy.
    """

    __slots__ = ("accuracies", "extras", "losses", "steps", "times")

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.losses: list[Any] = []
        self.accuracies: list[Any] = []
        self.times: list[float] = []
        self.extras: list[tuple[int, Mapping[str, Any]]] = []

    def __len__(self) -> int:
        return len(self.steps)

    def split(self, count: int) -> StepBuffer:
        """Remove the first ``count`` steps and return them as a buffer of their own."""
        head = StepBuffer()
        head.steps, self.steps = self.steps[:count], self.steps[count:]
        head.losses, self.losses = self.losses[:count], self.losses[count:]
        head.accuracies, self.accuracies = self.accuracies[:count], self.accuracies[count:]
        head.times, self.times = self.times[:count], self.times[count:]
        head.extras = [(i, m) for i, m in self.extras if i < count]
        self.extras = [(i - count, m) for i, m in self.extras if i >= count]
        return head

    def step_values(self, index: int) -> Iterator[Any]:
        """Every value of the step at ``index``."""
        yield self.losses[index]
        yield self.accuracies[index]
        for i, extra in self.extras:
            if i == index:
                yield from extra.values()

    def columns(self) -> dict[str, list[Any]]:
        """Metric name -> one value per step (None where the step did not report it)."""
        columns: dict[str, list[Any]] = {}
        if any(v is not None for v in self.losses):
            columns["loss"] = self.losses
        if any(v is not None for v in self.accuracies):
            columns["accuracy"] = self.accuracies
        n = len(self.steps)
        for i, extra in self.extras:
            for key, value in extra.items():
                if value is not None:
                    columns.setdefault(key, [None] * n)[i] = value
        return columns


def convert_buffer(buffer: StepBuffer, clock_offset: float) -> StepRecords:
    """The buffered steps with float metrics and wall-clock times, converted in one batch."""
    columns = buffer.columns()
    values = [v for column in columns.values() for v in column if v is not None]
    if any(type(v) is not float for v in values):
        converted = iter(_convert_values(values))
        columns = {
            name: [None if v is None else next(converted) for v in column] for name, column in columns.items()
        }
    times = [t + clock_offset for t in buffer.times]
    return StepRecords(buffer.steps, times, columns)


class RunningMeans:
    """Per-metric running means over a phase (NaN values make the mean NaN)."""

    __slots__ = ("_counts", "_sums")

    def __init__(self) -> None:
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}

    def add(self, columns: Mapping[str, list[float | None]]) -> None:
        """Add converted columns (None marks a step without that metric)."""
        for name, column in columns.items():
            present: list[float] = column if None not in column else [v for v in column if v is not None]  # type: ignore[assignment]
            self._sums[name] = self._sums.get(name, 0.0) + sum(present)
            self._counts[name] = self._counts.get(name, 0) + len(present)

    def means(self) -> dict[str, float]:
        return {key: self._sums[key] / self._counts[key] for key in self._sums}
