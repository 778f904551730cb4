"""Typed access to an event's fields: a missing field or a wrong type is a :class:`FieldError`
whose message names the field, what it holds and what belongs there. Unknown fields are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainscope_jsonl.encoding import NON_FINITE

MISSING: Any = object()
"""What :func:`json_kind` names ``missing``: pass it as the default of ``event.get``."""
_NAME_LIMIT = 40
_KINDS = ((str, "a string"), (list, "a list"), (dict, "an object"))


class FieldError(ValueError):
    """An event field is missing or holds the wrong type of value."""


def quoted(name: str) -> str:
    """``"name"``, cut to 40 characters."""
    return f'"{name}"' if len(name) <= _NAME_LIMIT else f'"{name[:_NAME_LIMIT]}..."'


def json_kind(value: Any) -> str:
    """How a JSON value is named in a message: ``missing``, ``null``, ``true``, ``1.5``, ``a string``..."""
    if value is MISSING:
        return "missing"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, int):
        return str(value)[:_NAME_LIMIT]
    return next((name for kind, name in _KINDS if isinstance(value, kind)), type(value).__name__)


def wrong_type(key: str, value: Any, expected: str) -> FieldError:
    """The error for field ``key`` holding ``value`` where ``expected`` belongs."""
    return FieldError(f"{quoted(key)} is {json_kind(value)}, expected {expected}")


def _as_float(value: Any) -> float | None:
    """A JSON number or non-finite text as a float; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return NON_FINITE.get(value) if isinstance(value, str) else None


def text(event: Mapping[str, Any], key: str) -> str:
    """The string ``event[key]``."""
    value = event.get(key, MISSING)
    if not isinstance(value, str):
        raise wrong_type(key, value, "a string")
    return value


def optional_text(event: Mapping[str, Any], key: str) -> str | None:
    """The string ``event[key]``, or None when it is null or missing."""
    return None if event.get(key) is None else text(event, key)


def integer(event: Mapping[str, Any], key: str) -> int:
    """The integer ``event[key]`` (a float with no fractional part is accepted)."""
    value = event.get(key, MISSING)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise wrong_type(key, value, "an integer")


def optional_integer(event: Mapping[str, Any], key: str) -> int | None:
    """The integer ``event[key]``, or None when it is null or missing."""
    return None if event.get(key) is None else integer(event, key)


def number(event: Mapping[str, Any], key: str) -> float:
    """The number ``event[key]`` as a float (``"NaN"``, ``"Infinity"``, ``"-Infinity"`` included)."""
    value = event.get(key, MISSING)
    result = _as_float(value)
    if result is None:
        raise wrong_type(key, value, "a number")
    return result


def metrics(event: Mapping[str, Any], key: str) -> dict[str, float]:
    """The metric map ``event[key]``: names to floats (non-finite text read back as floats)."""
    values = event.get(key, MISSING)
    if not isinstance(values, dict):
        raise wrong_type(key, values, "an object of metric values")
    result: dict[str, float] = {}
    for name, value in values.items():
        converted = value if value.__class__ is float else _as_float(value)
        if converted is None:
            raise FieldError(f"{quoted(key)} metric {quoted(name)} is {json_kind(value)}, expected a number")
        result[name] = converted
    return result


def throughput(event: Mapping[str, Any]) -> dict[str, float]:
    """The known figures of ``event["throughput"]`` (schema 2): unknown ones (null) and a
    missing or null ``throughput`` give none; anything but numbers there is an error."""
    value = event.get("throughput")
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise FieldError(f'"throughput" is {json_kind(value)}, expected an object')
    figures: dict[str, float] = {}
    for name, figure in value.items():
        if figure is None:
            continue
        if isinstance(figure, bool) or not isinstance(figure, (int, float)):
            raise FieldError(f'"throughput" "{name}" is {json_kind(figure)}, expected a number')
        figures[str(name)] = float(figure)
    return figures


def optional_metrics(event: Mapping[str, Any], key: str) -> dict[str, float] | None:
    """The metric map ``event[key]``, or None when it is null or missing."""
    return None if event.get(key) is None else metrics(event, key)


def optional_number(event: Mapping[str, Any], key: str) -> float | None:
    """The number ``event[key]`` as a float, or None when it is null or missing."""
    return None if event.get(key) is None else number(event, key)


HEALTH_COUNTS = ("steps", "outliers")
"""The figures of a ``health`` object (schema 3) that are integers or null."""
HEALTH_NUMBERS = (
    *HEALTH_COUNTS,
    "step_time_median",
    "step_time_p90",
    "step_time_max",
    "step_time_mean",
    "elapsed",
    "data_wait",
    "device_wait",
    "data_share",
    "device_share",
)
"""The figures of a ``health`` object (schema 3) that are numbers or null, counts included."""


def health(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``health`` object of ``event`` (schema 3), or None when it is null or missing (older
    logs). Its numbers (:data:`HEALTH_NUMBERS`), ``verdict`` and ``findings`` are checked."""
    value = event.get("health")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise wrong_type("health", value, "an object")
    figures = dict(value)
    try:
        for name in HEALTH_NUMBERS:
            read = optional_integer if name in HEALTH_COUNTS else optional_number
            figures[name] = read(value, name)
        figures["verdict"] = optional_text(value, "verdict")
    except FieldError as exc:
        raise FieldError(f'"health" {exc}') from None
    findings = value.get("findings")
    if findings is not None and not (
        isinstance(findings, list) and all(isinstance(item, str) for item in findings)
    ):
        raise FieldError(f'"health" {wrong_type("findings", findings, "a list of strings")}')
    figures["findings"] = findings or []
    return figures
