"""Bar options: code arguments, then environment variables, then defaults."""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trainscope_tqdm import environment_variables as env_vars

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class OptionWarning(UserWarning):
    """An environment variable of the tqdm reporter has a value it cannot use."""


@dataclass(frozen=True)
class BarOptions:
    """How bars look and how often they are redrawn."""

    width: int = 70
    """Width of the bar itself in characters (shrunk to fit a narrow terminal)."""
    show_rate: bool = True
    show_eta: bool = True
    refresh_interval: float = 0.1
    """Minimum seconds between redraws on a terminal or in a notebook."""
    line_interval: float = 5.0
    """Minimum seconds between progress lines when the output is not a terminal."""

    def __post_init__(self) -> None:
        check_width(self.width)
        for name in ("refresh_interval", "line_interval"):
            check_interval(name, getattr(self, name))

    def with_overrides(
        self,
        *,
        width: int | None = None,
        show_rate: bool | None = None,
        show_eta: bool | None = None,
        refresh_interval: float | None = None,
        line_interval: float | None = None,
    ) -> BarOptions:
        """A copy with every option that is not None replaced."""
        given: dict[str, Any] = {
            "width": width,
            "show_rate": show_rate,
            "show_eta": show_eta,
            "refresh_interval": refresh_interval,
            "line_interval": line_interval,
        }
        return dataclasses.replace(
            self, **{name: value for name, value in given.items() if value is not None}
        )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> BarOptions:
        """Options from the environment variables, else the defaults.

        A variable with an unusable value is ignored with an :class:`OptionWarning`
        that names it and says what it accepts.
        """
        env = os.environ if environ is None else environ
        default = cls()
        return cls(
            width=_env_width(env, default.width),
            show_rate=_env_bool(env, env_vars.TRAINSCOPE_TQDM_SHOW_RATE, default.show_rate),
            show_eta=_env_bool(env, env_vars.TRAINSCOPE_TQDM_SHOW_ETA, default.show_eta),
            refresh_interval=_env_seconds(
                env, env_vars.TRAINSCOPE_TQDM_REFRESH_INTERVAL, default.refresh_interval
            ),
            line_interval=_env_seconds(env, env_vars.TRAINSCOPE_TQDM_LINE_INTERVAL, default.line_interval),
        )


def check_width(width: object) -> int:
    """Return ``width`` if it is a whole number of characters >= 1, else raise ValueError."""
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"bar width must be a whole number of characters >= 1, got {width!r}")
    return width


def check_interval(name: str, seconds: object) -> float:
    """Return ``seconds`` if it is a finite number >= 0, else raise ValueError."""
    if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and 0 <= seconds < math.inf:
        return float(seconds)
    raise ValueError(f"{name} must be a finite number of seconds >= 0, got {seconds!r}")


def _ignored(name: str, value: str, expected: str, default: object) -> None:
    warnings.warn(
        f"trainscope-tqdm: ignoring {name}={value!r}: expected {expected}; "
        f"using the default {default!r} (fix or unset {name})",
        OptionWarning,
        stacklevel=4,
    )


def _env_width(env: Mapping[str, str], default: int) -> int:
    name = env_vars.TRAINSCOPE_TQDM_WIDTH
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        return check_width(int(text))
    except ValueError:
        _ignored(name, text, "a whole number of characters >= 1, e.g. 70", default)
        return default


def _env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    text = env.get(name, "").strip().lower()
    if not text:
        return default
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    _ignored(name, text, "1 or 0 (also true/false, yes/no, on/off)", default)
    return default


def _env_seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        return check_interval(name, float(text))
    except ValueError:
        _ignored(name, text, "a number of seconds >= 0, e.g. 0.5", default)
        return default
