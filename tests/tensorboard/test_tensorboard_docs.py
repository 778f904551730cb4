"""The reporter's environment variables and public names are in its documentation page."""

from __future__ import annotations

from pathlib import Path

import pytest

import trainscope_tensorboard
from trainscope_tensorboard import environment_variables as env_vars

ROOT = Path(__file__).parents[2]
PAGE = ROOT / "docs" / "reporters" / "tensorboard.md"
README = ROOT / "plugins" / "trainscope-tensorboard" / "README.md"


@pytest.mark.parametrize("name", env_vars.__all__)
def test_environment_variable_documented(name: str) -> None:
    assert f"`{getattr(env_vars, name)}`" in PAGE.read_text()
    assert f"`{getattr(env_vars, name)}`" in README.read_text()


def test_error_and_blocking_documented() -> None:
    text = PAGE.read_text()
    assert trainscope_tensorboard.TensorBoardDirectoryError.__name__ in text
    for way in ("TRAINSCOPE_DISABLE_PLUGINS=tensorboard", "-p no:tensorboard", 'disable=["tensorboard"]'):
        assert way in text
