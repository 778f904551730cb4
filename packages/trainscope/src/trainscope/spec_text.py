"""A model spec as plain text, for reporters that store a run without the architecture printer."""

from __future__ import annotations

from collections.abc import Sequence

from trainscope.spec import LayerSpec, ModelSpec


def plain_architecture(run_name: str, spec: ModelSpec) -> str:
    """One line per layer, indented by depth, with its parameters and output shape; then the totals."""
    lines = [f"Model: {run_name or spec.name}", f"Input shape: {spec.input_shape}"]

    def add(layers: Sequence[LayerSpec], depth: int) -> None:
        for layer in layers:
            shape = f", output {layer.output_shape}" if layer.output_shape else ""
            counted = f"{layer.params:,} parameters{shape}"
            lines.append(f"{'  ' * depth}({layer.name}): {layer.kind}({layer.args}) - {counted}")
            add(layer.children, depth + 1)

    add(spec.layers, 1)
    lines += [
        f"Total parameters: {spec.total_params:,}",
        f"Trainable parameters: {spec.trainable_params:,}",
        f"Non-trainable parameters: {spec.non_trainable_params:,}",
    ]
    if spec.total_mult_adds is not None:
        lines.append(f"Total mult-adds: {spec.total_mult_adds:,}")
    return "\n".join(lines)


__all__ = ["plain_architecture"]
