"""The PyTorch ``repr``-style tree: ``Name(`` then one indented ``(name): Kind(args)`` per layer."""

from __future__ import annotations

from collections.abc import Sequence

from trainscope.plugin_api import LayerSpec


def _indent(text: str) -> str:
    """Indent every line after the first by two spaces, as PyTorch's ``_addindent``."""
    first, *rest = text.split("\n")
    return "\n".join([first, *("  " + line for line in rest)])


def module_repr(kind: str, args: str, children: Sequence[LayerSpec]) -> str:
    """One module as PyTorch prints it: ``Kind(args)``, or a block with its children beneath.

    A block's ``args`` go on their own line inside it, as PyTorch's ``extra_repr`` does.
    """
    lines = [args] if args and children else []
    lines += [f"({child.name}): {_indent(layer_repr(child))}" for child in children]
    if not lines:
        return f"{kind}({args})"
    return f"{kind}(\n  " + "\n  ".join(lines) + "\n)"


def layer_repr(layer: LayerSpec) -> str:
    """A layer and its children, un-indented."""
    return module_repr(layer.kind, layer.args, layer.children)


def format_tree(model_name: str, layers: Sequence[LayerSpec]) -> str:
    """The whole model as a PyTorch-style tree."""
    return module_repr(model_name, "", layers)
