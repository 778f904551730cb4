"""Environment variables the architecture printer reads, declared once."""

from __future__ import annotations

TRAINSCOPE_ARCH_VIEW = "TRAINSCOPE_ARCH_VIEW"
"""``tree`` (default, PyTorch-style) or ``table`` (one row per layer) at the start of a run."""

TRAINSCOPE_ARCH_PARAMETER_FORMAT = "TRAINSCOPE_ARCH_PARAMETER_FORMAT"
"""``short`` (default, ``16.9M``) or ``full`` (``16,872,002``) at the start of a run."""

TRAINSCOPE_ARCH_MEMORY_UNITS = "TRAINSCOPE_ARCH_MEMORY_UNITS"
"""``MB`` (default) or ``GB`` (decimal units) at the start of a run."""

__all__ = ["TRAINSCOPE_ARCH_MEMORY_UNITS", "TRAINSCOPE_ARCH_PARAMETER_FORMAT", "TRAINSCOPE_ARCH_VIEW"]
