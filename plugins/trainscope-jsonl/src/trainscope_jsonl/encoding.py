"""Strict RFC 8259 JSON lines with orjson: non-finite floats become "NaN", "Infinity", "-Infinity".

orjson writes NaN and the infinities as ``null``. Step lines take a fast path: each
column of a chunk (steps, times, one per metric) is encoded by one orjson call and cut
at its commas, and the lines are joined from these pieces and the constant text
between them (the phase's fields, the keys), with no dict built per step. A chunk
where a step lacks a metric or a value is not finite (its column encodes a ``null``)
is encoded record by record instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from trainscope.plugin_api import StepRecords

_dumps = orjson.dumps
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
NON_FINITE: Mapping[str, float] = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
"""The strings written for non-finite floats, and the floats they stand for."""


def non_finite_text(value: float) -> str:
    """``"NaN"``, ``"Infinity"`` or ``"-Infinity"``."""
    if value != value:
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (nested in dicts, lists, tuples) replaced by its
    text, and integers beyond 64 bits by their decimal text."""
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else non_finite_text(value)
    if isinstance(value, int) and not -(2**63) <= value < 2**64:
        return str(value)  # beyond what JSON readers hold exactly
    if isinstance(value, Mapping):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    item = getattr(value, "item", None)
    if item is not None and getattr(value, "ndim", None) == 0:  # numpy scalars and 0-d arrays
        return json_safe(item())
    return value


def _fallback(value: Any) -> Any:
    """orjson's ``default``: anything it cannot encode is written as its ``str``."""
    return str(value)


def dumps_line(obj: Mapping[str, Any]) -> bytes:
    """One event as a JSON line (with the newline); for the rare, non-step events."""
    return _dumps(json_safe(obj), default=_fallback, option=_OPTIONS | orjson.OPT_APPEND_NEWLINE)


def step_prefix(run_id: str, epoch: int, phase: str) -> bytes:
    """The constant start of one phase's step lines, up to the step's own fields."""
    return _dumps({"event": "step", "run_id": run_id, "epoch": epoch, "phase": phase})[:-1] + b","


CHUNK = 512
"""Step lines per bytes object: small enough to stay in the CPU cache while being built."""

_BOUNDARY = b'},{"step":'
"""Between two encoded records; cannot occur inside a JSON string (its quote would be escaped)."""


def _encode_chunk(
    prefix: bytes, steps: list[int], times: list[float], metrics: list[dict[str, float]]
) -> bytes:
    data = _dumps([{"step": s, "time": t, "metrics": m} for s, t, m in zip(steps, times, metrics)])
    if b"null" in data:
        data = _dumps(
            [
                {"step": s, "time": t, "metrics": {k: json_safe(v) for k, v in m.items()}}
                for s, t, m in zip(steps, times, metrics)
            ]
        )
    # data is [{"step":..},{"step":..}]: drop the brackets, cut between objects, prefix each.
    return prefix + data[2:-1].replace(_BOUNDARY, b"}\n" + prefix + b'"step":') + b"\n"


def _column(values: Sequence[Any]) -> list[bytes] | None:
    """Each value of a column encoded on its own, or None when one is missing or not finite."""
    data = _dumps(values)
    if b"null" in data:
        return None
    return data[1:-1].split(b",")


def _separators(prefix: bytes, names: Sequence[str]) -> tuple[list[bytes], bytes]:
    """The constant text before each column's value in a step line, and the line's end."""
    before = [prefix + b'"step":', b',"time":']
    for i, name in enumerate(names):
        before.append((b',"metrics":{' if i == 0 else b",") + _dumps(name, default=_fallback) + b":")
    return before, (b"}}\n" if names else b',"metrics":{}}\n')


def _encode_columns(separators: tuple[list[bytes], bytes], columns: Sequence[Sequence[Any]]) -> bytes | None:
    """One chunk's lines from its columns (steps, times, metrics; at least one step), or None to
    take the slow path."""
    encoded = []
    for column in columns:
        pieces = _column(column)
        if pieces is None:
            return None
        encoded.append(pieces)
    before, end = separators
    count, width = len(encoded[0]), 2 * len(encoded) + 1
    pieces_in_order = [end] * (count * width)  # text, value, text, value, ..., end: line after line
    for k, (text, pieces) in enumerate(zip(before, encoded)):
        pieces_in_order[2 * k :: width] = [text] * count
        pieces_in_order[2 * k + 1 :: width] = pieces
    return b"".join(pieces_in_order)


def encode_steps(prefix: bytes, records: StepRecords) -> list[bytes]:
    """Every record as one step line, in chunks of whole lines (:data:`CHUNK` lines each).

    Reads the records' columns, so no ``StepRecord`` (nor any dict per step) is built.
    """
    steps, times, metrics = records.steps, records.times, records.metrics
    separators = _separators(prefix, list(metrics))
    chunks = []
    for i in range(0, len(steps), CHUNK):
        chunk_steps, chunk_times = steps[i : i + CHUNK], times[i : i + CHUNK]
        columns: list[Sequence[Any]] = [chunk_steps, chunk_times]
        columns += [column[i : i + CHUNK] for column in metrics.values()]
        chunk = _encode_columns(separators, columns)
        if chunk is None:  # a missing metric, or a value that is not finite
            chunk = _encode_chunk(prefix, chunk_steps, chunk_times, records.metric_dicts()[i : i + CHUNK])
        chunks.append(chunk)
    return chunks


__all__ = [
    "CHUNK",
    "NON_FINITE",
    "dumps_line",
    "encode_steps",
    "json_safe",
    "non_finite_text",
    "step_prefix",
]
