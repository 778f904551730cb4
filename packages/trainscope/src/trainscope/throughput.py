"""How well a run uses its device: examples/s, FLOP/s, MFU and peak device memory.

The FLOPs of one training step come from the framework (XLA's cost analysis of the
compiled step) or from the user; the device's peak from :data:`PEAK_TFLOPS` by device
kind and dtype, or ``TRAINSCOPE_PEAK_TFLOPS``. Nothing is guessed: a figure whose
inputs are unknown is None, and reporters leave it out.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trainscope import environment_variables as env_vars

PEAK_TFLOPS: Mapping[str, Mapping[str, float]] = {
    # NVIDIA data-centre GPUs (dense tensor-core figures of the data sheets, no sparsity)
    "H200": {"bfloat16": 989.4, "float16": 989.4, "float32": 66.9},
    "H100 PCIe": {"bfloat16": 756.0, "float16": 756.0, "float32": 51.2},
    "H100": {"bfloat16": 989.4, "float16": 989.4, "float32": 66.9},
    "A100": {"bfloat16": 312.0, "float16": 312.0, "float32": 19.5},
    "L40S": {"bfloat16": 362.1, "float16": 362.1, "float32": 91.6},
    "L4": {"bfloat16": 121.0, "float16": 121.0, "float32": 30.3},
    "A10G": {"bfloat16": 70.0, "float16": 70.0, "float32": 35.0},
    "A10": {"bfloat16": 125.0, "float16": 125.0, "float32": 31.2},
    "V100": {"float16": 125.0, "float32": 15.7},
    "T4": {"float16": 65.0, "float32": 8.1},
    # NVIDIA consumer GPUs (FP16/BF16 tensor cores with FP32 accumulation)
    "RTX 4090": {"bfloat16": 165.2, "float16": 165.2, "float32": 82.6},
    "RTX 4080": {"bfloat16": 97.5, "float16": 97.5, "float32": 48.7},
    "RTX 3090": {"bfloat16": 71.0, "float16": 71.0, "float32": 35.6},
    "RTX 3080": {"bfloat16": 59.5, "float16": 59.5, "float32": 29.8},
    # Apple GPUs through jax-metal (FP32 shader throughput, largest GPU configuration)
    "Apple M1 Ultra": {"float32": 21.2},
    "Apple M1 Max": {"float32": 10.6},
    "Apple M1 Pro": {"float32": 5.3},
    "Apple M1": {"float32": 2.6},
    "Apple M2 Ultra": {"float32": 27.2},
    "Apple M2 Max": {"float32": 13.6},
    "Apple M2 Pro": {"float32": 6.8},
    "Apple M2": {"float32": 3.6},
    "Apple M3 Max": {"float32": 16.4},
    "Apple M3 Pro": {"float32": 7.4},
    "Apple M3": {"float32": 4.1},
    "Apple M4 Max": {"float32": 18.4},
    "Apple M4 Pro": {"float32": 9.2},
    "Apple M4": {"float32": 4.3},
    # Google TPUs, per chip
    "TPU v6": {"bfloat16": 918.0},
    "TPU v5p": {"bfloat16": 459.0},
    "TPU v5 lite": {"bfloat16": 197.0},
    "TPU v5e": {"bfloat16": 197.0},
    "TPU v4": {"bfloat16": 275.0},
    "TPU v3": {"bfloat16": 123.0},
}
"""Peak dense TFLOP/s by device kind (as ``jax.devices()[0].device_kind`` names it) and dtype.

A kind matches the longest entry it contains (``NVIDIA H100 80GB HBM3`` is an ``H100``).
Figures are the vendors' data-sheet numbers for dense math (no sparsity); an Apple
entry is the largest GPU of that chip, so a smaller configuration shows a lower MFU
than it has: set ``TRAINSCOPE_PEAK_TFLOPS`` for an exact figure.
"""

_DTYPE_ALIASES = {
    "bf16": "bfloat16",
    "fp16": "float16",
    "half": "float16",
    "fp32": "float32",
    "float": "float32",
}


def _normalized(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def peak_flops(
    device_kind: str | None, dtype: str = "float32", environ: Mapping[str, str] | None = None
) -> float | None:
    """Peak FLOP/s of one device: ``TRAINSCOPE_PEAK_TFLOPS`` when set, else :data:`PEAK_TFLOPS`.

    None for an unknown device or dtype: MFU is then not shown, never guessed.
    """
    environ = os.environ if environ is None else environ
    override = environ.get(env_vars.TRAINSCOPE_PEAK_TFLOPS, "").strip()
    if override:
        try:
            value = float(override)
        except ValueError:
            raise ValueError(
                f"{env_vars.TRAINSCOPE_PEAK_TFLOPS} must be a number of TFLOP/s (such as 989.4), "
                f"got {override!r}"
            ) from None
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"{env_vars.TRAINSCOPE_PEAK_TFLOPS} must be a positive number, got {override!r}")
        return value * 1e12
    if not device_kind:
        return None
    kind = _normalized(device_kind)
    matches = [name for name in PEAK_TFLOPS if _normalized(name) in kind]
    if not matches:
        return None
    dtype = _DTYPE_ALIASES.get(dtype.lower(), dtype.lower())
    tflops = PEAK_TFLOPS[max(matches, key=len)].get(dtype)
    return None if tflops is None else tflops * 1e12


@dataclass(frozen=True)
class Throughput:
    """What a training phase (or the training between two evaluations) achieved.

    Every figure is None when one of its inputs is unknown.
    """

    examples_per_second: float | None
    """Examples per second of device-completed steps (needs batch sizes)."""
    flops_per_second: float | None
    """Achieved FLOP/s: steps x FLOPs per step / time (needs the step's FLOPs)."""
    mfu: float | None
    """Model FLOPs utilization, a fraction: achieved / peak FLOP/s (needs a known peak)."""
    peak_memory_bytes: int | None
    """The device's peak memory in use so far (where the backend reports it)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "examples_per_second": self.examples_per_second,
            "flops_per_second": self.flops_per_second,
            "mfu": self.mfu,
            "peak_memory_bytes": self.peak_memory_bytes,
        }


@dataclass
class DeviceCost:
    """What the session knows of the work per step and of the device, to compute :class:`Throughput`."""

    flops_per_step: float | None = None
    peak_flops: float | None = None
    devices: int = 1
    """Devices the step runs on: the peak is per device."""

    def throughput(
        self, steps: int, examples: int, seconds: float, peak_memory_bytes: int | None
    ) -> Throughput | None:
        """The figures for ``steps`` steps of ``examples`` examples in ``seconds``; None without any."""
        if seconds <= 0 or steps <= 0:
            return None
        examples_per_second = examples / seconds if examples else None
        flops_per_second = self.flops_per_step * steps / seconds if self.flops_per_step else None
        mfu = None
        if flops_per_second is not None and self.peak_flops:
            mfu = flops_per_second / (self.peak_flops * self.devices)
        if examples_per_second is None and flops_per_second is None and peak_memory_bytes is None:
            return None
        return Throughput(examples_per_second, flops_per_second, mfu, peak_memory_bytes)


def step_flops(step_function: Any, *example_args: Any, **example_kwargs: Any) -> float:
    """The FLOPs of one call of a jitted function, from XLA's cost analysis of its compiled form.

    Works for anything with JAX's ``lower(...).compile().cost_analysis()`` (``jax.jit``,
    ``nnx.jit``, ``eqx.filter_jit``'s wrapped function); compiles once, runs nothing.
    """
    lower = getattr(step_function, "lower", None)
    if lower is None:
        raise TypeError(
            f"{type(step_function).__name__} has no lower(): pass a jitted function (jax.jit), "
            "or the FLOPs of one step as a number"
        )
    analysis = lower(*example_args, **example_kwargs).compile().cost_analysis()
    if isinstance(analysis, (list, tuple)):  # older JAX: one dict per device program
        analysis = analysis[0] if analysis else {}
    flops = float((analysis or {}).get("flops", 0.0))
    if not flops > 0:
        raise ValueError("XLA's cost analysis reports no FLOPs for this function on this backend")
    return flops


__all__ = ["PEAK_TFLOPS", "DeviceCost", "Throughput", "peak_flops", "step_flops"]
