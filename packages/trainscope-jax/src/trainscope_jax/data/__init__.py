"""Data: data sets (in memory, image folders, synthetic), splits, and the embedded
handwritten digits that ship in this folder (see README.md here for their source)."""

from __future__ import annotations

from trainscope_jax.data.datasets import (
    ArrayDataset,
    DataError,
    Dataset,
    ImageFolder,
    Subset,
    load_digits,
    random_split,
    synthetic_dataset,
)

__all__ = [
    "ArrayDataset",
    "DataError",
    "Dataset",
    "ImageFolder",
    "Subset",
    "load_digits",
    "random_split",
    "synthetic_dataset",
]
