"""Train JAX models on Apple GPUs (jax-metal), NVIDIA GPUs or the CPU, reported by trainscope."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
