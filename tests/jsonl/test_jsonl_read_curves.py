"""``read_curves``: each metric against a global training step that is monotonic over the run."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import orjson
import pytest

from trainscope_jsonl import GlobalStep, Series, read_curves
from trainscope_jsonl.curves import MAX_METRICS

RUN_ID = "3ab1ac0a517746cbb87fbd9409408d54"


def ev(event: str, /, **fields: Any) -> dict[str, Any]:
    return {"event": event, "run_id": RUN_ID, "time": 1778312112.0, **fields}


def step(epoch: int, number: int, loss: float | str, phase: str = "train") -> dict[str, Any]:
    return ev("step", epoch=epoch, phase=phase, step=number, metrics={"loss": loss})


def phase_end(epoch: int, phase: str, loss: float) -> dict[str, Any]:
    return ev("phase_end", epoch=epoch, phase=phase, steps=1, means={"loss": loss}, duration=0.1, rate=None)


def write_log(path: Path, events: list[dict[str, Any]]) -> Path:
    start = ev("run_start", schema_version=1, name="StepRun", epochs=1)
    path.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in [start, *events]))
    return path


def test_epoch_based_steps_restart_each_epoch_and_are_counted_across(tmp_path: Path) -> None:
    events = []
    for epoch, losses in ((1, [0.9, 0.8, 0.7]), (2, [0.6, 0.5, 0.4])):
        events += [step(epoch, number, loss) for number, loss in enumerate(losses, start=1)]
        events += [step(epoch, 1, 0.65, "validation"), phase_end(epoch, "validation", 0.65 / epoch)]
        events.append(
            ev("epoch_end", epoch=epoch, train={"loss": sum(losses) / 3}, validation=None, duration=1)
        )
    curves = read_curves(write_log(tmp_path / "run.jsonl", events))
    assert curves.training_steps("loss") == ([1, 2, 3, 4, 5, 6], [0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    xs, ys = curves.training_means("loss")
    assert xs == [3, 6]
    assert ys == pytest.approx([0.8, 0.5])
    assert curves.validation("loss") == ([3, 6], [0.65, 0.325])
    assert curves.metrics == ["loss"]


def test_step_based_validation_in_the_middle_of_training(tmp_path: Path) -> None:
    """One epoch, training continuing after each validation: validation sits where it ran."""
    events = [ev("phase_start", epoch=1, phase="train", total=None)]
    for chunk in range(3):
        events += [step(1, chunk * 100 + number, 1.0 / (chunk + 1)) for number in range(1, 101)]
        events += [ev("phase_start", epoch=1, phase="validation", total=5), step(1, 1, 9.0, "validation")]
        events.append(phase_end(1, "validation", 0.5 - chunk / 10))
        events.append(ev("phase_start", epoch=1, phase="train", total=None))  # training resumes
    events.append(phase_end(1, "train", 0.6))
    curves = read_curves(write_log(tmp_path / "run.jsonl", events))
    xs, ys = curves.training_steps("loss")
    assert xs == list(range(1, 301))
    assert ys[99:101] == [1.0, 0.5]
    assert curves.validation("loss") == ([100, 200, 300], [0.5, 0.4, 0.3])
    assert curves.summary.training_steps == 300


def test_steps_reported_sparsely_keep_their_spacing(tmp_path: Path) -> None:
    events = [step(epoch, number, 1.0) for epoch in (1, 2) for number in (10, 20, 30)]
    curves = read_curves(write_log(tmp_path / "run.jsonl", events))
    assert curves.training_steps("loss")[0] == [10, 20, 30, 40, 50, 60]


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        ([1, 2, 3, 1, 2, 3], [1, 2, 3, 4, 5, 6]),
        ([0, 1, 2, 0, 1, 2], [1, 2, 3, 4, 5, 6]),
        ([1, 1, 1], [1, 2, 3]),
        ([5, 3, 4], [5, 8, 9]),
        ([-1, -1], [1, 2]),
        ([100, 200, 50], [100, 200, 250]),
    ],
)
def test_global_step_is_strictly_increasing(reported: list[int], expected: list[int]) -> None:
    counter = GlobalStep()
    assert [counter.advance(number) for number in reported] == expected


def test_validation_steps_do_not_move_the_training_step(tmp_path: Path) -> None:
    events = [step(1, 1, 1.0), *[step(1, n, 2.0, "validation") for n in range(1, 50)], step(1, 2, 3.0)]
    curves = read_curves(write_log(tmp_path / "run.jsonl", events))
    assert curves.training_steps("loss") == ([1, 2], [1.0, 3.0])
    assert curves.summary.steps == 51


def test_non_finite_values_become_gaps(tmp_path: Path) -> None:
    events = [step(1, 1, 1.0), step(1, 2, "NaN"), step(1, 3, "Infinity"), step(1, 4, 0.5)]
    xs, ys = read_curves(write_log(tmp_path / "run.jsonl", events)).training_steps("loss")
    assert xs == [1, 2, 3, 4]
    assert ys[0] == 1.0
    assert math.isnan(ys[1])
    assert math.isnan(ys[2])
    assert ys[3] == 0.5


def test_series_merges_neighbours_into_means_past_its_bound() -> None:
    series = Series(max_points=2)
    for x in range(1, 11):
        series.add(x, 10.0 * x)
    assert series.bucket == 4
    assert series.points() == ([2.5, 6.5, 9.5], [25.0, 65.0, 95.0])
    assert len(series) == 3


def test_series_means_skip_non_finite_values() -> None:
    series = Series(max_points=1)
    for x, y in [(1, 1.0), (2, math.nan), (3, math.nan), (4, math.nan)]:
        series.add(x, y)
    xs, ys = series.points()
    assert xs == [2.5]
    assert ys == [1.0]
    series.add(5, math.nan)
    assert math.isnan(series.points()[1][-1])


def test_series_stays_bounded_on_a_long_run() -> None:
    series = Series(max_points=100)
    for x in range(1, 100_001):
        series.add(x, 1.0)
    xs, ys = series.points()
    assert 100 <= len(xs) <= 200 + 1
    assert xs == sorted(xs)
    assert xs[0] == pytest.approx((series.bucket + 1) / 2)
    assert set(ys) == {1.0}


def test_series_rejects_a_bound_below_one() -> None:
    with pytest.raises(ValueError, match="max_points must be at least 1"):
        Series(max_points=0)


def test_read_curves_bounds_the_points_it_keeps(tmp_path: Path) -> None:
    events = [step(1, number, float(number)) for number in range(1, 1001)]
    xs, ys = read_curves(write_log(tmp_path / "run.jsonl", events), max_points=50).training_steps("loss")
    assert 50 <= len(xs) <= 100
    assert xs == ys  # y equal to x: every bucket's mean matches


def test_at_most_max_metrics_are_kept(tmp_path: Path) -> None:
    metrics = {f"m{index:02d}": 1.0 for index in range(MAX_METRICS + 4)}
    events = [ev("step", epoch=1, phase="train", step=1, metrics={"loss": 1.0, **metrics})]
    curves = read_curves(write_log(tmp_path / "run.jsonl", events))
    assert len(curves.metrics) == MAX_METRICS
    assert curves.metrics[0] == "loss"
    assert curves.metrics_cut
