"""A run of 1,200 steps validated every 200, on a pseudo-terminal: one training bar, a bar per evaluation."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

STEP_RUN = """
import trainscope

session = trainscope.TrainingSession(
    "Net", total_steps=1200, validation_steps=10, plugins=["tqdm", "summary", "jsonl"],
    refresh_interval=0.002, strict=True,
)
with session:
    for step in range(1, 1201):
        session.update_training_progress(step, 1.0 / step, step / 1200, batch_size=32)
        if step % 200 == 0:
            session.start_validation()
            for v in range(1, 11):
                session.update_validation_progress(v, 0.5, 0.75, batch_size=16)
            session.finish_validation_epoch()
"""

TIMES = r"\[\d\d:\d\d<\d\d:\d\d, (?:\s*[\d.]+|\?)(?:batch/s|s/batch), "


def test_one_training_bar_reaches_the_total_and_each_evaluation_has_its_bar_and_summary(
    pty_run: Callable[..., str], screen: Callable[[str], list[str]], tmp_path: Path
) -> None:
    lines = screen(pty_run(STEP_RUN, env={"TRAINSCOPE_LOG_DIR": str(tmp_path)}))
    training = [line for line in lines if line.startswith("Training")]
    assert len(training) == 1, "\n".join(lines)
    assert re.fullmatch(
        r"Training: 100%\|█{70}\| 1200/1200 " + TIMES + r"loss=.*, accuracy=.*\]", training[0]
    )
    validations = [line for line in lines if line.startswith("Validation")]
    assert [re.match(r"Validation \(step (\d+)/1200\): 100%", line).group(1) for line in validations] == [  # type: ignore[union-attr]
        str(step) for step in range(200, 1201, 200)
    ]
    headings = [line for line in lines if line.endswith("Summary:")]
    assert headings == [f"Step {step}/1200 Summary:" for step in range(200, 1201, 200)]
    first = lines.index("Step 200/1200 Summary:")
    mean_of_first_200 = sum(1.0 / step for step in range(1, 201)) / 200
    assert lines[first + 1] == f"  Training   - Loss: {mean_of_first_200:.4f}, Accuracy: 8.38%"
    assert lines[first + 2] == "  Validation - Loss: 0.5000, Accuracy: 75.00%"
    # the training bar is drawn last, below the last evaluation, then the end-of-run line
    assert lines.index(training[0]) > lines.index("Step 1200/1200 Summary:")
    assert re.fullmatch(
        r"Best evaluation: step 200/1200 \(Validation Loss: 0\.5000\), total time: .*", lines[-3]
    )
    (log,) = tmp_path.glob("*.jsonl")
    assert lines[-2:] == ["Run files:", f"  log  {log}"]  # everything the run wrote, and where

    events = [json.loads(line) for line in log.read_text().splitlines()]
    kinds = [event["event"] for event in events]
    assert kinds[0] == "run_start"
    assert events[0]["total_steps"] == 1200
    assert events[0]["epochs"] is None
    assert kinds[-2:] == ["phase_end", "run_end"]
    assert kinds.count("evaluation_end") == 6
    assert "epoch_start" not in kinds
    assert "epoch_end" not in kinds
    train_steps = [e["step"] for e in events if e["event"] == "step" and e["phase"] == "train"]
    assert train_steps == list(range(1, 1201))  # every step exactly once, in order
    validation_steps = [e["step"] for e in events if e["event"] == "step" and e["phase"] == "validation"]
    assert validation_steps == list(range(1, 11)) * 6
    evaluation = events[kinds.index("evaluation_end")]
    assert evaluation["step"] == 200
    assert evaluation["validation"] == {"loss": 0.5, "accuracy": 0.75}
    # each validation's steps come between its phase_start and phase_end, after training step 200k
    for index, event in enumerate(events):
        if event["event"] == "phase_start" and event["phase"] == "validation":
            previous_train = [
                e["step"] for e in events[:index] if e["event"] == "step" and e["phase"] == "train"
            ]
            assert event["training_step"] == previous_train[-1]
            assert previous_train[-1] % 200 == 0
