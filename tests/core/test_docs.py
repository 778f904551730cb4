"""Every hook is documented with its exact signature; every environment variable too."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from trainscope import environment_variables as env_vars
from trainscope import hookspecs

DOCS = Path(__file__).parents[2] / "docs"


@pytest.mark.parametrize("name", hookspecs.HOOK_NAMES)
def test_hook_documented_with_exact_signature(name: str) -> None:
    signature = str(inspect.signature(getattr(hookspecs, name))).replace("'", "")
    assert f"def {name}{signature}" in (DOCS / "hooks.md").read_text()


@pytest.mark.parametrize("name", env_vars.__all__)
def test_environment_variable_documented(name: str) -> None:
    assert f"`{getattr(env_vars, name)}`" in (DOCS / "environment.md").read_text()


def test_hook_names_are_the_designed_ones() -> None:
    assert set(hookspecs.HOOK_NAMES) == {
        "trainscope_train_start",
        "trainscope_train_ready",
        "trainscope_epoch_start",
        "trainscope_phase_start",
        "trainscope_progress",
        "trainscope_phase_end",
        "trainscope_epoch_end",
        "trainscope_evaluation_end",
        "trainscope_train_end",
        "trainscope_alert",
        "trainscope_resume_point",
        "trainscope_register_commands",
    }
