"""The metrics pipeline: cheap per-step buffering, batched conversion, running means.

Values stay as given (device arrays stay on the device) until a flush converts a
whole buffer at once: JAX arrays are stacked on the device and copied to the host in
one transfer, so the host waits for the device once per flush instead of once per step.
"""

from __future__ import annotations

import math
import numbers
from bisect import bisect_left
from collections.abc import Collection, Iterator, Mapping
from operator import itemgetter
from typing import Any

from trainscope.device_arrays import fetch_scalars, jax_array_type
from trainscope.run import StepRecords

_ARRAY_KINDS = frozenset("fiub")
_EXTRA_NUMBER_TYPES = "ml_dtypes"
"""The module of the number types NumPy does not know (bfloat16, the float8 types, int4), which
JAX arrays hold: NumPy gives their dtypes kind ``V``."""
FAST_VALUE_TYPES: set[type] = {float, type(None)}
"""Value types buffered with no check at the call: floats, None, and the JAX array types seen
as metrics (JAX arrays always have a numeric dtype; their shape is checked when the batch
is converted, where an array of several elements fails with the metric and the step named)."""
_checked_names: set[str] = set()
_step_index = itemgetter(0)
_MAX_FLOAT = 1.7976931348623157e308


class MetricValueError(TypeError):
    """A metric value that is not a number (or a metric name that is not text)."""


def _always_numeric(kind_of_value: type) -> bool:
    """True for JAX array types: they cannot hold strings or objects, unlike numpy arrays."""
    array_type = jax_array_type()
    return array_type is not None and issubclass(kind_of_value, array_type)


def _number_kind(dtype: Any) -> str | None:
    """The dtype's kind, with ``f`` for the numbers NumPy itself lacks (bfloat16, float8, int4)."""
    kind = getattr(dtype, "kind", None)
    if kind == "V" and getattr(getattr(dtype, "type", None), "__module__", None) == _EXTRA_NUMBER_TYPES:
        return "f"
    return kind


def check_metric_name(name: object) -> None:
    """Raise :class:`MetricValueError` unless ``name`` is text that every log can store."""
    if name in _checked_names:
        return
    if not isinstance(name, str):
        raise MetricValueError(f"metric names must be strings, got {type(name).__name__} {name!r:.40}")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise MetricValueError(
            f"metric name {name!r:.60} is not valid Unicode text (it holds a lone surrogate)"
        ) from None
    if not name:
        raise MetricValueError("metric names must not be empty")
    _checked_names.add(name)


def check_metric(name: str, value: object) -> None:
    """Raise :class:`MetricValueError` unless ``value`` is a real number or a one-element array.

    Never reads an array's contents, so it does not wait for a device.
    """
    kind_of_value = type(value)
    if value is None or kind_of_value is float:
        return
    if kind_of_value is int:
        if -_MAX_FLOAT <= value <= _MAX_FLOAT:  # type: ignore[operator]
            return
        raise MetricValueError(
            f"metric {name!r} is an integer too large for a float ({str(value)[:20]}...): "
            "pass a float (it may be inf) or scale it"
        )
    dtype = getattr(value, "dtype", None)
    if dtype is not None and hasattr(value, "shape"):
        kind = _number_kind(dtype)
        shape = tuple(value.shape)
        if kind in _ARRAY_KINDS and math.prod(shape) == 1:
            if _always_numeric(kind_of_value):
                FAST_VALUE_TYPES.add(kind_of_value)
            return
        if kind in _ARRAY_KINDS:
            raise MetricValueError(
                f"metric {name!r} must be a single number, got an array of shape "
                f"{shape}; reduce it first (e.g. .mean())"
            )
        if kind is None and shape == () and callable(getattr(value, "item", None)):
            raise MetricValueError(
                f"metric {name!r} is a {type(value).__module__}.{type(value).__name__} "
                f"(dtype {dtype}); pass value.item() (or value.detach()), a numpy or JAX array, "
                "or a Python number"
            )
        raise MetricValueError(
            f"metric {name!r} must be a number, got an array of dtype {dtype}: "
            "only numeric arrays (float, int, unsigned, bool) are metrics"
        )
    if isinstance(value, numbers.Real):
        try:
            float(value)
        except (OverflowError, ValueError, TypeError) as exc:
            raise MetricValueError(f"metric {name!r} cannot be converted to a float: {exc}") from None
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
    first = type(values[0]) if values else float
    if first is not float and issubclass(first, array_type) and all(type(v) is first for v in values):
        return fetch_scalars(values)  # the usual case: every value a JAX array of one type
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

    __slots__ = ("accuracies", "extras", "losses", "steps", "times", "weights")

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.losses: list[Any] = []
        self.accuracies: list[Any] = []
        self.times: list[float] = []
        self.extras: list[tuple[int, Mapping[str, Any]]] = []
        self.weights: list[tuple[int, int]] = []
        """``(index, batch_size)`` for the steps that gave one."""

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
        head.weights = [(i, w) for i, w in self.weights if i < count]
        self.weights = [(i - count, w) for i, w in self.weights if i >= count]
        return head

    def weight_column(self) -> list[int] | None:
        """Each step's weight (its batch size; 1 where none was given), or None when no step gave one."""
        if not self.weights:
            return None
        column = [1] * len(self.steps)
        for i, weight in self.weights:
            column[i] = weight
        return column

    def step_values(self, index: int) -> Iterator[Any]:
        """Every value of the step at ``index``."""
        yield self.losses[index]
        yield self.accuracies[index]
        extras = self.extras  # in step order, at most one entry per step
        position = bisect_left(extras, index, key=_step_index)
        if position < len(extras) and extras[position][0] == index:
            yield from extras[position][1].values()

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
                    column = columns.get(key)
                    if column is None:
                        column = columns[key] = [None] * n
                    column[i] = value
        return columns


_FLOAT_OR_MISSING = frozenset((float, type(None)))


def convert_buffer(
    buffer: StepBuffer, clock_offset: float, known: list[float] | None = None
) -> tuple[StepRecords, MetricValueError | None]:
    """The buffered steps with float metrics and wall-clock times, converted in one batch.

    A step's time is when its values were known: the time it was reported, or for
    device arrays ``known[i]``, the (monotonic) time its values were found computed
    (JAX returns before the device has finished, so the report time would be the
    dispatch time).

    When the batch cannot be converted (a device error, a value that is not a number
    after all), the values are converted one by one: those that fail become NaN and
    the first failure is returned as a :class:`MetricValueError` naming the metric and
    the step, so that every good value is still reported.
    """
    columns = buffer.columns()
    # a device step is known when it was found computed: always after it was reported
    times = [t + clock_offset for t in (buffer.times if known is None else known)]
    if all(set(map(type, column)) <= _FLOAT_OR_MISSING for column in columns.values()):
        return StepRecords(buffer.steps, times, columns), None
    values = [v for column in columns.values() for v in column if v is not None]
    try:
        converted = _convert_values(values)
    except Exception:  # noqa: BLE001 - find the failing values one by one below
        return _convert_one_by_one(buffer, times, columns)
    return StepRecords(buffer.steps, times, _refill(columns, converted)), None


def _refill(columns: dict[str, list[Any]], converted: list[float]) -> dict[str, list[float | None]]:
    """``columns`` with their non-None values replaced, in order, by ``converted``."""
    out: dict[str, list[float | None]] = {}
    position = 0
    for name, column in columns.items():
        if any(v is None for v in column):  # `None in column` would call each device array's __eq__
            values = iter(converted[position:])
            out[name] = [None if v is None else next(values) for v in column]
            position += sum(v is not None for v in column)
        else:
            out[name] = converted[position : position + len(column)]  # type: ignore[assignment]
            position += len(column)
    return out


def _conversion_error(name: str, step: int, value: Any, cause: Exception) -> MetricValueError:
    shape = getattr(value, "shape", None)
    if shape is not None and math.prod(shape) != 1:
        reason = (
            f"it is an array of shape {tuple(shape)}, not a single number; reduce it first (e.g. .mean())"
        )
    else:
        reason = f"it could not be converted to a float ({type(cause).__name__}: {cause})"
    error = MetricValueError(f"metric {name!r} of step {step}: {reason}; it is reported as NaN")
    error.__cause__ = cause
    return error


def convert_results(results: Mapping[str, Any]) -> dict[str, float]:
    """Checked metric values (JAX arrays allowed) as floats, JAX arrays in one batch; None values dropped."""
    present = {name: value for name, value in results.items() if value is not None}
    return dict(zip(present, _convert_values(list(present.values()))))


def _convert_one_by_one(
    buffer: StepBuffer, times: list[float], columns: dict[str, list[Any]]
) -> tuple[StepRecords, MetricValueError | None]:
    error: MetricValueError | None = None
    converted: dict[str, list[float | None]] = {}
    for name, column in columns.items():
        out: list[float | None] = []
        for step, value in zip(buffer.steps, column):
            if value is None:
                out.append(None)
                continue
            try:
                out.append(_convert_values([value])[0])
            except Exception as exc:  # noqa: BLE001 - reported as NaN, raised once the rest is reported
                out.append(math.nan)
                if error is None:
                    error = _conversion_error(name, step, value, exc)
        converted[name] = out
    return StepRecords(buffer.steps, times, converted), error


class RunningMeans:
    """Per-metric running means over a phase, weighted by each step's batch size when given
    (so that they are means over examples). NaN values make the mean NaN.

    The metrics named in ``last_value`` (a learning rate, a step size) are not averaged:
    their "mean" is the last value reported.
    """

    __slots__ = ("_counts", "_last", "_last_value", "_sums")

    def __init__(self, last_value: Collection[str] = ()) -> None:
        self._sums: dict[str, float] = {}
        self._counts: dict[str, float] = {}
        self._last_value = frozenset(last_value)
        self._last: dict[str, float] = {}

    def add(self, columns: Mapping[str, list[float | None]], weights: list[int] | None = None) -> None:
        """Add converted columns (None marks a step without that metric), each step weighing
        ``weights[i]`` (1 each when None)."""
        for name, column in columns.items():
            if weights is None:
                present: list[float] = column if None not in column else [v for v in column if v is not None]  # type: ignore[assignment]
                total, count = sum(present), float(len(present))
            else:
                pairs = [(v, w) for v, w in zip(column, weights) if v is not None and w]
                total = sum(v * w for v, w in pairs)
                count = float(sum(w for _, w in pairs))
            self._sums[name] = self._sums.get(name, 0.0) + total
            self._counts[name] = self._counts.get(name, 0.0) + count
            if name in self._last_value:
                last = next((v for v in reversed(column) if v is not None), None)
                if last is not None:
                    self._last[name] = last

    def snapshot(self) -> tuple[dict[str, float], dict[str, float]]:
        """The sums and counts so far, for :meth:`means_since`."""
        return dict(self._sums), dict(self._counts)

    def means_since(self, snapshot: tuple[dict[str, float], dict[str, float]]) -> dict[str, float]:
        """The means of what was added after ``snapshot`` was taken (metrics with no new step left out)."""
        sums, counts = snapshot
        means: dict[str, float] = {}
        for key, total in self._sums.items():
            count = self._counts[key] - counts.get(key, 0.0)
            if count:
                means[key] = self._last[key] if key in self._last else (total - sums.get(key, 0.0)) / count
        return means

    def means(self) -> dict[str, float]:
        """The mean of each metric (NaN for a metric whose steps all weighed 0)."""
        counts, last = self._counts, self._last
        means = {key: total / counts[key] if counts[key] else math.nan for key, total in self._sums.items()}
        if last:
            means.update(last)
        return means
