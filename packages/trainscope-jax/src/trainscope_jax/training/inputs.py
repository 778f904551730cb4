"""The checks of what a trainer is given against its model: batches, labels and data sets.

Owns the model's input shape once known (given, or adopted from the first data) and its
number of classes, read from the model's output shape.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from trainscope_jax.data.datasets import ArrayDataset, DataError, Dataset
from trainscope_jax.training.steps import TrainingSteps

DataArg = Dataset | tuple[Any, Any]
"""What ``fit`` takes as data: a data set or an ``(images, labels)`` pair of arrays."""


class InputCheck:
    """Checks inputs for the model of ``steps`` (its adapter, state and devices)."""

    def __init__(self, steps: TrainingSteps) -> None:
        self.steps = steps
        self.classes: int | None = None
        """The model's number of outputs, once read."""

    def expect(self, shape: tuple[int, ...], what: str) -> int:
        """The number of classes the model gives for inputs of ``shape`` per example.

        The first call checks that the model takes that shape and adopts it as the model's.
        """
        if self.classes is None:
            adapter, state = self.steps.adapter, self.steps.current
            try:
                out = adapter.output_shape(state.params, state.model_state, shape)
            except Exception as exc:  # any framework error: one line naming the shapes
                raise DataError(
                    f"the model cannot take {what} of shape {shape} per example (channels-first): "
                    f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                ) from exc
            if len(out) != 1:
                raise DataError(
                    f"the model's output has shape {out} per example; training needs one logit per class"
                )
            adapter.input_shape, self.classes = shape, out[0]
        return self.classes

    def batch(self, inputs: Any, labels: Any) -> None:
        """Refuse a batch (labels None: inputs only) the model or the devices cannot take."""
        shape, expected = tuple(inputs.shape[1:]), self.steps.adapter.input_shape
        if expected is not None and shape != expected:
            raise ValueError(f"inputs have shape {shape} per example but the model takes {expected}")
        classes = self.expect(shape, "inputs")
        if labels is None:
            return
        parallel = self.steps.parallel
        if isinstance(inputs, jax.Array) and not inputs.is_fully_addressable:
            parallel.check_batch_size(inputs.shape[0], "a batch of")
        else:
            parallel.check_batch_size(len(inputs) * parallel.process_count, "a batch of")
        if len(labels) != len(inputs):
            raise ValueError(f"{len(labels)} labels for {len(inputs)} inputs")
        if isinstance(labels, np.ndarray) and labels.size and (labels.min() < 0 or labels.max() >= classes):
            raise ValueError(
                f"labels must be class indices 0..{classes - 1}, got {labels.min()}..{labels.max()}"
            )

    def dataset(self, data: DataArg, role: str) -> Dataset:
        """``data`` as a data set, checked against the model (``role``: training or validation)."""
        dataset: Dataset = ArrayDataset(*data) if isinstance(data, tuple) else data
        if len(dataset) == 0:
            raise DataError(f"the {role} data is empty")
        expected = self.steps.adapter.input_shape
        if expected is not None and tuple(dataset.input_shape) != expected:
            raise DataError(
                f"the {role} images have shape {tuple(dataset.input_shape)} but the model takes "
                f"{expected}: create the model for the data's shape, or resize the images"
            )
        classes = self.expect(tuple(dataset.input_shape), f"{role} images")
        if dataset.num_classes > classes:
            raise DataError(
                f"the {role} data has {dataset.num_classes} classes but the model has {classes} outputs: "
                "create the model with num_classes set to the data's number of classes"
            )
        return dataset


__all__ = ["DataArg", "InputCheck"]
