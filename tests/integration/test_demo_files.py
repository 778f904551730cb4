"""``trainscope demo`` writes nothing unless asked: its run files go to a temporary folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from trainscope import create_plugin_manager, hookimpl


def demo(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TRAINSCOPE_", "MLFLOW_"))}
    env["TRAINSCOPE_DISABLE_PLUGINS"] = (
        "mlflow"  # slow to import: the demo's mlflow test checks it is left out
    )
    command = [sys.executable, "-m", "trainscope", "demo", "--epochs", "1", "--steps", "4"]
    return subprocess.run(
        [*command, "--step-seconds", "0", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_the_demo_leaves_no_file_behind(tmp_path: Path) -> None:
    done = demo(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Epoch 1/1 Summary:" in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_the_demo_keeps_its_files_where_asked(tmp_path: Path) -> None:
    done = demo(tmp_path, "--log-dir", "kept")
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "kept").glob("*.jsonl"))) == 1


class Tracker:
    """A reporter writing to a store of its own."""

    trainscope_external_store = True

    @hookimpl
    def trainscope_train_start(self) -> None:
        pass


def test_reporters_with_a_store_of_their_own_are_named() -> None:
    manager = create_plugin_manager(plugins=[Tracker()])
    assert manager.external_store_names() == ["Tracker"]


@pytest.mark.parametrize("value", [False, "yes"])
def test_only_true_marks_an_external_store(value: object) -> None:
    tracker = Tracker()
    tracker.trainscope_external_store = value  # type: ignore[assignment]
    assert create_plugin_manager(plugins=[tracker]).external_store_names() == []


def test_the_demo_leaves_mlflow_out_unless_it_keeps_its_files(tmp_path: Path) -> None:
    pytest.importorskip("trainscope_mlflow")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TRAINSCOPE_", "MLFLOW_"))}
    env["TRAINSCOPE_PLUGINS"] = "mlflow,summary"
    command = [
        sys.executable,
        "-m",
        "trainscope",
        "demo",
        "--epochs",
        "1",
        "--steps",
        "2",
        "--step-seconds",
        "0",
    ]
    done = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Run files:" not in done.stdout  # MLflow was left out: nothing was written
    assert list(tmp_path.iterdir()) == []
