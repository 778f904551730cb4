"""The model's architecture as text, for a stored run."""

from __future__ import annotations

from trainscope import ModelSpec
from trainscope.spec_text import plain_architecture


def architecture_text(run_name: str, spec: ModelSpec) -> str:
    """The arch reporter's printout when ``trainscope-arch`` is installed, else the plain one."""
    try:
        from trainscope_arch import ModelArchitecturePrinter
    except ImportError:
        return plain_architecture(run_name, spec)
    return ModelArchitecturePrinter(run_name).format_architecture(spec)


__all__ = ["architecture_text"]
