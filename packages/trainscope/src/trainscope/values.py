"""Checking what users hand to a session, where it enters: counts, names, configuration.

Whatever reaches a reporter must be something every reporter can write: JSON-encodable
values, valid Unicode text, integers that fit in 64 bits. Checking here, once, means a
log never fails half-way through a run on a value it cannot encode.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

INT64_MAX = 2**63 - 1
"""The largest step, epoch or count accepted (what every log format can store)."""
_MAX_DEPTH = 32


def check_count(name: str, value: object, *, minimum: int, allow_none: bool = False) -> int | None:
    """``value`` as a whole number in ``[minimum, 2**63)``, else a clear TypeError/ValueError."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        expected = "a whole number" + (" or None" if allow_none else "")
        raise TypeError(f"{name} must be {expected}, got {type(value).__name__} {value!r:.40}")
    number = int(value)
    if not minimum <= number <= INT64_MAX:
        raise ValueError(f"{name} must be between {minimum} and 2**63-1, got {number}")
    return number


def check_seconds(name: str, value: object) -> float:
    """``value`` as a finite number of seconds >= 0, else a clear TypeError/ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__} {value!r:.40}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")
    return seconds


def plain_text(text: object) -> str:
    """``str(text)`` that encodes as UTF-8: lone surrogates become U+FFFD."""
    value = str(text)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


def error_text(error: BaseException) -> str:
    """``"ValueError: message"`` (the bare class name for an empty message), as text that
    encodes as UTF-8 (an undecodable file name in an ``OSError`` holds lone surrogates)."""
    message = plain_text(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def plain_value(value: Any, *, _seen: frozenset[int] = frozenset(), _depth: int = 0) -> Any:
    """``value`` as plain JSON data: dicts with string keys, lists, str, bool, None, floats,
    and integers within 64 bits.

    Numpy scalars and small arrays become numbers and lists; dataclasses become dicts;
    paths and anything else become their text; integers too large for 64 bits become
    their decimal text; a container that contains itself is cut with ``"<cycle>"``.
    Non-finite floats stay floats (each reporter writes them its own way).
    """
    if value is None or isinstance(value, (bool, float)):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else str(value)
    if isinstance(value, str):
        return plain_text(value)
    if isinstance(value, PurePath):
        return plain_text(value)
    if id(value) in _seen or _depth >= _MAX_DEPTH:
        return "<cycle>" if id(value) in _seen else "<too deep>"
    seen = _seen | {id(value)}
    depth = _depth + 1
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {plain_text(key): plain_value(item, _seen=seen, _depth=depth) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain_value(item, _seen=seen, _depth=depth) for item in value]
    size = getattr(value, "size", None)
    if hasattr(value, "tolist") and isinstance(size, int) and size <= 1024:  # numpy scalars, small arrays
        try:
            return plain_value(value.tolist(), _seen=seen, _depth=depth)
        except Exception:  # noqa: BLE001 - an array-like that cannot be listed is shown as text
            pass
    if isinstance(value, numbers.Integral):
        return plain_value(int(value))
    if isinstance(value, numbers.Real):
        return float(value)
    return plain_text(value)


HyperParameter = bool | int | float | str | None
"""What trackers (TensorBoard's HParams, MLflow's parameters) take as one hyper-parameter."""


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, HyperParameter]:
    """``{"optimizer": {"lr": 0.1}}`` -> ``{"optimizer.lr": 0.1}``.

    Booleans, numbers (numpy's too), strings and None stay as they are; anything else
    (paths, lists, objects) becomes its ``str()``.
    """
    flat: dict[str, HyperParameter] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_config(value, f"{name}."))
        elif value is None or isinstance(value, (bool, str)):
            flat[name] = value
        elif isinstance(value, numbers.Integral):
            flat[name] = int(value)
        elif isinstance(value, numbers.Real):
            flat[name] = float(value)
        else:
            flat[name] = str(value)
    return flat


__all__ = [
    "INT64_MAX",
    "HyperParameter",
    "check_count",
    "check_seconds",
    "error_text",
    "flatten_config",
    "plain_text",
    "plain_value",
]
