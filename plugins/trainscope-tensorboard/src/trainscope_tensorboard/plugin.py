"""The ``tensorboard`` reporter's hook implementations (entry point ``tensorboard``)."""

from __future__ import annotations
