"""The benchmarks that print figures the docs quote still run (tiny sizes; no timing is asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # the benchmarks, in subprocesses

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_the_mfu_sweep_prints_a_row_per_batch_size_with_mfu_for_a_given_peak() -> None:
    env = {**os.environ, "TRAINSCOPE_PEAK_TFLOPS": "0.5", "JAX_PLATFORMS": "cpu"}
    args = ["--batch-sizes", "4,8", "--image-size", "4", "--steps", "2", "--epochs", "2"]
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "mfu.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("catdog-cnn, 4x4 RGB, float32")
    assert lines[0].endswith("1 x cpu (cpu)")
    rows = [line.split() for line in lines if line.strip()[:1].isdigit()]
    assert [row[0] for row in rows] == ["4", "8"]
    for _batch, examples_per_second, _tflops, mfu, memory in rows:
        assert float(examples_per_second.replace(",", "")) > 0
        assert float(mfu) > 0  # a peak was given
        assert memory == "--"  # the CPU reports no memory


def test_the_mfu_sweep_refuses_bad_batch_sizes() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "mfu.py"), "--batch-sizes", "64,big"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--batch-sizes must be whole numbers separated by commas" in done.stderr
