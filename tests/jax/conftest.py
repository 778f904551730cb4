"""Shared by the JAX tests: a worker script run in a JAX process of four simulated CPU devices."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

FOUND = "FOUND "
"""The worker prints its findings as one line: ``FOUND {json}``."""


def _run_on_four_devices(worker: str, env: dict[str, str]) -> dict[str, Any]:
    environ = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
        "JAX_PLATFORMS": "cpu",
        "TRAINSCOPE_PEAK_TFLOPS": "1",
        **env,
    }
    done = subprocess.run(
        [sys.executable, "-c", worker], env=environ, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith(FOUND))
    found: dict[str, Any] = json.loads(line[len(FOUND) :])
    return found


@pytest.fixture(scope="session")
def on_four_devices() -> Callable[..., dict[str, Any]]:
    """``on_four_devices(worker, **env)``: what ``worker`` printed after ``FOUND``, run once per
    worker in a process whose JAX has four CPU devices (the count is fixed when JAX starts)."""
    cache: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]] = {}

    def run(worker: str, **env: str) -> dict[str, Any]:
        key = (worker, tuple(sorted(env.items())))
        if key not in cache:
            cache[key] = _run_on_four_devices(worker, env)
        return cache[key]

    return run
