"""Number formatting shared by the tree and table views."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Literal, TypeVar

ParameterFormat = Literal["short", "full"]
MemoryUnits = Literal["MB", "GB"]

PARAMETER_FORMATS: tuple[ParameterFormat, ...] = ("short", "full")
MEMORY_UNITS: dict[MemoryUnits, int] = {"MB": 10**6, "GB": 10**9}
"""Bytes per unit: decimal units, as torchinfo uses."""

_SUFFIXES = ("", "K", "M", "B", "T")
_OPERATION_UNITS = (("T", 10**12), ("G", 10**9))
"""torchinfo's units for counts of operations above millions (its ``Units.AUTO``)."""
_C = TypeVar("_C", bound=str)


def significant(value: float, digits: int = 3) -> str:
    """``value`` rounded to ``digits`` significant digits, without exponent or trailing zeros.

    ``0.0030720`` gives ``"0.00307"``, ``67.954536`` gives ``"68"``, ``12345`` gives ``"12300"``.
    """
    if value == 0:
        return "0"
    text = format(Decimal(f"{value:.{digits}g}"), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_parameter_count(count: float, style: ParameterFormat = "short") -> str:
    """``16872002`` as ``"16.9M"`` (short: 3 significant digits, K/M/B/T) or ``"16,872,002"`` (full).

    A count is a whole number; one computed from a fractional per-example figure is rounded.
    """
    if style == "full":
        return f"{round(count):,}"
    value = float(count)
    for index, suffix in enumerate(_SUFFIXES):
        rounded = float(f"{value:.3g}")
        if abs(rounded) < 1000 or index == len(_SUFFIXES) - 1:
            return significant(rounded) + suffix
        value /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def format_size(num_bytes: int, units: MemoryUnits = "MB") -> str:
    """Bytes in ``units`` (decimal: MB = 10^6 bytes) with 3 significant digits."""
    return significant(num_bytes / MEMORY_UNITS[units])


def format_operations(count: float | None) -> tuple[str, str]:
    """A count of operations as torchinfo's unit and a value with 3 significant digits.

    Millions (``M``) below 10^9, then ``G`` below 10^12, then ``T``: ``350602`` gives
    ``("M", "0.351")``; an unknown count (None) gives ``("M", "--")``.
    """
    if count is None:
        return "M", "--"
    for unit, size in _OPERATION_UNITS:
        if count >= size:
            return unit, significant(count / size)
    return "M", significant(count / 10**6)


def check_choice(value: str, choices: Iterable[_C], what: str) -> _C:
    """The choice that ``value`` names (ignoring case and spaces), or a ValueError naming the choices."""
    options = tuple(choices)
    for choice in options:
        if value.strip().lower() == choice.lower():
            return choice
    raise ValueError(f"{what} must be one of {', '.join(options)}; got {value!r}")


def check_parameter_format(value: str) -> ParameterFormat:
    """``value`` as a parameter format, or a ValueError naming the choices."""
    return check_choice(value, PARAMETER_FORMATS, "parameter_format")


def check_memory_units(value: str) -> MemoryUnits:
    """``value`` as memory units (case-insensitive), or a ValueError naming the choices."""
    return check_choice(value, MEMORY_UNITS, "memory_units")
