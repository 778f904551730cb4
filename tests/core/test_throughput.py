"""FLOPs from XLA's cost analysis, examples/s, MFU only with a known peak, memory where reported."""

from __future__ import annotations

from typing import Any

import pytest

from trainscope import TrainingSession, peak_flops, step_flops
from trainscope import environment_variables as env_vars

from .conftest import Recorder

jax = pytest.importorskip("jax")
jnp = jax.numpy


def test_the_flops_of_a_linear_step_are_2_m_n_k() -> None:
    x, w = jnp.ones((32, 256), jnp.float32), jnp.ones((256, 128), jnp.float32)
    assert step_flops(jax.jit(lambda x, w: x @ w), x, w) == 2 * 32 * 256 * 128


@pytest.mark.parametrize("padding", ["VALID", "SAME"])
def test_the_flops_of_a_conv2d_step_are_2_x_the_multiply_adds(padding: str) -> None:
    x = jnp.ones((8, 16, 16, 3), jnp.float32)  # NHWC
    w = jnp.ones((3, 3, 3, 32), jnp.float32)  # HWIO

    def conv(x: Any, w: Any) -> Any:
        return jax.lax.conv_general_dilated(x, w, (1, 1), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))

    # VALID: each of the 14x14 outputs has 3x3 taps (per input and output channel). SAME: XLA
    # does not count the taps that fall on the zero padding: 46 valid row taps x 46 column taps.
    taps = 14 * 14 * (3 * 3) if padding == "VALID" else (16 * 3 - 2) ** 2
    assert step_flops(jax.jit(conv), x, w) == 2 * 8 * 32 * 3 * taps


def test_a_function_that_is_not_jitted_gets_a_clear_error() -> None:
    with pytest.raises(TypeError, match=r"has no lower\(\): pass a jitted function"):
        step_flops(lambda x: x, 1.0)


@pytest.mark.parametrize(
    ("kind", "dtype", "expected"),
    [
        ("NVIDIA H100 80GB HBM3", "bfloat16", 989.4e12),
        ("NVIDIA H100 PCIe", "bf16", 756.0e12),
        ("NVIDIA A100-SXM4-40GB", "float32", 19.5e12),
        ("Apple M2 Max", "float32", 13.6e12),
        ("TPU v4", "bfloat16", 275e12),
        ("TPU v4", "float32", None),
        ("cpu", "float32", None),
        (None, "float32", None),
    ],
)
def test_the_peak_comes_from_the_table_by_kind_and_dtype(
    kind: str | None, dtype: str, expected: float | None
) -> None:
    assert peak_flops(kind, dtype, environ={}) == expected


def test_the_peak_can_be_given_and_a_bad_one_is_refused() -> None:
    assert peak_flops("cpu", environ={env_vars.TRAINSCOPE_PEAK_TFLOPS: "2.5"}) == 2.5e12
    with pytest.raises(ValueError, match=r"TRAINSCOPE_PEAK_TFLOPS must be a number of TFLOP/s"):
        peak_flops("cpu", environ={env_vars.TRAINSCOPE_PEAK_TFLOPS: "fast"})


def run_epoch(recorder: Recorder, **flops: Any) -> Any:
    session = TrainingSession("Net", 1, 4, plugins=[recorder], refresh_interval=0)
    step = jax.jit(lambda x: (x * 2.0).sum())
    with session:
        if flops:
            session.set_step_flops(**flops)
        session.start_epoch(1)
        for i in range(1, 5):
            session.update_training_progress(i, step(jnp.ones(8)), batch_size=16)
    (summary,) = recorder.summaries
    return summary.throughput


def test_examples_per_second_come_from_the_batch_sizes(recorder: Recorder) -> None:
    throughput = run_epoch(recorder)
    (train,) = [phase for phase in recorder.ended_phases if phase.name == "train"]
    assert train.examples == 4 * 16
    assert throughput.examples_per_second == pytest.approx(4 * 16 / train.elapsed)
    assert throughput.flops_per_second is None
    assert throughput.mfu is None
    assert throughput.peak_memory_bytes is None  # the CPU reports no memory statistics


@pytest.mark.parametrize("refresh_interval", [0, 3600])  # each step flushed alone, or all together
def test_steps_without_a_batch_size_add_no_examples(refresh_interval: float, recorder: Recorder) -> None:
    with TrainingSession("Net", 1, 3, plugins=[recorder], refresh_interval=refresh_interval) as session:
        session.start_epoch(1)
        session.update_training_progress(1, 1.0)
        session.update_training_progress(2, 1.0)
        session.update_training_progress(3, 1.0, batch_size=32)
        session.finish_training_epoch()
        (train,) = recorder.ended_phases
        assert train.examples == 32


def test_mfu_only_with_a_known_peak(recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    throughput = run_epoch(recorder, flops=1e9)  # the CPU: no peak in the table
    assert throughput.flops_per_second == pytest.approx(4e9 / (64 / throughput.examples_per_second))
    assert throughput.mfu is None
    monkeypatch.setenv(env_vars.TRAINSCOPE_PEAK_TFLOPS, "0.001")
    given = run_epoch(Recorder(), flops=1e9)
    assert given.mfu == pytest.approx(given.flops_per_second / 1e9)


class FakeDevice:
    device_kind = "NVIDIA H100 80GB HBM3"

    def memory_stats(self) -> dict[str, int]:
        return {"bytes_in_use": 1_000, "peak_bytes_in_use": 312_000_000}


def test_peak_memory_and_the_device_kind_where_the_backend_reports_them(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jax, "local_devices", lambda: [FakeDevice()])
    throughput = run_epoch(recorder, flops=1e12, dtype="bfloat16")
    assert throughput.peak_memory_bytes == 312_000_000
    assert throughput.mfu == pytest.approx(throughput.flops_per_second / 989.4e12)


def test_set_step_flops_from_the_jitted_step(recorder: Recorder) -> None:
    session = TrainingSession("Net", 1, 1, plugins=[recorder])
    x, w = jnp.ones((4, 8)), jnp.ones((8, 2))
    assert session.set_step_flops(jax.jit(lambda x, w: x @ w), x, w) == 2 * 4 * 8 * 2
    with pytest.raises(ValueError, match="flops must be a positive number"):
        session.set_step_flops(-1.0)


def test_a_short_last_batch_costs_what_it_ran(recorder: Recorder) -> None:
    """The FLOPs of a jitted step are set once from a full batch; a short last batch costs its
    share, and exactly its own when its FLOPs are set too."""
    forward = jax.jit(lambda w, x: jnp.tanh(x @ w).sum())
    w = jnp.ones((64, 32))
    full, short = jnp.ones((32, 64)), jnp.ones((8, 64))
    exact = [step_flops(forward, w, x) for x in (full, short)]
    for both in (False, True):
        recorder.ended_phases.clear()
        with TrainingSession("Net", 1, 3, plugins=[recorder]) as session:
            session.set_step_flops(forward, w, full)  # batch size 32, from the batch
            if both:
                session.set_step_flops(forward, w, short)
            session.start_epoch(1)
            for step, x in enumerate((full, full, short), 1):
                session.update_training_progress(step, forward(w, x), batch_size=len(x))
        train = recorder.ended_phases[0]
        assert train.throughput is not None
        assert train.throughput.flops_per_second is not None
        ran = train.throughput.flops_per_second * train.elapsed
        assert ran == pytest.approx(2 * exact[0] + exact[1], rel=1e-9 if both else 0.01)
        assert ran < 3 * exact[0] * 0.8  # not three full batches
