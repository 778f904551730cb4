"""Notebook front ends get ``tqdm.auto``'s bar."""

from __future__ import annotations

import io
import re
import sys
import types

import pytest
from tqdm import tqdm as std_tqdm

from trainscope_tqdm import ProgressBar, meters


class FakeWidgetBar(std_tqdm):  # stands in for tqdm.notebook.tqdm
    pass


@pytest.fixture
def notebook(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ipykernel.zmqshell", types.ModuleType("ipykernel.zmqshell"))
    monkeypatch.setattr("tqdm.auto.tqdm", FakeWidgetBar)
    monkeypatch.setattr(meters, "_notebook_class", None)


def test_no_notebook_here() -> None:
    assert not meters.notebook_front_end()


@pytest.mark.usefixtures("notebook")
def test_in_a_notebook_the_standard_streams_get_the_auto_bar() -> None:
    assert meters.notebook_front_end()
    bar = ProgressBar("Training", 10, file=sys.stderr)
    try:
        assert isinstance(bar._meter, FakeWidgetBar)
        bar.update(5, {"accuracy": 0.5})
        assert re.fullmatch(r"Training:  50%\|█{5} {5}\| 5/10 \[.*, accuracy=50\.00%\]", str(bar))
    finally:
        bar.finish()
        meters._notebook_class = None


@pytest.mark.usefixtures("notebook")
def test_in_a_notebook_a_file_still_gets_lines() -> None:
    out = io.StringIO()
    with ProgressBar("Training", 10, file=out) as bar:
        bar.update(10)
    assert not isinstance(bar._meter, FakeWidgetBar)
    assert out.getvalue().startswith("Training: 100%|")
