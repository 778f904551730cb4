"""The `arch` reporter's hook implementations (entry point `arch`)."""

from __future__ import annotations
