"""The `summary` reporter's hook implementations (entry point `summary`)."""

from __future__ import annotations
