"""The parameter types of ``trainscope train``'s options: finite floats, counts, image sizes."""

from __future__ import annotations

import math
from typing import Any

import click


class FiniteFloat(click.FloatRange):
    """A float range that also refuses NaN and the infinities (which every comparison lets through)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


class Count(click.IntRange):
    """An integer from ``min`` up, whose ceiling (a machine limit) is checked but not shown in ``--help``."""

    def __init__(self, min: int, ceiling: int, why: str) -> None:
        super().__init__(min=min)
        self.ceiling = ceiling
        self.why = why

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if number > self.ceiling:
            self.fail(f"{number} is too large: {self.why} (at most {self.ceiling})", param, ctx)
        return number


class ImageSize(click.ParamType):  # type: ignore[type-arg]
    """``HxW`` (``32x32``) or one number for square images."""

    name = "HxW"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[int, int]:
        if isinstance(value, tuple):
            return value
        parts = str(value).lower().split("x")
        try:
            sizes = [int(p) for p in parts]
        except ValueError:
            sizes = []
        if len(sizes) == 1:
            sizes *= 2
        if len(sizes) != 2 or min(sizes) < 1:
            self.fail(f"expected HEIGHTxWIDTH such as 32x32, got {value!r}", param, ctx)
        return sizes[0], sizes[1]


__all__ = ["Count", "FiniteFloat", "ImageSize"]
