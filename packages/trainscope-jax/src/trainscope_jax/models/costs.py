"""Multiply-adds of a forward pass, per layer, counted exactly from its jaxpr.

A multiply-add is one multiplication and one addition of a matrix product
(``dot_general``) or a convolution (``conv_general_dilated``) that takes the data as an
operand; every kernel tap counts, taps on zero padding included, as torchinfo counts
them. Adding an array that does not depend on the data (a bias) counts one per output
element, as torchinfo does. Elementwise functions, pooling, reductions and reshapes
count nothing. Work is charged to the innermost layer scope (:func:`scope_name`) it
was traced in; a count that cannot be known from the program (a ``while`` loop that
does such work, a ``cond`` whose branches differ) is None.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp

_PREFIX = "trainscope_layer_"
_SCOPE = re.compile(rf"{_PREFIX}\d+")

Counts = dict[str | None, int | None]
"""Multiply-adds by layer scope; the key None is work outside every scope."""


def scope_name(index: int) -> str:
    """The ``jax.named_scope`` name that marks the work of layer ``index``."""
    return f"{_PREFIX}{index}"


class _Tally:
    def __init__(self) -> None:
        self.counts: defaultdict[str | None, int] = defaultdict(int)
        self.unknown: set[str | None] = set()

    def add(self, scope: str | None, count: int) -> None:
        self.counts[scope] += count

    def result(self) -> Counts:
        return {s: None if s in self.unknown else self.counts[s] for s in {*self.counts, *self.unknown}}

    def merge(self, other: _Tally, times: int = 1) -> None:
        for scope, count in other.counts.items():
            self.counts[scope] += count * times
        self.unknown |= other.unknown

    def any_work(self) -> bool:
        return bool(self.unknown) or any(self.counts.values())


def _is_literal(var: Any) -> bool:
    """A constant written into the program (a ``Literal``); variables have no ``val``."""
    return hasattr(var, "val")


def _shape(var: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in getattr(var.aval, "shape", ()))


def _floating(var: Any) -> bool:
    """Whether ``var`` holds inexact numbers, bfloat16 and the float8 types included (which
    NumPy's own type hierarchy does not know)."""
    dtype = getattr(var.aval, "dtype", None)
    return dtype is not None and bool(jnp.issubdtype(dtype, jnp.inexact))


def _dot(eqn: Any) -> int:
    lhs, rhs = (_shape(v) for v in eqn.invars[:2])
    (_, rhs_contract), (_, rhs_batch) = eqn.params["dimension_numbers"]
    free = [d for i, d in enumerate(rhs) if i not in (*rhs_contract, *rhs_batch)]
    return math.prod(lhs) * math.prod(free)


def _conv(eqn: Any) -> int:
    rhs, out = _shape(eqn.invars[1]), _shape(eqn.outvars[0])
    spec = eqn.params["dimension_numbers"].rhs_spec  # (out features, in features, *spatial)
    return math.prod(out) * math.prod(rhs[d] for d in spec[1:])


def _own_work(eqn: Any, data: Sequence[bool]) -> int:
    """Multiply-adds of one equation that contains no other program."""
    name = eqn.primitive.name
    if name == "dot_general" and any(data[:2]):
        return _dot(eqn)
    if name == "conv_general_dilated" and any(data[:2]):
        return _conv(eqn)
    if name == "add" and data[0] != data[1] and _floating(eqn.outvars[0]):
        other = eqn.invars[1] if data[0] else eqn.invars[0]
        if not _is_literal(other):
            return math.prod(_shape(eqn.outvars[0]))
    return 0


def _programs(eqn: Any) -> Iterator[Any]:
    """The jaxprs inside an equation's parameters (a jit's body, a scan's step, cond branches)."""
    for value in eqn.params.values():
        for item in value if isinstance(value, (tuple, list)) else (value,):
            jaxpr = getattr(item, "jaxpr", item)
            if hasattr(jaxpr, "eqns") and hasattr(jaxpr, "invars"):
                yield jaxpr


def _scope(eqn: Any, inherited: str | None) -> str | None:
    found = _SCOPE.findall(str(getattr(eqn.source_info, "name_stack", "")))
    return found[-1] if found else inherited


def _walk(jaxpr: Any, data: Sequence[bool], scope: str | None, tally: _Tally) -> list[bool]:
    """Count ``jaxpr``'s work into ``tally``; returns which outputs depend on the data."""
    env: dict[Any, bool] = dict(zip(jaxpr.invars, data))

    def depends(var: Any) -> bool:
        return not _is_literal(var) and env.get(var, False)

    for eqn in jaxpr.eqns:
        here = _scope(eqn, scope)
        flags = [depends(v) for v in eqn.invars]
        programs = list(_programs(eqn))
        outputs = _nested(eqn, programs, flags, here, tally) if programs else None
        if outputs is None:
            tally.add(here, _own_work(eqn, flags))
            outputs = [any(flags)] * len(eqn.outvars)
        env.update(zip(eqn.outvars, outputs))
    return [depends(v) for v in jaxpr.outvars]


def _nested(
    eqn: Any, programs: list[Any], data: list[bool], scope: str | None, tally: _Tally
) -> list[bool] | None:
    """Count the programs inside ``eqn``; the data dependence of its outputs."""
    name, n_out = eqn.primitive.name, len(eqn.outvars)
    if name == "scan":
        return _scan(eqn, programs[0], data, scope, tally)
    if name == "cond":
        return _cond(programs, data[1:], scope, tally, n_out)
    if len(programs) == 1 and len(programs[0].invars) == len(data):
        outputs = _walk(programs[0], data, scope, tally)
        return outputs if len(outputs) == n_out else [any(data)] * n_out
    # A while loop or another control-flow form: only work-free bodies are known.
    trial = _Tally()
    for program in programs:
        _walk(program, [True] * len(program.invars), scope, trial)
    if trial.any_work():
        tally.unknown.add(scope)
    return [any(data)] * n_out


def _scan(eqn: Any, body: Any, data: list[bool], scope: str | None, tally: _Tally) -> list[bool]:
    consts, carries = eqn.params["num_consts"], eqn.params["num_carry"]
    flags = list(data)
    for _ in range(carries + 1):  # a carry becomes data once any step feeds data into it
        outputs = _walk(body, flags, scope, _Tally())
        carry = [a or b for a, b in zip(flags[consts : consts + carries], outputs[:carries])]
        if carry == flags[consts : consts + carries]:
            break
        flags[consts : consts + carries] = carry
    step = _Tally()
    outputs = _walk(body, flags, scope, step)
    tally.merge(step, times=int(eqn.params["length"]))
    return outputs


def _cond(branches: list[Any], data: list[bool], scope: str | None, tally: _Tally, n_out: int) -> list[bool]:
    tallies = [_Tally() for _ in branches]
    outputs = [_walk(branch, data, scope, t) for branch, t in zip(branches, tallies)]
    if all(t.result() == tallies[0].result() for t in tallies):
        tally.merge(tallies[0])
    else:
        tally.unknown.add(scope)
    return [any(flags) for flags in zip(*outputs)] if outputs else [any(data)] * n_out


def count_mult_adds(closed_jaxpr: Any, data: Sequence[bool]) -> Counts:
    """Multiply-adds by layer scope of a (closed) jaxpr whose inputs flagged in ``data`` are the data."""
    jaxpr = getattr(closed_jaxpr, "jaxpr", closed_jaxpr)
    if len(data) != len(jaxpr.invars):
        raise ValueError(f"{len(data)} data flags for {len(jaxpr.invars)} inputs")
    tally = _Tally()
    _walk(jaxpr, data, None, tally)
    return tally.result()


def function_mult_adds(fn: Callable[..., Any], data: Any, *other: Any) -> tuple[int | None, Any]:
    """The multiply-adds of ``fn(data, *other)`` on shapes only, and its output's shapes.

    The array leaves of ``data`` are the data; those of ``other`` (parameters, state) are not.
    """
    closed, out = jax.make_jaxpr(fn, return_shape=True)(data, *other)
    n_data = len(jax.tree_util.tree_leaves(data))
    n_other = len(jax.tree_util.tree_leaves(other))
    counts = count_mult_adds(closed, [True] * n_data + [False] * n_other)
    unknown = any(count is None for count in counts.values())
    return (None if unknown else sum(c for c in counts.values() if c is not None)), out


def per_example(count: int | None, batch: int) -> float | None:
    """``count`` for a batch of ``batch`` as a count for one example: a fraction where some of
    the work is done once for the whole batch (updating batch statistics); None when unknown."""
    if count is None or batch < 1:
        return None
    whole, rest = divmod(count, batch)
    return count / batch if rest else whole


__all__ = ["Counts", "count_mult_adds", "function_mult_adds", "per_example", "scope_name"]
