"""The table view: one row per layer with its output shape, parameters and multiply-adds."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from trainscope.plugin_api import LayerSpec, ModelSpec
from trainscope_arch.formatting import ParameterFormat, format_parameter_count

HEADERS = ("Layer (type)", "Output Shape", "Param #", "Mult-Adds")


def _rows(layers: Sequence[LayerSpec], depth: int) -> Iterator[tuple[int, LayerSpec]]:
    for layer in layers:
        yield depth, layer
        yield from _rows(layer.children, depth + 1)


def _shape(spec: ModelSpec, layer: LayerSpec) -> str:
    if not layer.output_shape:
        return "--"
    # An output made once for the batch (a position table on ``arange``) has no batch axis.
    dims = (spec.batch_size, *layer.output_shape) if layer.per_example else layer.output_shape
    return "[" + ", ".join(str(d) for d in dims) + "]"


def _params(layer: LayerSpec, style: ParameterFormat) -> str:
    if layer.params == 0:
        return "--"
    text = format_parameter_count(layer.params, style)
    frozen = layer.params - layer.trainable
    if frozen:
        text += f" ({format_parameter_count(frozen, style)} non-trainable)"
    return text


def _mult_adds(spec: ModelSpec, layer: LayerSpec, style: ParameterFormat) -> str:
    if layer.mult_adds is None:
        return "--"
    return format_parameter_count(layer.mult_adds * spec.batch_size, style)


def format_table(model_name: str, spec: ModelSpec, style: ParameterFormat) -> str:
    """The layers as a table; nested layers are indented under their block.

    ``Param #`` counts a layer's own parameters (``--`` when it has none); the
    output shape includes the batch dimension (``--`` when unknown); ``Mult-Adds``
    are the layer's own, for the whole batch as torchinfo shows them (``--`` when unknown).
    """
    rows = [
        (
            "  " * depth + f"{layer.name} ({layer.kind})",
            _shape(spec, layer),
            _params(layer, style),
            _mult_adds(spec, layer, style),
        )
        for depth, layer in _rows(spec.layers, 0)
    ]
    widths = [max(len(text) for text in column) for column in zip(HEADERS, *rows, strict=True)]
    rule = "=" * (sum(widths) + 2 * (len(widths) - 1))

    def line(cells: tuple[str, str, str, str]) -> str:
        left = [cells[0].ljust(widths[0]), cells[1].ljust(widths[1])]
        return "  ".join([*left, *(cell.rjust(width) for cell, width in zip(cells[2:], widths[2:]))]).rstrip()

    return "\n".join([model_name, rule, line(HEADERS), rule, *(line(row) for row in rows), rule])
