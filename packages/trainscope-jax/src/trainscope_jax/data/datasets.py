"""Data sets: arrays in memory, the embedded digits, image folders, synthetic data.

Every data set gives channels-first float32 images and int32 labels through
``get_batch(indices)``; ``in_memory`` tells the trainer whether reading a batch is
cheap (else it reads batches on a background thread, overlapping device work).
"""

from __future__ import annotations

import contextlib
import math
import struct
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

Shape = tuple[int, ...]
Batch = tuple[NDArray[np.float32], NDArray[np.int32]]

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm"})
"""File name endings ``ImageFolder`` reads; other files are ignored."""


class DataError(ValueError):
    """A data set cannot be used as given; the message names the problem and the fix."""


@runtime_checkable
class Dataset(Protocol):
    """What the trainer needs of a data set."""

    input_shape: Shape
    num_classes: int
    class_names: tuple[str, ...]
    in_memory: bool

    def __len__(self) -> int: ...

    def get_batch(self, indices: NDArray[np.intp]) -> Batch:
        """Images (channels-first float32) and int32 labels of the examples at ``indices``."""
        ...


class ArrayDataset:
    """Images and labels already in memory; images are channels-first, ``(N, C, H, W)`` or ``(N, D)``."""

    in_memory = True

    def __init__(
        self,
        images: ArrayLike,
        labels: ArrayLike,
        *,
        num_classes: int | None = None,
        class_names: Sequence[str] | None = None,
    ) -> None:
        self.images = np.ascontiguousarray(images, dtype=np.float32)
        raw_labels = np.asarray(labels)
        if self.images.ndim < 2:
            raise DataError(
                f"images must have a batch dimension and at least one more, got {self.images.shape}"
            )
        if raw_labels.ndim != 1 or len(raw_labels) != len(self.images):
            raise DataError(
                f"labels must be one integer per image: got labels of shape {raw_labels.shape} "
                f"for {len(self.images)} images"
            )
        if len(raw_labels) == 0:
            raise DataError("the data set is empty: give at least one image and label")
        if not np.issubdtype(raw_labels.dtype, np.integer):
            raise DataError(f"labels must be integers (class indices), got dtype {raw_labels.dtype}")
        if class_names is not None and num_classes is None:
            num_classes = len(class_names)
        if num_classes is None:
            num_classes = int(raw_labels.max()) + 1
        _check_labels(raw_labels, num_classes)
        self.labels = raw_labels.astype(np.int32)
        self.num_classes = num_classes
        self.class_names = (
            tuple(class_names) if class_names is not None else tuple(map(str, range(num_classes)))
        )
        if len(self.class_names) != num_classes:
            raise DataError(f"{len(self.class_names)} class names given for {num_classes} classes")
        self.input_shape: Shape = tuple(self.images.shape[1:])

    def __len__(self) -> int:
        return len(self.labels)

    def get_batch(self, indices: NDArray[np.intp]) -> Batch:
        return self.images[indices], self.labels[indices]

    def subset(self, indices: ArrayLike) -> ArrayDataset:
        """The examples at ``indices`` as a new data set with the same classes."""
        idx = np.asarray(indices, dtype=np.intp)
        return ArrayDataset(self.images[idx], self.labels[idx], class_names=self.class_names)


def _check_labels(labels: NDArray[np.integer], num_classes: int) -> None:
    bad = (labels < 0) | (labels >= num_classes)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(
            f"label {int(labels[i])} at index {i} is out of range for {num_classes} classes: "
            f"labels must be class indices 0..{num_classes - 1}"
        )


def load_digits() -> tuple[ArrayDataset, ArrayDataset]:
    """The embedded UCI handwritten digits: (training, validation), images ``(1, 8, 8)`` in [0, 1].

    1,437 training and 360 validation images, always the same split. Data by
    E. Alpaydin and C. Kaynak (1998), CC BY 4.0; see the package's ``data/README.md``.
    """
    source = resources.files("trainscope_jax.data") / "digits.npz"
    with source.open("rb") as handle, np.load(handle) as arrays:
        parts = {name: arrays[name] for name in arrays.files}
    names = tuple(str(d) for d in range(10))

    def build(split: str) -> ArrayDataset:
        images = parts[f"{split}_images"].astype(np.float32)[:, None] / 16.0
        return ArrayDataset(images, parts[f"{split}_labels"], class_names=names)

    return build("train"), build("validation")


def synthetic_dataset(
    size: int, input_shape: Sequence[int], num_classes: int, *, seed: int = 0, noise: float = 0.5
) -> ArrayDataset:
    """Learnable random data for benchmarks: one fixed pattern per class plus noise."""
    rng = np.random.default_rng(seed)
    shape = tuple(int(d) for d in input_shape)
    patterns = rng.normal(size=(num_classes, *shape)).astype(np.float32)
    labels = rng.integers(0, num_classes, size=size)
    images = patterns[labels] + noise * rng.normal(size=(size, *shape)).astype(np.float32)
    return ArrayDataset(images, labels, num_classes=num_classes)


class ImageFolder:
    """Images in one sub-folder per class (``root/cats/*.png``, ``root/dogs/*.png``), read with Pillow.

    Classes are the sub-folders in sorted order. Every image must have ``image_size``
    (``(height, width)`` or one int; default: the first image's size) unless
    ``resize`` is true. Files are checked when the data set is made and decoded
    when a batch is read; ``load()`` reads them all into memory.
    """

    in_memory = False

    def __init__(
        self,
        root: str | Path,
        image_size: int | tuple[int, int] | None = None,
        *,
        grayscale: bool = False,
        resize: bool = False,
    ) -> None:
        self.root = Path(root)
        self.mode = "L" if grayscale else "RGB"
        self.resize = resize
        if resize and image_size is None:
            raise DataError("resize=True needs an image_size to resize to")
        files, labels, class_names = _scan(self.root)
        self.files: tuple[Path, ...] = tuple(files)
        self.labels = np.asarray(labels, dtype=np.int32)
        self.class_names = tuple(class_names)
        self.num_classes = len(class_names)
        size = (image_size, image_size) if isinstance(image_size, int) else image_size
        self.image_size: tuple[int, int] = self._check_images(size)
        self.input_shape: Shape = (1 if grayscale else 3, *self.image_size)

    def _check_images(self, size: tuple[int, int] | None) -> tuple[int, int]:
        """Every file's size, and its integrity where that is cheap (PNG chunk checksums, so a
        truncated file is found before training rather than in the middle of an epoch)."""
        from PIL import Image

        first: Path | None = None
        for path in self.files:
            with _reading(path), Image.open(path) as image:
                width, height = image.size
                image.verify()
            if size is None:
                size, first = (height, width), path
            elif not self.resize and (height, width) != size:
                origin = f"the first image '{first}'" if first else "image_size"
                raise DataError(
                    f"image '{path}' is {height}x{width} pixels (height x width) but {origin} "
                    f"is {size[0]}x{size[1]}: resize the images to one size, or give an image size "
                    "to resize them while reading"
                )
        assert size is not None
        return size

    def __len__(self) -> int:
        return len(self.files)

    def read_image(self, index: int) -> NDArray[np.float32]:
        """One image, decoded, channels-first, scaled to [0, 1]."""
        from PIL import Image

        path = self.files[index]
        with _reading(path), Image.open(path) as image:
            image = image.convert(self.mode)
            if self.resize and image.size != (self.image_size[1], self.image_size[0]):
                image = image.resize((self.image_size[1], self.image_size[0]), Image.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype=np.float32) / 255.0
        if pixels.shape[:2] != self.image_size:
            raise DataError(f"image '{path}' changed size while training: {pixels.shape[:2]}")
        return pixels[None] if pixels.ndim == 2 else np.transpose(pixels, (2, 0, 1))

    def get_batch(self, indices: NDArray[np.intp]) -> Batch:
        images = np.stack([self.read_image(int(i)) for i in indices])
        return images, self.labels[indices]

    def load(self) -> ArrayDataset:
        """Every image decoded into memory."""
        images, labels = self.get_batch(np.arange(len(self), dtype=np.intp))
        return ArrayDataset(images, labels, class_names=self.class_names)


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Turn what Pillow raises for a broken, truncated or oversized file into a DataError naming it."""
    from PIL import Image, UnidentifiedImageError

    try:
        yield
    except Image.DecompressionBombError as exc:
        raise DataError(
            f"image '{path}' is too large to decode safely ({exc}); remove it, or shrink it before training"
        ) from None
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, struct.error) as exc:
        raise DataError(f"cannot read image '{path}': {exc}; remove or replace the file") from None


def _scan(root: Path) -> tuple[list[Path], list[int], list[str]]:
    if not root.exists():
        raise DataError(f"data folder '{root}' does not exist: give a folder with one sub-folder per class")
    if not root.is_dir():
        raise DataError(f"'{root}' is not a folder: give a folder with one sub-folder per class")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise DataError(
            f"no class folders in '{root}': put the images in one sub-folder per class (e.g. cats/, dogs/)"
        )
    files: list[Path] = []
    labels: list[int] = []
    for label, folder in enumerate(class_dirs):
        images = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
        if not images:
            endings = ", ".join(sorted(IMAGE_EXTENSIONS))
            raise DataError(f"class folder '{folder}' has no images ({endings}): add images or remove it")
        files.extend(images)
        labels.extend([label] * len(images))
    if len(class_dirs) < 2:
        raise DataError(
            f"'{root}' has one class folder ('{class_dirs[0].name}'): classification needs two or more"
        )
    return files, labels, [p.name for p in class_dirs]


class Subset:
    """The examples of ``dataset`` at ``indices``."""

    def __init__(self, dataset: Dataset, indices: ArrayLike) -> None:
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.intp)
        self.input_shape = dataset.input_shape
        self.num_classes = dataset.num_classes
        self.class_names = dataset.class_names
        self.in_memory = dataset.in_memory

    def __len__(self) -> int:
        return len(self.indices)

    def get_batch(self, indices: NDArray[np.intp]) -> Batch:
        return self.dataset.get_batch(self.indices[indices])


def random_split(dataset: Dataset, validation_fraction: float, *, seed: int = 0) -> tuple[Subset, Subset]:
    """(training, validation) subsets, ``validation_fraction`` of the examples in the second."""
    if not 0 < validation_fraction < 1:
        raise DataError(f"validation fraction must be between 0 and 1, got {validation_fraction}")
    n = len(dataset)
    n_val = min(max(1, math.floor(n * validation_fraction)), n - 1)
    if n < 2:
        raise DataError(f"cannot split {n} example into training and validation: add more data")
    perm = np.random.default_rng(seed).permutation(n)
    return Subset(dataset, np.sort(perm[n_val:])), Subset(dataset, np.sort(perm[:n_val]))


__all__ = [
    "IMAGE_EXTENSIONS",
    "ArrayDataset",
    "DataError",
    "Dataset",
    "ImageFolder",
    "Subset",
    "load_digits",
    "random_split",
    "synthetic_dataset",
]
