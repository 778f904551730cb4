"""``ModelArchitecturePrinter``: a model spec as text, with parameter counts and sizes."""

from __future__ import annotations

import sys
from typing import Literal, TextIO

from trainscope.plugin_api import ModelSpec, encodable, printable
from trainscope_arch.formatting import (
    MemoryUnits,
    ParameterFormat,
    check_choice,
    check_memory_units,
    check_parameter_format,
    format_operations,
    format_parameter_count,
    format_size,
)
from trainscope_arch.table import format_table
from trainscope_arch.tree import format_tree

View = Literal["tree", "table"]
VIEWS: tuple[View, ...] = ("tree", "table")


def check_view(value: str) -> View:
    """``value`` as a view name, or a ValueError naming the choices."""
    return check_choice(value, VIEWS, "view")


class ModelArchitecturePrinter:
    """Prints a :class:`trainscope.ModelSpec` PyTorch-style, then its totals and sizes.

    ``model_name`` heads the output (the spec's own name when empty);
    ``parameter_format`` is ``"short"`` (``16.9M``) or ``"full"`` (``16,872,002``);
    ``memory_units`` is ``"MB"`` or ``"GB"`` (10^6 and 10^9 bytes, as torchinfo);
    ``view`` is ``"tree"`` (PyTorch's repr) or ``"table"`` (output shape,
    parameters and multiply-adds per layer).
    """

    def __init__(
        self,
        model_name: str = "",
        *,
        parameter_format: ParameterFormat = "short",
        memory_units: MemoryUnits = "MB",
        view: View = "tree",
    ) -> None:
        self.model_name = model_name
        self.parameter_format = check_parameter_format(parameter_format)
        self.memory_units = check_memory_units(memory_units)
        self.view = check_view(view)

    def format_architecture(self, spec: ModelSpec) -> str:
        """The text :meth:`print_architecture` prints, without the final newline.

        Names and arguments come from user code: control characters in them are
        replaced (``?``) so that they cannot act on the terminal.
        """
        name = self.model_name or spec.name
        body = (
            format_tree(name, spec.layers)
            if self.view == "tree"
            else format_table(name, spec, self.parameter_format)
        )
        text = "\n".join(["Model Architecture:", body, "", *self.summary_lines(spec)])
        return printable(text, one_line=False)

    def summary_lines(self, spec: ModelSpec) -> list[str]:
        """Parameter totals, multiply-adds, training FLOPs (when known) and torchinfo-style size
        estimates, one per line."""
        count, units = self.parameter_format, self.memory_units

        def size(num_bytes: int) -> str:
            return format_size(num_bytes, units)

        lines = [
            f"Total parameters: {format_parameter_count(spec.total_params, count)}",
            f"Trainable parameters: {format_parameter_count(spec.trainable_params, count)}",
            f"Non-trainable parameters: {format_parameter_count(spec.non_trainable_params, count)}",
            "Total mult-adds ({}): {}".format(*format_operations(spec.total_mult_adds)),
        ]
        if spec.train_flops_per_example is not None:
            flops_unit, flops = format_operations(spec.train_flops_per_example)
            lines.append(f"Forward/backward FLOPs per example ({flops_unit}): {flops}")
        return [
            *lines,
            f"Input size ({units}): {size(spec.input_bytes)}",
            f"Forward/backward pass size ({units}): {size(spec.forward_backward_bytes)}",
            f"Params size ({units}): {size(spec.params_bytes)}",
            f"Estimated Total Size ({units}): {size(spec.total_bytes)}",
        ]

    def print_architecture(self, spec: ModelSpec, file: TextIO | None = None) -> None:
        """Print the architecture to ``file`` (standard output by default)."""
        out = sys.stdout if file is None else file
        out.write(encodable(self.format_architecture(spec), out) + "\n")  # an ASCII console degrades
        out.flush()
