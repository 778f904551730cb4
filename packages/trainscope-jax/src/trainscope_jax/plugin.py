"""Hook implementations of trainscope-jax: the `train` and `doctor` commands."""

from __future__ import annotations
