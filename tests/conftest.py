"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from trainscope import environment_variables as env_vars

SAMPLE_PLUGINS = Path(__file__).parent / "integration" / "sample_plugins"


def write_distribution(site: Path, dist: str, entry_points: dict[str, str]) -> None:
    """Write the ``*.dist-info`` pip would write for a distribution with these entry points."""
    info = site / f"{dist.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[trainscope]\n{lines}")


@pytest.fixture
def install_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str], None]]:
    """Install a sample plugin module through a real entry point: ``install_plugin(name, module)``.

    The distribution is visible to ``importlib.metadata`` in this process and, through
    ``PYTHONPATH``, in subprocesses.
    """
    site = tmp_path / "site"
    site.mkdir()
    for path in (str(SAMPLE_PLUGINS), str(site)):
        monkeypatch.syspath_prepend(path)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(SAMPLE_PLUGINS), str(site), os.environ.get("PYTHONPATH", "")])
    )

    def install(name: str, module: str) -> None:
        write_distribution(site, f"trainscope-{name}", {name: module})

    yield install
    for module in ("sample_recorder", "sample_broken", "sample_misspelt"):
        sys.modules.pop(module, None)


def _default_signal_actions() -> None:
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)


@pytest.fixture
def signal_defaults() -> Callable[[], None]:
    """``preexec_fn`` for a child a test sends signals to: each signal at its default action
    in the child, however the test runner was started (``nohup`` ignores SIGHUP, a shell's
    background job SIGINT), so that the child behaves as one started from a terminal."""
    return _default_signal_actions


@pytest.fixture
def only_plugins(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Restrict entry-point loading to the given names (through ``TRAINSCOPE_PLUGINS``)."""

    def restrict(*names: str) -> None:
        monkeypatch.setenv(env_vars.TRAINSCOPE_PLUGINS, ",".join(names))

    return restrict


@pytest.fixture(autouse=True)
def _clean_trainscope_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests start without the caller's trainscope variables; run logs go to a temporary folder."""
    for name in env_vars.__all__:
        monkeypatch.delenv(getattr(env_vars, name), raising=False)
    monkeypatch.setenv(env_vars.TRAINSCOPE_LOG_DIR, str(tmp_path / "runs"))
    # MLflow writes to a store (by default in the working folder) and takes seconds to import:
    # tests that load every installed reporter leave it out; its own tests lift this.
    monkeypatch.setenv(env_vars.TRAINSCOPE_DISABLE_PLUGINS, "mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
