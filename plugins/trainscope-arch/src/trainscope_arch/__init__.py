"""PyTorch-style model architecture printer for trainscope runs."""

from __future__ import annotations

__version__ = "0.1.0"

from trainscope_arch.formatting import (
    format_operations,
    format_parameter_count,
    format_size,
    significant,
)
from trainscope_arch.printer import ModelArchitecturePrinter

__all__ = [
    "ModelArchitecturePrinter",
    "__version__",
    "format_operations",
    "format_parameter_count",
    "format_size",
    "significant",
]
