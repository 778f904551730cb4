"""Fixtures for the tensorboard reporter tests: a run folder and TensorBoard's own reader."""

from __future__ import annotations

from pathlib import Path

import pytest
from tensorboard.backend.event_processing import event_accumulator

from trainscope import environment_variables as core_env
from trainscope_tensorboard import environment_variables as env_vars


@pytest.fixture
def tensorboard_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "tensorboard"
    monkeypatch.setenv(env_vars.TRAINSCOPE_TENSORBOARD_DIR, str(directory))
    for name in (
        core_env.TRAINSCOPE_STRICT,
        core_env.TRAINSCOPE_PLUGINS,
        core_env.TRAINSCOPE_DISABLE_PLUGINS,
    ):
        monkeypatch.delenv(name, raising=False)
    return directory


def read_events(run_folder: str | Path) -> event_accumulator.EventAccumulator:
    """Every event of a run folder, as TensorBoard loads it (no sampling)."""
    accumulator = event_accumulator.EventAccumulator(
        str(run_folder), size_guidance={event_accumulator.SCALARS: 0, event_accumulator.TENSORS: 0}
    )
    return accumulator.Reload()


def scalars(accumulator: event_accumulator.EventAccumulator) -> dict[str, list[tuple[int, float]]]:
    """Tag -> ``(step, value)`` of every scalar, in file order."""
    return {
        tag: [(event.step, event.value) for event in accumulator.Scalars(tag)]
        for tag in accumulator.Tags()["scalars"]
    }


def text(accumulator: event_accumulator.EventAccumulator, tag: str) -> str:
    """The (last) text logged under ``tag``."""
    (*_, event) = accumulator.Tensors(f"{tag}/text_summary")
    return str(event.tensor_proto.string_val[0].decode())


def assert_series(got: list[tuple[int, float]], expected: list[tuple[int, float]]) -> None:
    """Same steps, and the same values to float32 precision (TensorBoard stores scalars as float32)."""
    assert [step for step, _ in got] == [step for step, _ in expected]
    assert [value for _, value in got] == pytest.approx([value for _, value in expected], rel=1e-6)
