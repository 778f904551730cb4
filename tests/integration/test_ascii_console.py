"""On a console that can only encode ASCII, every reporter degrades instead of being disabled."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

RUN = """
from trainscope import TrainingSession
from trainscope.demo import demo_model

spec = demo_model()
with TrainingSession("R\\u00e9seau", 1, 5, 2, model=spec, plugins=["tqdm", "arch", "summary", "jsonl"]) as s:
    s.start_epoch(1)
    for step in range(1, 6):
        s.update_training_progress(step, 0.5, 0.5, **{"\\u03bb": 0.1})
    s.start_validation()
    for step in range(1, 3):
        s.update_validation_progress(step, 0.25, 0.75)
"""


def test_an_ascii_console_gets_every_reporter_with_escaped_characters(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "TRAINSCOPE_LOG_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", RUN], env=env, capture_output=True, timeout=300, check=False)
    out, err = done.stdout.decode("ascii"), done.stderr.decode("ascii")  # nothing but ASCII came out
    assert done.returncode == 0, err
    assert "PluginWarning" not in err
    assert "UnicodeEncodeError" not in err
    assert "Model Architecture:\nR\\xe9seau(" in out
    assert "Training   - Loss: 0.5000, Accuracy: 50.00%, \\u03bb: 0.1000" in out
    assert "Validation - Loss: 0.2500, Accuracy: 75.00%" in out
    assert "Best epoch: 1/1" in out
    assert "|#" in err  # the bars draw with ASCII characters
