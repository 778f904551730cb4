"""Every environment variable the tensorboard reporter reads, declared once."""

from __future__ import annotations

TRAINSCOPE_TENSORBOARD_DIR = "TRAINSCOPE_TENSORBOARD_DIR"
"""Folder the run folders go in (default ``tensorboard`` inside ``TRAINSCOPE_LOG_DIR``,
that is ``runs/tensorboard`` when neither is set); give it to ``tensorboard --logdir``."""

__all__ = ["TRAINSCOPE_TENSORBOARD_DIR"]
