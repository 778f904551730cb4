"""``trainscope train`` through the core's command line."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from trainscope import EpochSummary, create_plugin_manager, hookimpl
from trainscope.cli import CliContext, build_cli
from trainscope_jax import MODEL_NAMES, OPTIMIZER_NAMES
from trainscope_jax.devices.selection import REQUESTS
from trainscope_jax.train_command import MODEL_CHOICES, OPTIMIZER_CHOICES, PLATFORM_CHOICES

TINY = ["--model", "mlp", "--epochs", "1", "--batch-size", "64"]


def invoke(args: list[str], *plugins: object) -> Result:
    manager = create_plugin_manager(plugins=[*plugins, "jax"])
    return CliRunner().invoke(build_cli(manager), args, obj=CliContext(manager, []))


def write_folder(root: Path, sizes: dict[str, tuple[int, int]]) -> None:
    for name, size in sizes.items():
        (root / name).mkdir(parents=True)
        for i in range(6):
            pixels = np.full((*size, 3), 40 * i if name == "a" else 255 - 40 * i, np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")


def test_option_choices_match_the_package() -> None:
    assert MODEL_CHOICES == MODEL_NAMES
    assert OPTIMIZER_CHOICES == OPTIMIZER_NAMES
    assert PLATFORM_CHOICES == REQUESTS


def test_train_on_the_embedded_digits() -> None:
    result = invoke(["train", *TINY, "--platform", "cpu"])
    assert result.exit_code == 0, result.output
    assert "Trained MLP on cpu for 1 epoch in" in result.output
    assert "validation accuracy" in result.output


def test_train_on_an_image_folder(tmp_path: Path) -> None:
    write_folder(tmp_path, {"a": (4, 4), "b": (4, 4)})
    result = invoke(
        ["train", "--data", str(tmp_path), "--model", "mlp", "--epochs", "2", "--batch-size", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "validation accuracy" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "missing-folder"], "data folder 'missing-folder' does not exist"),
        (["--data", "EMPTY"], "no class folders in"),
        (["--data", "ODD"], r"image '.*b.0.png' is 5x5 pixels"),
        (["--model", "resnet"], "'?resnet'? is not one of|invalid choice: resnet"),
        (["--batch-size", "5000"], "batch size 5000 is larger than the 1437 training examples"),
    ],
)
def test_bad_input_is_a_short_error(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "empty").mkdir()
    write_folder(tmp_path / "odd", {"a": (4, 4), "b": (5, 5)})
    args = [a.replace("EMPTY", str(tmp_path / "empty")).replace("ODD", str(tmp_path / "odd")) for a in args]
    result = invoke(["train", "--epochs", "1", *args])
    assert result.exit_code in (1, 2)
    assert "Traceback" not in result.output
    assert re.search(message, result.output), result.output


class Interrupter:
    @hookimpl
    def trainscope_epoch_end(self, epoch: int, summary: EpochSummary) -> None:
        raise KeyboardInterrupt


def test_ctrl_c_exits_130() -> None:
    result = invoke(["train", *TINY], Interrupter())
    assert result.exit_code == 130
    assert "Interrupted" in result.output


def test_blocking_a_reporter_with_p_no(tmp_path: Path) -> None:
    pytest.importorskip("trainscope_jsonl")
    env = {**os.environ, "TRAINSCOPE_LOG_DIR": str(tmp_path), "TRAINSCOPE_PLATFORM": "cpu"}
    env.pop("TRAINSCOPE_PLUGINS", None)
    command = [sys.executable, "-m", "trainscope"]
    blocked = subprocess.run(
        [*command, "-p", "no:jsonl", "train", *TINY], env=env, capture_output=True, text=True, timeout=120
    )
    assert blocked.returncode == 0, blocked.stderr
    assert "validation accuracy" in blocked.stdout
    assert not list(tmp_path.rglob("*.jsonl"))
    logged = subprocess.run([*command, "train", *TINY], env=env, capture_output=True, text=True, timeout=120)
    assert logged.returncode == 0, logged.stderr
    assert len(list(tmp_path.rglob("*.jsonl"))) == 1


def test_the_last_summary_and_the_final_line_agree_exactly() -> None:
    # the summary and the final line print the same session means (that they are means over
    # examples, not batches, is tested on the trainer's history)
    result = invoke(["train", "--model", "mlp", "--epochs", "1", "--batch-size", "55"], "summary")
    assert result.exit_code == 0, result.output
    summary = re.search(r"Validation - Loss: ([\d.]+), Accuracy: ([\d.]+%)", result.output)
    final = re.search(r"validation accuracy ([\d.]+%), loss ([\d.]+)", result.output)
    assert summary is not None
    assert final is not None
    assert (summary.group(1), summary.group(2)) == (final.group(2), final.group(1))


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["plugins"]])
def test_commands_that_do_not_train_never_import_jax(args: list[str]) -> None:
    """The ``train`` command is found through ``trainscope_jax``; importing it must not import
    JAX (seconds), so every other command starts at once."""
    probe = (
        "import sys\n"
        "from trainscope.cli import main\n"
        f"sys.argv = ['trainscope', *{args!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "assert 'trainscope_jax.plugin' in sys.modules, sorted(sys.modules)\n"
        "print('jax imported' if 'jax' in sys.modules else 'jax not imported')\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "jax not imported"


def test_every_public_name_is_importable_from_the_package() -> None:
    import trainscope_jax

    assert sorted(set(trainscope_jax.__all__) - {"__version__"}) == sorted(trainscope_jax._EXPORTS)
    for name in trainscope_jax.__all__:
        assert getattr(trainscope_jax, name) is not None
    for name, module in trainscope_jax._EXPORTS.items():  # type checkers see it through `import *`
        assert name in importlib.import_module(module).__all__, (name, module)
    names = dir(trainscope_jax)
    assert set(trainscope_jax.__all__) <= set(names)
    assert len(names) == len(set(names))  # the names already used are listed once
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        trainscope_jax.nonexistent  # noqa: B018
