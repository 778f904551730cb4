"""The reporter's environment variables and public names are in its documentation page."""

from __future__ import annotations

from pathlib import Path

import pytest

import trainscope_mlflow
from trainscope_mlflow import environment_variables as env_vars

ROOT = Path(__file__).parents[2]
PAGE = ROOT / "docs" / "reporters" / "mlflow.md"
README = ROOT / "plugins" / "trainscope-mlflow" / "README.md"


@pytest.mark.parametrize("name", env_vars.__all__)
def test_environment_variable_documented(name: str) -> None:
    assert f"`{getattr(env_vars, name)}`" in PAGE.read_text()
    assert f"`{getattr(env_vars, name)}" in README.read_text()


def test_errors_statuses_and_blocking_documented() -> None:
    text = PAGE.read_text()
    for name in (trainscope_mlflow.MlflowTrackingError.__name__, *trainscope_mlflow.MLFLOW_STATUS.values()):
        assert name in text
    for way in ("TRAINSCOPE_DISABLE_PLUGINS=mlflow", "-p no:mlflow", 'disable=["mlflow"]'):
        assert way in text
