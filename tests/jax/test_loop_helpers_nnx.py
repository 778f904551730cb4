"""docs/loops.md: the Flax NNX tutorial loop, untouched and instrumented, on the embedded digits."""

from __future__ import annotations

import math
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from trainscope import TrainingSession
from trainscope import environment_variables as env_vars

flax = pytest.importorskip("flax", minversion="0.11", reason="the tutorial's nnx.Optimizer(wrt=...) API")
from trainscope_jsonl import read_run  # noqa: E402

DOC = Path(__file__).resolve().parents[2] / "docs" / "loops.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def run_blocks(*blocks: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    return namespace


def floats(history: dict[str, list[Any]]) -> dict[str, list[float]]:
    return {key: [float(value) for value in values] for key, values in history.items()}


def test_the_instrumented_tutorial_reports_exactly_what_the_tutorial_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup, untouched, instrumented = python_blocks()[-3:]
    added = [line for line in instrumented.splitlines() if line.rstrip().endswith("# +")]
    assert len(added) <= 5
    # the instrumented loop is the tutorial's, indented under `with session:`, and nothing else changed
    assert (
        textwrap.dedent(instrumented.split("with session:  # +\n")[1])
        == "for " + untouched.split("\nfor ", 1)[1]
    )
    history_setup = untouched.split("\nfor ", 1)[0].split("\n", 1)[1]  # without the heading comment
    assert history_setup in instrumented
    tutorial = run_blocks(setup, untouched)
    monkeypatch.setenv(env_vars.TRAINSCOPE_PLUGINS, "jsonl")
    monkeypatch.setenv(env_vars.TRAINSCOPE_LOG_DIR, str(tmp_path))
    reported = run_blocks(setup, instrumented)
    assert isinstance(reported["session"], TrainingSession)

    # the instrumentation changes nothing in the training itself
    assert floats(reported["metrics_history"]) == floats(tutorial["metrics_history"])

    history = floats(reported["metrics_history"])
    (log_path,) = tmp_path.glob("*.jsonl")
    log = read_run(log_path)
    evaluations = list(log.of("evaluation_end"))
    assert [evaluation["step"] for evaluation in evaluations] == [101, 201, 301, 400]
    for i, evaluation in enumerate(evaluations):
        for metric in ("loss", "accuracy"):
            assert math.isclose(evaluation["train"][metric], history[f"train_{metric}"][i], rel_tol=1e-6)
            assert math.isclose(evaluation["validation"][metric], history[f"test_{metric}"][i], rel_tol=1e-6)
    assert history["test_accuracy"][-1] > 0.9
    steps = [event["step"] for event in log.of("step") if event["phase"] == "train"]
    assert steps == list(range(1, 401))
    assert log.status == "completed"
