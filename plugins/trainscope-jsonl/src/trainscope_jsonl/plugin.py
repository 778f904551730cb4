"""The `jsonl` reporter's hook implementations (entry point `jsonl`)."""

from __future__ import annotations
