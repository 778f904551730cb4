"""A layer's arguments as the text inside ``Kind(...)``: ``1, 32, kernel_size=(3, 3), padding='SAME'``."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

_SIMPLE = (bool, int, float, str, type(None))
_SKIPPED = frozenset({"self", "rngs", "key", "parent", "name", "dtype", "param_dtype", "precision"})
"""Constructor parameters never shown by :func:`constructor_args` (plumbing, not architecture)."""


def is_simple(value: Any) -> bool:
    """A value worth printing: a number, string, bool, None, or a tuple or list of them."""
    if isinstance(value, (tuple, list)):
        return all(is_simple(item) for item in value)
    return isinstance(value, _SIMPLE)


def text(value: Any) -> str:
    """``value`` as Python source: ``(3, 3)``, ``'SAME'``, ``0.5``, ``True``."""
    if isinstance(value, (tuple, list)):
        items = [text(item) for item in value]
        return "(" + items[0] + ",)" if len(items) == 1 else "(" + ", ".join(items) + ")"
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        value = value.item()  # a NumPy scalar
    return repr(value)


def call_args(*positional: Any, **named: Any) -> str:
    """``1, 32, kernel_size=(3, 3)``: positional values, then ``name=value`` pairs."""
    return ", ".join([*(text(v) for v in positional), *(f"{k}={text(v)}" for k, v in named.items())])


def per_dim(value: Any, dims: int) -> tuple[Any, ...]:
    """A stride or dilation as one value per spatial dimension (``1`` -> ``(1, 1)``)."""
    if value is None:
        return (1,) * dims
    if isinstance(value, int):
        return (value,) * dims
    return tuple(value)


def is_one(value: Any) -> bool:
    """Whether a dilation or group count is the default 1 (``1``, ``(1, 1)``, None)."""
    return value is None or all(v == 1 for v in (value if isinstance(value, (tuple, list)) else [value]))


def constructor_args(obj: Any, skip: Iterable[str] = ()) -> str:
    """The arguments of ``obj``'s constructor that it keeps as attributes of the same name.

    Required ones always, the others where they differ from the default; only simple
    values (numbers, strings, tuples).
    """
    try:
        parameters = inspect.signature(type(obj).__init__).parameters.values()
    except (TypeError, ValueError):
        return ""
    named: dict[str, Any] = {}
    for parameter in parameters:
        if (
            parameter.name in _SKIPPED
            or parameter.name in skip
            or parameter.kind
            in (
                parameter.VAR_POSITIONAL,
                parameter.VAR_KEYWORD,
            )
        ):
            continue
        value = getattr(obj, parameter.name, inspect.Parameter.empty)
        if value is inspect.Parameter.empty or not is_simple(value):
            continue
        if parameter.default is inspect.Parameter.empty or not _equal(value, parameter.default):
            named[parameter.name] = value
    return call_args(**named)


def _equal(value: Any, default: Any) -> bool:
    try:
        return bool(value == default)
    except (TypeError, ValueError):
        return False


def function_name(fn: Callable[..., Any]) -> str:
    """The name a function is known by (``relu`` for ``jax.nn.relu``, a partial's function)."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    name = getattr(fn, "__name__", None) or type(fn).__name__
    return str(name)


def function_args(fn: Callable[..., Any]) -> str:
    """The arguments a ``functools.partial`` binds (``window_shape=(2, 2)``); empty for a function."""
    positional: list[Any] = []
    named: dict[str, Any] = {}
    while isinstance(fn, functools.partial):
        positional = [*fn.args, *positional]
        named = {**fn.keywords, **named}
        fn = fn.func
    shown = {k: v for k, v in named.items() if is_simple(v)}
    return call_args(*(v for v in positional if is_simple(v)), **shown)


Formatter = Callable[[Any, Mapping[str, tuple[int, ...]]], str]
"""Arguments of one layer kind from the layer and its own arrays' shapes by name."""


__all__ = [
    "Formatter",
    "call_args",
    "constructor_args",
    "function_args",
    "function_name",
    "is_one",
    "is_simple",
    "per_dim",
    "text",
]
