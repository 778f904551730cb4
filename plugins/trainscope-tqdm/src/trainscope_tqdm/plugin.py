"""The `tqdm` reporter's hook implementations (entry point `tqdm`)."""

from __future__ import annotations
