"""Number formatting shared by the tree and table views."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

ParameterFormat = Literal["short", "full"]
MemoryUnits = Literal["MB", "GB"]

PARAMETER_FORMATS: tuple[ParameterFormat, ...] = ("short", "full")
MEMORY_UNITS: dict[MemoryUnits, int] = {"MB": 10**6, "GB": 10**9}
"""Bytes per unit: decimal units, as torchinfo uses."""

_SUFFIXES = ("", "K", "M", "B", "T")


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


def format_parameter_count(count: int, style: ParameterFormat = "short") -> str:
    """``16872002`` as ``"16.9M"`` (short: 3 significant digits, K/M/B/T) or ``"16,872,002"`` (full)."""
    if style == "full":
        return f"{count:,}"
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


def check_parameter_format(value: str) -> ParameterFormat:
    """``value`` as a parameter format, or a ValueError naming the choices."""
    lowered = value.strip().lower()
    for choice in PARAMETER_FORMATS:
        if lowered == choice:
            return choice
    raise ValueError(f"parameter_format must be one of {', '.join(PARAMETER_FORMATS)}; got {value!r}")


def check_memory_units(value: str) -> MemoryUnits:
    """``value`` as memory units (case-insensitive), or a ValueError naming the choices."""
    upper = value.strip().upper()
    for choice in MEMORY_UNITS:
        if upper == choice:
            return choice
    raise ValueError(f"memory_units must be one of {', '.join(MEMORY_UNITS)}; got {value!r}")
