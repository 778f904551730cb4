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
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
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
    """What the session knows of the work per step and of the device, to compute :class:`Throughput`.

    ``flops_by_batch`` maps a batch size to the FLOPs of one step of that batch (the key None:
    the FLOPs of any step, its batch size unknown). A step of a batch size with no entry of
    its own costs in proportion to its examples, from the nearest batch size that has one: a
    step's FLOPs grow linearly with its batch (all but the optimizer update, which is small).
    """

    flops_by_batch: dict[int | None, float] = field(default_factory=dict)
    peak_flops: float | None = None
    devices: int = 1
    """Devices the step runs on: the peak is per device."""

    @property
    def flops_per_step(self) -> float | None:
        """The FLOPs of one step of the first batch size given (None when unknown)."""
        return next(iter(self.flops_by_batch.values()), None)

    def flops_of(self, steps: Mapping[int | None, int]) -> float | None:
        """The FLOPs of ``steps`` (batch size, None when not given -> number of steps); None unknown."""
        costs = self.flops_by_batch
        if not costs:
            return None
        sizes = [size for size in costs if size]
        total = 0.0
        for size, count in steps.items():
            cost = costs.get(size)
            if cost is None and size is not None and sizes:
                nearest = min(sizes, key=lambda known: (abs(known - size), -known))
                cost = costs[nearest] * size / nearest
            total += count * (cost if cost is not None else next(iter(costs.values())))
        return total

    def throughput(
        self,
        steps: int,
        examples: int,
        seconds: float,
        peak_memory_bytes: int | None,
        batch_sizes: Mapping[int | None, int] | None = None,
    ) -> Throughput | None:
        """The figures for ``steps`` steps of ``examples`` examples in ``seconds``; None without any.

        ``batch_sizes``: the steps by batch size, to cost each as it ran (default: ``steps``
        steps of the first batch size given).
        """
        if seconds <= 0 or steps <= 0:
            return None
        examples_per_second = examples / seconds if examples else None
        flops = self.flops_of(batch_sizes if batch_sizes is not None else {None: steps})
        flops_per_second = flops / seconds if flops else None
        mfu = None
        if flops_per_second is not None and self.peak_flops:
            mfu = flops_per_second / (self.peak_flops * self.devices)
        if examples_per_second is None and flops_per_second is None and peak_memory_bytes is None:
            return None
        return Throughput(examples_per_second, flops_per_second, mfu, peak_memory_bytes)


class BatchTally:
    """A phase's steps counted by batch size (None: no batch size given), so that each is
    costed as it ran (a short last batch has fewer FLOPs)."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: Counter[int | None] = Counter()

    def add(self, steps: int, weights: Sequence[tuple[int, int]]) -> int:
        """Count ``steps`` steps, ``weights`` holding ``(index, batch_size)`` of those that gave one;
        returns their examples."""
        counts = self.counts
        counts.update(map(_second, weights))
        if len(weights) < steps:
            counts[None] += steps - len(weights)
        return sum(map(_second, weights))

    def since(self, snapshot: Mapping[int | None, int]) -> dict[int | None, int]:
        """The steps counted after ``snapshot`` (a copy of ``counts``) was taken."""
        return {size: count - snapshot.get(size, 0) for size, count in self.counts.items()}


_second = itemgetter(1)


@dataclass(frozen=True)
class StepCost:
    """XLA's cost analysis of one compiled step."""

    flops: float
    """The FLOPs of the whole step: the program of one device times :attr:`partitions`."""
    device_flops: float
    """The FLOPs of the program one device runs (what ``cost_analysis()`` reports)."""
    devices: int
    """The devices the compiled program runs on."""
    partitions: int
    """How many of them compute different parts of the step: devices that hold the same part
    of every input and output compute the same thing (a replicated step counts once)."""


def step_cost(step_function: Any, *example_args: Any, **example_kwargs: Any) -> StepCost:
    """The :class:`StepCost` of one call of a jitted function: compiles once, runs nothing.

    Works for anything with JAX's ``lower(...).compile().cost_analysis()`` (``jax.jit``,
    ``nnx.jit``, ``eqx.filter_jit``'s wrapped function). XLA analyses the partitioned program
    of one device; a step sharded over several devices is that times the devices that hold
    different parts of its inputs and outputs (data parallel: every device; replicated: one).
    """
    lower = getattr(step_function, "lower", None)
    if lower is None:
        raise TypeError(
            f"{type(step_function).__name__} has no lower(): pass a jitted function (jax.jit), "
            "or the FLOPs of one step as a number"
        )
    compiled = lower(*example_args, **example_kwargs).compile()
    analysis = compiled.cost_analysis()
    if isinstance(analysis, (list, tuple)):  # older JAX: one dict per device program
        analysis = analysis[0] if analysis else {}
    flops = float((analysis or {}).get("flops", 0.0))
    if not flops > 0:
        raise ValueError("XLA's cost analysis reports no FLOPs for this function on this backend")
    devices, partitions = _partitions(compiled)
    return StepCost(flops * partitions, flops, devices, partitions)


def step_flops(step_function: Any, *example_args: Any, **example_kwargs: Any) -> float:
    """The FLOPs of one call of a jitted function (the whole step, over every device it is
    sharded across), from XLA's cost analysis of its compiled form; see :func:`step_cost`."""
    return step_cost(step_function, *example_args, **example_kwargs).flops


def _partitions(compiled: Any) -> tuple[int, int]:
    """``(devices, partitions)`` of a compiled program, from the shards of its inputs and outputs.

    A device's part is the index of its shard of every input and output; devices with the
    same parts compute the same thing. ``(1, 1)`` when the program says nothing of shardings.
    """
    tree_leaves = sys.modules["jax"].tree_util.tree_leaves
    pairs: list[tuple[Any, Any]] = []
    for shardings_name, info_name in (("input_shardings", "args_info"), ("output_shardings", "out_info")):
        try:
            shardings = tree_leaves(getattr(compiled, shardings_name))
            shapes = [info.shape for info in tree_leaves(getattr(compiled, info_name))]
        except Exception:  # noqa: BLE001 - an older JAX without this attribute: the others tell
            continue
        if len(shardings) == len(shapes):
            pairs += zip(shardings, shapes)
    parts: dict[Any, list[Any]] = {}
    try:
        for sharding, shape in pairs:
            for device, index in sharding.devices_indices_map(tuple(shape)).items():
                parts.setdefault(device, []).append(tuple((s.start, s.stop, s.step) for s in index))
    except Exception:  # noqa: BLE001 - a sharding that cannot say: count every device
        return max(len(parts), 1), max(len(parts), 1)
    if not parts:
        return 1, 1
    return len(parts), len({tuple(indices) for indices in parts.values()})


__all__ = [
    "PEAK_TFLOPS",
    "BatchTally",
    "DeviceCost",
    "StepCost",
    "Throughput",
    "peak_flops",
    "step_cost",
    "step_flops",
]
