"""``trainscope train`` with bad input: one clear line, never a traceback, no lost log."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from trainscope import create_plugin_manager, hookimpl
from trainscope import environment_variables as env_vars
from trainscope.cli import CliContext, build_cli

TINY = ["--model", "mlp", "--epochs", "1", "--batch-size", "64", "--platform", "cpu"]


def invoke(args: list[str], *plugins: object, strict: bool = False) -> Result:
    manager = create_plugin_manager(plugins=[*plugins, "jax"], strict=strict)
    return CliRunner().invoke(build_cli(manager), args, obj=CliContext(manager, []))


def trainscope(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, env_vars.TRAINSCOPE_PLATFORM: "cpu", **env}
    return subprocess.run(
        [sys.executable, "-m", "trainscope", *args], capture_output=True, text=True, env=environ, timeout=300
    )


def write_folder(root: Path, classes: tuple[str, ...] = ("a", "b"), count: int = 4) -> None:
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(np.full((8, 8, 3), 30 * i, np.uint8)).save(root / name / f"{i}.png")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seed", "-1"], "-1 is not in the range x>=0"),
        (["--seed", str(2**40)], f"{2**40} is too large: seeds are 32-bit (at most 4294967295)"),
        (["--lr", "nan"], "'nan' is not a finite number"),
        (["--lr", "inf"], "'inf' is not a finite number"),
        (["--epochs", "99999999999999999999999"], "is too large: epochs are counted in 64 bits"),
        (["--batch-size", str(2**31)], "is too large: a batch is indexed with 32-bit integers"),
        (["--image-size", "32x32"], "--image-size applies to image folders only"),
    ],
)
def test_bad_options_get_one_clear_line(args: list[str], message: str) -> None:
    result = invoke(["train", *TINY, *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_validation_folder_without_train_is_not_taken_as_a_class(tmp_path: Path) -> None:
    write_folder(tmp_path, ("a", "b", "validation"))
    result = invoke(["train", *TINY, "--data", str(tmp_path)])
    assert result.exit_code == 2
    assert "has a validation/ folder but no train/ folder" in result.output


def test_a_train_folder_alone_is_split(tmp_path: Path) -> None:
    write_folder(tmp_path / "train", ("a", "b"), count=6)
    result = invoke(["train", *TINY, "--batch-size", "4", "--data", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Trained MLP" in result.output


def png_claiming_size(path: Path, width: int, height: int) -> None:
    """A real 1x1 PNG whose header says ``width`` x ``height`` (a decompression bomb's header)."""
    Image.new("L", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr : ihdr + 17]))
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", crc)
    path.write_bytes(bytes(data))


def test_a_decompression_bomb_is_refused_before_training(tmp_path: Path) -> None:
    write_folder(tmp_path)
    png_claiming_size(tmp_path / "a" / "bomb.png", 20000, 20000)
    result = invoke(["train", *TINY, "--data", str(tmp_path), "--image-size", "8"])
    assert result.exit_code == 2
    assert "bomb.png' is too large to decode safely" in result.output
    assert "Epoch 1/1" not in result.output


def test_a_truncated_png_is_found_before_training(tmp_path: Path) -> None:
    write_folder(tmp_path)
    broken = tmp_path / "b" / "broken.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (8, 8, 3), np.uint8)).save(broken)
    broken.write_bytes(broken.read_bytes()[:-30])
    result = invoke(["train", *TINY, "--data", str(tmp_path)])
    assert result.exit_code == 2
    assert "cannot read image" in result.output
    assert "broken.png" in result.output
    assert "Epoch 1/1" not in result.output


class OutOfMemory:
    """Fails the way XLA does when the device memory runs out."""

    @hookimpl
    def trainscope_epoch_start(self) -> None:
        raise RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 17179869184 bytes.")


def test_out_of_device_memory_says_what_to_reduce() -> None:
    result = invoke(["train", *TINY], OutOfMemory(), strict=True)
    assert result.exit_code == 1
    assert "the model does not fit in the memory of" in result.output
    assert "reduce --batch-size" in result.output


def test_the_run_log_path_is_printed_at_the_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env_vars.TRAINSCOPE_LOG_DIR, str(tmp_path))
    result = invoke(["train", *TINY], "jsonl")
    assert result.exit_code == 0, result.output
    (log,) = tmp_path.glob("*.jsonl")
    assert f"Run log: {log}" in result.output


def test_with_the_summary_the_run_files_are_listed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(env_vars.TRAINSCOPE_LOG_DIR, str(tmp_path))
    result = invoke(["train", *TINY], "jsonl", "tensorboard", "summary")
    assert result.exit_code == 0, result.output
    (log,) = tmp_path.glob("*.jsonl")
    (events,) = (tmp_path / "tensorboard").iterdir()
    assert f"Run files:\n  log          {log}\n  TensorBoard  {events}\n" in result.output
    assert "Run log:" not in result.output
    assert result.output.count(str(log)) == 1


def test_an_unwritable_log_folder_is_one_line_without_a_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = trainscope(
        "train", *TINY, TRAINSCOPE_LOG_DIR=str(blocker / "logs"), TRAINSCOPE_PLUGINS="jax,jsonl,summary"
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"Error: trainscope-jsonl cannot create the run log '{blocker}/logs/" in result.stderr
    assert f"'{blocker}' is a file, not a folder" in result.stderr


def test_a_command_of_a_blocked_plugin_names_the_plugin() -> None:
    result = trainscope("train", TRAINSCOPE_PLUGINS="jsonl")
    assert result.returncode == 2
    assert "No such command 'train': it is provided by the plugin 'jax' (trainscope-jax)" in result.stderr
    assert "not listed in TRAINSCOPE_PLUGINS" in result.stderr
