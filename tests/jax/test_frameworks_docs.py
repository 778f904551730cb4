"""The Flax NNX, Flax Linen and Equinox pages: every example runs and prints what the page shows."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import jax
import pytest

from trainscope import TrainingSession
from trainscope_jax import FitHistory

pytestmark = pytest.mark.slow  # every documented framework example, trained

DOCS = Path(__file__).resolve().parents[2] / "docs" / "jax"
BLOCK = re.compile(r"```(python|text)\n(.*?)```", flags=re.DOTALL)


def run_page(page: Path) -> dict[str, Any]:
    """Run the page's python blocks in order; a text block right after one is what it prints."""
    namespace: dict[str, Any] = {}
    blocks = BLOCK.findall(page.read_text(encoding="utf-8"))
    assert blocks, f"{page.name} has no example"
    printed = ""
    for kind, body in blocks:
        if kind == "text":
            assert printed.rstrip("\n") == body.rstrip("\n"), f"{page.name}: the output differs from the page"
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(body, str(page), "exec"), namespace)
        printed = out.getvalue()
    return namespace


def check_fit(namespace: dict[str, Any]) -> None:
    history = namespace["history"]
    assert isinstance(history, FitHistory)
    assert history.last.validation_accuracy is not None
    assert history.last.validation_accuracy > 0.8  # a few epochs with the page's optimizer


def check_own_loop(namespace: dict[str, Any], parameters: int, accuracy: float) -> None:
    session = namespace["session"]
    assert isinstance(session, TrainingSession)
    assert session.run.model is not None  # the architecture the reporters print
    assert session.run.model.total_params == parameters
    assert accuracy > 0.85


@pytest.fixture(autouse=True)
def _no_reporters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAINSCOPE_PLUGINS", "")


def test_flax_nnx_page() -> None:
    nnx = pytest.importorskip("flax.nnx", reason="flax is not installed (pip install trainscope-jax[flax])")
    pytest.importorskip("trainscope_arch")
    if not hasattr(nnx, "List"):
        pytest.skip("the page's loop uses the nnx.Optimizer API of flax 0.11 and newer")
    namespace = run_page(DOCS / "flax-nnx.md")
    check_fit(namespace)
    counted = nnx.state(namespace["model"], nnx.Param, nnx.BatchStat)
    accuracy = float(namespace["metrics_history"]["test_accuracy"][-1])
    check_own_loop(namespace, sum(x.size for x in jax.tree.leaves(counted)), accuracy)


def test_flax_linen_page() -> None:
    pytest.importorskip("flax.linen", reason="flax is not installed (pip install trainscope-jax[flax])")
    pytest.importorskip("trainscope_arch")
    namespace = run_page(DOCS / "flax-linen.md")
    check_fit(namespace)
    parameters = sum(x.size for x in jax.tree.leaves(namespace["variables"]))
    check_own_loop(namespace, parameters, float(namespace["accuracy"]))


def test_equinox_page() -> None:
    eqx = pytest.importorskip(
        "equinox", reason="equinox is not installed (pip install trainscope-jax[equinox])"
    )
    pytest.importorskip("trainscope_arch")
    namespace = run_page(DOCS / "equinox.md")
    check_fit(namespace)
    parameters = sum(x.size for x in jax.tree.leaves(eqx.filter(namespace["model"], eqx.is_array)))
    check_own_loop(namespace, parameters, float(namespace["accuracy"]))
