"""Every environment variable trainscope reads, declared once.

Reporters and frameworks import these constants instead of spelling the names.
"""

from __future__ import annotations

TRAINSCOPE_PLUGINS = "TRAINSCOPE_PLUGINS"
"""Comma-separated allow-list of plugin names to load; an empty string loads none."""

TRAINSCOPE_DISABLE_PLUGINS = "TRAINSCOPE_DISABLE_PLUGINS"
"""Comma-separated block-list of plugin names never to load (e.g. ``jsonl,tqdm``)."""

TRAINSCOPE_STRICT = "TRAINSCOPE_STRICT"
"""``1`` re-raises exceptions from reporters instead of disabling them (for plugin tests)."""

TRAINSCOPE_TRACE_PLUGINS = "TRAINSCOPE_TRACE_PLUGINS"
"""``1`` prints every hook call and the plugins it reaches to standard error."""

TRAINSCOPE_LOG_DIR = "TRAINSCOPE_LOG_DIR"
"""Directory of the JSON-lines run logs (default ``runs/``)."""

TRAINSCOPE_PLATFORM = "TRAINSCOPE_PLATFORM"
"""Device platform for JAX training: ``auto`` (default), ``metal``, ``gpu`` or ``cpu``."""

TRAINSCOPE_PEAK_TFLOPS = "TRAINSCOPE_PEAK_TFLOPS"
"""Peak dense TFLOP/s of one device, for MFU where the built-in table does not know the device."""

__all__ = [
    "TRAINSCOPE_DISABLE_PLUGINS",
    "TRAINSCOPE_LOG_DIR",
    "TRAINSCOPE_PEAK_TFLOPS",
    "TRAINSCOPE_PLATFORM",
    "TRAINSCOPE_PLUGINS",
    "TRAINSCOPE_STRICT",
    "TRAINSCOPE_TRACE_PLUGINS",
]
