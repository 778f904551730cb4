"""Names and values as MLflow accepts them (keys of metrics, parameters and tags)."""

from __future__ import annotations

import re

MAX_KEY_LENGTH = 250
"""MLflow's longest metric, parameter and tag key."""

_NOT_ALLOWED = re.compile(r"[^\w./\- ]+")


def mlflow_key(name: str) -> str:
    """``name`` with characters MLflow refuses as ``_`` and no empty, ``.`` or ``..`` path parts."""
    parts = [part for part in _NOT_ALLOWED.sub("_", name).split("/") if part not in ("", ".", "..")]
    return "/".join(parts)[:MAX_KEY_LENGTH].rstrip("/") or "_"


def truncated(value: str, limit: int) -> str:
    """``value`` cut to ``limit`` characters, ending with ``...`` when cut."""
    return value if len(value) <= limit else value[: limit - 3] + "..."


__all__ = ["MAX_KEY_LENGTH", "mlflow_key", "truncated"]
