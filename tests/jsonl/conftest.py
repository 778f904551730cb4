"""Fixtures for the jsonl reporter tests: a log directory and a strict line parser."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from trainscope import environment_variables as env_vars

StrictLines = Callable[[Path], list[dict[str, Any]]]


def _reject_constant(token: str) -> Any:
    raise ValueError(f"non-standard JSON token {token!r}")


def parse_strictly(path: Path) -> list[dict[str, Any]]:
    """Every complete line as RFC 8259 JSON (NaN and Infinity tokens rejected)."""
    text = path.read_text(encoding="utf-8")
    complete = text[: text.rfind("\n") + 1]
    events = [json.loads(line, parse_constant=_reject_constant) for line in complete.splitlines()]
    assert all(isinstance(event, dict) for event in events)
    return events


@pytest.fixture
def strict_lines() -> StrictLines:
    return parse_strictly


@pytest.fixture
def log_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "logs"
    monkeypatch.setenv(env_vars.TRAINSCOPE_LOG_DIR, str(directory))
    monkeypatch.delenv(env_vars.TRAINSCOPE_STRICT, raising=False)
    return directory
