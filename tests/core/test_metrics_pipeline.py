"""Buffering, batched conversion and running means."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pytest

from trainscope import MetricValueError, TrainingSession


def train_steps(recorder: Any, values: list[Any], *, interval: float = 60.0, **metrics: Any) -> None:
    with TrainingSession("Net", 1, len(values), plugins=[recorder], refresh_interval=interval) as s:
        s.start_epoch(1)
        for step, value in enumerate(values, 1):
            s.update_training_progress(step, value, **metrics)


def test_update_only_buffers_until_the_refresh_interval(recorder: Any) -> None:
    with TrainingSession("Net", 1, 100, plugins=[recorder], refresh_interval=60) as s:
        s.start_epoch(1)
        for step in range(1, 101):
            s.update_training_progress(step, 0.5)
        assert "progress" not in recorder.hooks()
    assert [e for e in recorder.events if e[0] == "progress"] == [("progress", "train", 100)]


def test_every_step_reaches_reporters_exactly_once_in_order(recorder: Any) -> None:
    with TrainingSession("Net", 2, 50, 20, plugins=[recorder], refresh_interval=0) as s:
        for epoch in (1, 2):
            s.start_epoch(epoch)
            for step in range(1, 51):
                s.update_training_progress(step, float(step))
            s.start_validation()
            for step in range(1, 21):
                s.update_validation_progress(step, float(step))
    for epoch in (1, 2):
        train = [r.step for phase, e, r in recorder.records if phase == "train" and e == epoch]
        val = [r.step for phase, e, r in recorder.records if phase == "validation" and e == epoch]
        assert train == list(range(1, 51))
        assert val == list(range(1, 21))
    assert recorder.hooks().count("progress") == 2 * (50 + 20)


def test_records_carry_floats_and_wall_clock_time(recorder: Any) -> None:
    import time

    before = time.time()
    train_steps(recorder, [np.float32(0.25), np.array(0.5), 1], precision=np.float64(0.75))
    after = time.time()
    metrics = [r.metrics for _, _, r in recorder.records]
    assert metrics == [
        {"loss": 0.25, "precision": 0.75},
        {"loss": 0.5, "precision": 0.75},
        {"loss": 1.0, "precision": 0.75},
    ]
    assert all(type(v) is float for m in metrics for v in m.values())
    assert all(before - 1 <= r.time <= after + 1 for _, _, r in recorder.records)


def test_running_means_are_the_phase_means(recorder: Any) -> None:
    with TrainingSession("Net", 1, 4, 2, plugins=[recorder], refresh_interval=0) as s:
        s.start_epoch(1)
        for step, (loss, acc) in enumerate([(4.0, 0.0), (2.0, 0.5), (3.0, 1.0), (1.0, 0.5)], 1):
            s.update_training_progress(step, loss, acc)
        s.start_validation()
        s.update_validation_progress(1, {"loss": 2.0, "accuracy": 1.0, "f1": 0.5})
        s.update_validation_progress(2, {"loss": 4.0, "accuracy": 0.0, "f1": 0.25})
    assert recorder.phase_means == [
        ("train", 1, {"loss": 2.5, "accuracy": 0.5}),
        ("validation", 1, {"loss": 3.0, "accuracy": 0.5, "f1": 0.375}),
    ]


def test_nan_metrics_pass_through_as_nan(recorder: Any) -> None:
    train_steps(recorder, [float("nan"), 1.0])
    ((_, _, means),) = recorder.phase_means
    assert math.isnan(recorder.records[0][2].metrics["loss"])
    assert math.isnan(means["loss"])


@pytest.mark.parametrize("form", ["positional", "dict", "keywords"])
def test_metric_call_forms_are_equivalent(recorder: Any, form: str) -> None:
    with TrainingSession("Net", 1, 1, plugins=[recorder], refresh_interval=60) as s:
        s.start_epoch(1)
        if form == "positional":
            s.update_training_progress(1, 0.5, 0.25, recall=0.125)
        elif form == "dict":
            s.update_training_progress(1, {"loss": 0.5, "accuracy": 0.25, "recall": 0.125})
        else:
            s.update_training_progress(1, loss=0.5, accuracy=0.25, recall=0.125)
    assert recorder.records[0][2].metrics == {"loss": 0.5, "accuracy": 0.25, "recall": 0.125}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"loss": "high"}, "'loss'"),
        ({"f1_score": None, "precision": [1, 2]}, "'precision'"),
        ({"recall": np.array([0.1, 0.2])}, "'recall'.*shape"),
        ({"accuracy": object()}, "'accuracy'"),
    ],
)
def test_a_value_that_is_not_a_number_names_the_metric(recorder: Any, kwargs: Any, message: str) -> None:
    with TrainingSession("Net", 1, 1, plugins=[recorder]) as s:
        s.start_epoch(1)
        with pytest.raises(MetricValueError, match=message):
            s.update_training_progress(1, **kwargs)


def test_metric_given_twice_is_refused(recorder: Any) -> None:
    with TrainingSession("Net", 1, 1, plugins=[recorder]) as s:
        s.start_epoch(1)
        with pytest.raises(TypeError, match="'loss' given twice"):
            s.update_training_progress(1, 0.5, loss=0.4)


def test_step_must_be_an_integer(recorder: Any) -> None:
    with TrainingSession("Net", 1, 1, plugins=[recorder]) as s:
        s.start_epoch(1)
        s.update_training_progress(np.int64(1), 0.5)
        with pytest.raises(TypeError, match="step must be an integer"):
            s.update_training_progress(1.5, 0.5)  # type: ignore[arg-type]


def test_jax_arrays_are_converted_in_one_batch_per_flush(
    recorder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    jax = pytest.importorskip("jax")
    import trainscope.metrics

    jnp = jax.numpy
    batches: list[int] = []
    real_fetch = trainscope.metrics.fetch_scalars

    def counting_fetch(arrays: list[Any]) -> list[float]:
        batches.append(len(arrays))
        return real_fetch(arrays)

    monkeypatch.setattr(trainscope.metrics, "fetch_scalars", counting_fetch)
    losses = [jnp.asarray(i / 10, dtype=jnp.float32) for i in range(1, 41)]
    train_steps(recorder, losses, accuracy=jnp.asarray(0.5))
    assert batches == [80]
    got = [r.metrics["loss"] for _, _, r in recorder.records]
    assert got == pytest.approx([i / 10 for i in range(1, 41)])
    assert [r.metrics["accuracy"] for _, _, r in recorder.records] == [0.5] * 40


@pytest.mark.parametrize("count", [1, 3, 256, 257, 600])
def test_device_scalars_of_any_dtype_and_count_come_back_in_order(count: int) -> None:
    jax = pytest.importorskip("jax")
    from trainscope.device_arrays import fetch_scalars

    jnp = jax.numpy
    makers = [
        lambda i: jnp.asarray(i, dtype=jnp.float32),
        lambda i: jnp.asarray(i, dtype=jnp.int32),
        lambda i: jnp.asarray([i], dtype=jnp.float32),
        lambda i: jnp.asarray(i % 2 == 0),
    ]
    arrays = [makers[i % 4](i) for i in range(count)]
    expected = [float(i % 2 == 0) if i % 4 == 3 else float(i) for i in range(count)]
    assert fetch_scalars(arrays) == expected


def test_flushes_of_every_size_compile_two_stacks_at_most() -> None:
    jax = pytest.importorskip("jax")
    from trainscope.device_arrays import _stacker, fetch_scalars

    jnp = jax.numpy
    arrays = [jnp.asarray(i, dtype=jnp.float16) for i in range(600)]  # a dtype no other test stacks
    before = _stacker()._cache_size()
    for count in (1, 2, 3, 5, 9, 17, 33, 65, 129, 257, 600):
        assert fetch_scalars(arrays[:count]) == [float(i) for i in range(count)]
    assert _stacker()._cache_size() - before <= 2


@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "float8_e4m3fn", "float8_e5m2"])
def test_low_precision_floats_are_numbers(recorder: Any, dtype: str) -> None:
    jax = pytest.importorskip("jax")
    from trainscope.metrics import check_metric

    device = jax.numpy.asarray(1.5, dtype=dtype)
    host = np.asarray(device)  # ml_dtypes types: NumPy gives most of them kind "V"
    check_metric("grad_norm", device)
    check_metric("grad_norm", host)
    train_steps(recorder, [device, host], grad_norm=host)
    assert [r.metrics for _, _, r in recorder.records] == [{"loss": 1.5, "grad_norm": 1.5}] * 2
    with pytest.raises(MetricValueError, match="single number"):
        check_metric("grad_norm", np.stack([host, host]))


@pytest.mark.filterwarnings("ignore:optax.global_norm is deprecated:DeprecationWarning")
def test_the_global_norm_of_bfloat16_gradients_is_a_metric(recorder: Any) -> None:
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    from trainscope.metrics import check_metric

    grads = {"w": jax.numpy.full((3, 4), 0.5, dtype="bfloat16")}
    norm = optax.global_norm(grads)
    assert norm.dtype == jax.numpy.bfloat16
    check_metric("grad_norm", norm)
    train_steps(recorder, [0.25], grad_norm=norm)
    assert [r.metrics for _, _, r in recorder.records] == [{"loss": 0.25, "grad_norm": float(norm)}]
    assert float(norm) == pytest.approx(12**0.5 / 2, rel=1e-2)


class DeviceScalar:
    """A one-element device value whose computation finishes when the test says so."""

    dtype = np.dtype("float32")
    shape = ()

    def __init__(self, value: float, done: bool) -> None:
        self.value, self.done = value, done

    def is_ready(self) -> bool:
        return self.done

    def item(self) -> float:
        self.done = True  # reading waits for the device
        return self.value


def test_timed_flushes_report_only_steps_the_device_has_computed(recorder: Any) -> None:
    pytest.importorskip("jax")  # readiness is checked while JAX is in use
    values = [DeviceScalar(float(i), done=i <= 3) for i in range(1, 9)]
    with TrainingSession("Net", 1, 8, plugins=[recorder], refresh_interval=0) as s:
        s.start_epoch(1)
        for step in range(1, 6):
            s.update_training_progress(step, values[step - 1])
        assert [r.step for _, _, r in recorder.records] == [1, 2, 3]
        values[3].done = values[4].done = True
        for step in range(6, 9):
            s.update_training_progress(step, values[step - 1])
        assert [r.step for _, _, r in recorder.records] == [1, 2, 3, 4, 5]
    assert [r.step for _, _, r in recorder.records] == list(range(1, 9))
    assert [r.metrics["loss"] for _, _, r in recorder.records] == [float(i) for i in range(1, 9)]


def test_a_step_beyond_64_bits_is_refused_only_once_the_device_reached_it(recorder: Any) -> None:
    pytest.importorskip("jax")  # readiness is checked while JAX is in use
    values = [DeviceScalar(float(i), done=False) for i in range(1, 4)]
    with TrainingSession("Net", 1, 3, plugins=[recorder], refresh_interval=0) as s:
        s.start_epoch(1)
        s.update_training_progress(1, values[0])
        s.update_training_progress(2, values[1])
        values[0].done = True
        s.update_training_progress(2**64, values[2])
        assert [r.step for _, _, r in recorder.records] == [1]  # step 2 is not computed yet
        with pytest.raises(ValueError, match=r"step must fit in 64 bits"):
            s.finish_training_epoch()
    steps_and_times = [(r.step, r.time) for _, _, r in recorder.records]
    assert [step for step, _ in steps_and_times] == [1, 2]
    assert all(isinstance(time, float) for _, time in steps_and_times)


def test_long_buffers_are_reported_in_bounded_batches(recorder: Any) -> None:
    from trainscope.session import MAX_BATCH

    steps = 3 * MAX_BATCH + 5
    with TrainingSession("Net", 1, steps, plugins=[recorder], refresh_interval=60) as s:
        s.start_epoch(1)
        for step in range(1, steps + 1):
            s.update_training_progress(step, 0.5)
    sizes = [event[2] for event in recorder.events if event[0] == "progress"]
    assert sizes == [MAX_BATCH, MAX_BATCH, MAX_BATCH, 5]
    assert [r.step for _, _, r in recorder.records] == list(range(1, steps + 1))


def test_step_records_offer_columns_and_records(recorder: Any) -> None:
    with TrainingSession("Net", 1, 2, plugins=[recorder], refresh_interval=60) as s:
        s.start_epoch(1)
        s.update_training_progress(1, 0.5, f1=0.25)
        s.update_training_progress(2, 0.75)
    (_, _, first), (_, _, second) = recorder.records
    assert (first.metrics, second.metrics) == ({"loss": 0.5, "f1": 0.25}, {"loss": 0.75})


def test_step_records_columns() -> None:
    from trainscope import StepRecord, StepRecords

    records = StepRecords([1, 2], [10.0, 11.0], {"loss": [0.5, 0.75], "f1": [0.25, None]})
    assert len(records) == 2
    assert records[1] == StepRecord(2, {"loss": 0.75}, 11.0)
    assert list(records) == [StepRecord(1, {"loss": 0.5, "f1": 0.25}, 10.0), records[1]]
    assert records.metric_dicts() == [{"loss": 0.5, "f1": 0.25}, {"loss": 0.75}]


def test_a_device_step_is_timed_when_its_values_were_known_not_when_it_was_dispatched(
    recorder: Any,
) -> None:
    jax = pytest.importorskip("jax")
    jnp = jax.numpy

    @jax.jit
    def slow_step(x: Any) -> Any:
        def body(_: Any, y: Any) -> Any:
            return jnp.tanh(y @ y) * 0.5

        y = jax.lax.fori_loop(0, 24, body, x)
        return y, y[0, 0]  # a new state and its "loss", as a training step returns them

    x, loss = slow_step(jnp.ones((512, 512), jnp.float32) / 512)
    loss.block_until_ready()  # compiled
    started = time.perf_counter()
    slow_step(x)[1].block_until_ready()
    one_step = time.perf_counter() - started
    with TrainingSession("Net", 1, None, plugins=[recorder], refresh_interval=3600) as session:
        session.start_epoch(1)
        started = time.perf_counter()
        for step in range(1, 6):
            x, loss = slow_step(x)
            session.update_training_progress(step, loss)
        dispatched_in = time.perf_counter() - started
    times = [record.time for _, _, record in recorder.records]
    assert len(times) == 5
    assert times == sorted(times)
    # dispatching took far less than computing, and the logged times follow the device (4 steps apart)
    assert dispatched_in < one_step
    assert times[-1] - times[0] >= 2 * one_step
