"""What the architecture printer prints: a framework-neutral description of a model."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LayerSpec:
    """One layer of a model, as a PyTorch-style ``(name): Kind(args)`` line.

    ``params`` counts the layer's own parameters (not its children's);
    ``trainable_params`` defaults to ``params``. ``args`` is the text inside the
    parentheses. ``output_shape`` excludes the batch dimension; with ``per_example``
    False it is the whole output, made once for the batch (a table of positions).
    ``children`` makes the layer a block whose sub-layers print indented beneath it.
    ``mult_adds``: the multiply-adds of the layer's own forward pass (not its
    children's) for one example, fractional where work is shared by the batch; None
    when unknown. ``params_bytes`` (its own parameters) and ``output_dtype_bytes``
    default to the model's ``dtype_bytes``.
    """

    name: str
    kind: str
    args: str = ""
    params: int = 0
    trainable_params: int | None = None
    output_shape: tuple[int, ...] = ()
    children: Sequence[LayerSpec] = field(default_factory=tuple)
    mult_adds: float | None = None
    per_example: bool = True
    params_bytes: int | None = None
    output_dtype_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.params < 0:
            raise ValueError(f"layer {self.name!r}: params must be >= 0, got {self.params}")
        if self.mult_adds is not None and not (self.mult_adds >= 0 and math.isfinite(self.mult_adds)):
            raise ValueError(f"layer {self.name!r}: mult_adds must be >= 0 or None, got {self.mult_adds}")
        if (self.params_bytes is not None and self.params_bytes < 0) or (
            self.output_dtype_bytes is not None and self.output_dtype_bytes <= 0
        ):
            raise ValueError(
                f"layer {self.name!r}: params_bytes must be >= 0 and output_dtype_bytes positive, or None"
            )
        if self.trainable_params is None:
            object.__setattr__(self, "trainable_params", self.params)
        elif not 0 <= self.trainable_params <= self.params:
            raise ValueError(
                f"layer {self.name!r}: trainable_params must be between 0 and params "
                f"({self.params}), got {self.trainable_params}"
            )
        object.__setattr__(self, "output_shape", tuple(int(d) for d in self.output_shape))
        object.__setattr__(self, "children", tuple(self.children))

    @property
    def trainable(self) -> int:
        """Trainable parameters of this layer alone (``trainable_params`` resolved)."""
        return self.params if self.trainable_params is None else self.trainable_params

    def walk(self) -> Iterator[LayerSpec]:
        """This layer, then every descendant, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True)
class ModelSpec:
    """A model: its name, input shape (without batch), layers, and element size.

    ``dtype_bytes``: the element size of every array whose own is not given
    (``input_dtype_bytes`` for the input, a layer's ``params_bytes`` and
    ``output_dtype_bytes``).

    ``train_flops_per_example``: the FLOPs of the forward and backward pass of one
    example (the gradient of a loss), None when unknown.
    """

    name: str
    input_shape: tuple[int, ...]
    layers: Sequence[LayerSpec]
    dtype_bytes: int = 4
    batch_size: int = 1
    train_flops_per_example: float | None = None
    input_dtype_bytes: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_shape", tuple(int(d) for d in self.input_shape))
        object.__setattr__(self, "layers", tuple(self.layers))
        input_bytes = self.input_dtype_bytes
        if self.dtype_bytes <= 0 or self.batch_size <= 0 or (input_bytes is not None and input_bytes <= 0):
            raise ValueError("dtype_bytes, input_dtype_bytes and batch_size must be positive")
        flops = self.train_flops_per_example
        if flops is not None and not (math.isfinite(flops) and flops > 0):
            raise ValueError(f"train_flops_per_example must be a positive number or None, got {flops}")

    def walk(self) -> Iterator[LayerSpec]:
        """Every layer, nested ones included, depth first."""
        for layer in self.layers:
            yield from layer.walk()

    @property
    def total_params(self) -> int:
        return sum(layer.params for layer in self.walk())

    @property
    def trainable_params(self) -> int:
        return sum(layer.trainable for layer in self.walk())

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    @property
    def total_mult_adds(self) -> int | None:
        """Multiply-adds of one forward pass of the whole batch (torchinfo's "Total mult-adds"):
        ``batch_size`` x every layer's own ``mult_adds``; None when any layer's is unknown."""
        counts = [layer.mult_adds for layer in self.walk()]
        if any(count is None for count in counts):
            return None
        return round(self.batch_size * sum(count for count in counts if count is not None))

    @property
    def input_bytes(self) -> int:
        """Bytes of one batch of input."""
        return math.prod(self.input_shape) * self.batch_size * (self.input_dtype_bytes or self.dtype_bytes)

    @property
    def forward_backward_bytes(self) -> int:
        """2 x the output bytes of every layer that has parameters (torchinfo's rule); a layer
        whose output shape is unknown counts 0."""
        return 2 * sum(
            math.prod(layer.output_shape)
            * (self.batch_size if layer.per_example else 1)
            * (layer.output_dtype_bytes or self.dtype_bytes)
            for layer in self.walk()
            if layer.params > 0 and layer.output_shape
        )

    @property
    def params_bytes(self) -> int:
        return sum(
            layer.params * self.dtype_bytes if layer.params_bytes is None else layer.params_bytes
            for layer in self.walk()
        )

    @property
    def total_bytes(self) -> int:
        return self.input_bytes + self.forward_backward_bytes + self.params_bytes
