"""Options in code and through the ``TRAINSCOPE_TQDM_*`` environment variables."""

from __future__ import annotations

import io

import pytest

from trainscope_tqdm import BarOptions, OptionWarning, ProgressBar
from trainscope_tqdm import environment_variables as env_vars


def test_defaults() -> None:
    assert BarOptions.from_environment({}) == BarOptions(
        width=70, show_rate=True, show_eta=True, refresh_interval=0.1, line_interval=5.0
    )


def test_environment_variables() -> None:
    environ = {
        env_vars.TRAINSCOPE_TQDM_WIDTH: "40",
        env_vars.TRAINSCOPE_TQDM_SHOW_RATE: "off",
        env_vars.TRAINSCOPE_TQDM_SHOW_ETA: "False",
        env_vars.TRAINSCOPE_TQDM_REFRESH_INTERVAL: "0.5",
        env_vars.TRAINSCOPE_TQDM_LINE_INTERVAL: "30",
    }
    assert BarOptions.from_environment(environ) == BarOptions(
        width=40, show_rate=False, show_eta=False, refresh_interval=0.5, line_interval=30.0
    )


def test_code_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env_vars.TRAINSCOPE_TQDM_WIDTH, "40")
    monkeypatch.setenv(env_vars.TRAINSCOPE_TQDM_SHOW_RATE, "0")
    bar = ProgressBar("x", 10, width=25, file=io.StringIO())
    assert bar.options.width == 25
    assert bar.options.show_rate is False


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (env_vars.TRAINSCOPE_TQDM_WIDTH, "wide", "a whole number of characters >= 1"),
        (env_vars.TRAINSCOPE_TQDM_WIDTH, "0", "a whole number of characters >= 1"),
        (env_vars.TRAINSCOPE_TQDM_SHOW_ETA, "maybe", "1 or 0"),
        (env_vars.TRAINSCOPE_TQDM_LINE_INTERVAL, "-1", "a number of seconds >= 0"),
        (env_vars.TRAINSCOPE_TQDM_REFRESH_INTERVAL, "nan", "a number of seconds >= 0"),
    ],
)
def test_bad_environment_values_warn_and_fall_back(name: str, value: str, expected: str) -> None:
    with pytest.warns(OptionWarning, match=rf"ignoring {name}={value!r}: expected {expected}.*unset {name}"):
        options = BarOptions.from_environment({name: value})
    assert options == BarOptions()


@pytest.mark.parametrize("field", ["refresh_interval", "line_interval"])
def test_bad_intervals_in_code_are_refused(field: str) -> None:
    with pytest.raises(ValueError, match=f"{field} must be a finite number of seconds >= 0"):
        BarOptions(**{field: -1.0})  # type: ignore[arg-type]
