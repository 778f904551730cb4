"""Data sets, batching and prefetching."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import jax
import numpy as np
import pytest
from PIL import Image

from trainscope_jax import (
    ArrayDataset,
    BatchLoader,
    DataError,
    ImageFolder,
    load_digits,
    prefetch_to_device,
    random_split,
    synthetic_dataset,
)
from trainscope_jax.training.batching import evaluation_batches, padded_batch


def write_images(
    root: Path, counts: dict[str, int], size: tuple[int, int] = (6, 5), mode: str = "RGB"
) -> None:
    rng = np.random.default_rng(0)
    for name, count in counts.items():
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(count):
            shape = (size[0], size[1], 3) if mode == "RGB" else size
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(folder / f"{i}.png")


def test_embedded_digits_split() -> None:
    train, validation = load_digits()
    assert (len(train), len(validation)) == (1437, 360)
    assert train.input_shape == (1, 8, 8)
    assert train.num_classes == 10
    assert train.images.min() == 0.0
    assert train.images.max() == 1.0
    assert set(np.unique(validation.labels)) == set(range(10))
    again, _ = load_digits()
    np.testing.assert_array_equal(again.labels, train.labels)
    readme = (resources.files("trainscope_jax") / "data" / "README.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in readme
    assert "10.24432/C50P49" in readme


def test_image_folder_reads_classes_from_sub_folders(tmp_path: Path) -> None:
    write_images(tmp_path, {"dogs": 3, "cats": 2})
    (tmp_path / "cats" / "notes.txt").write_text("not an image")
    data = ImageFolder(tmp_path)
    assert data.class_names == ("cats", "dogs")
    assert len(data) == 5
    assert data.input_shape == (3, 6, 5)
    images, labels = data.get_batch(np.array([0, 4]))
    assert images.shape == (2, 3, 6, 5)
    assert images.dtype == np.float32
    assert labels.tolist() == [0, 1]
    pixels = np.asarray(Image.open(tmp_path / "dogs" / "2.png"), np.float32) / 255
    np.testing.assert_allclose(images[1], pixels.transpose(2, 0, 1))
    loaded = data.load()
    assert isinstance(loaded, ArrayDataset)
    assert loaded.images.shape == (5, 3, 6, 5)


def test_image_folder_grayscale_and_resize(tmp_path: Path) -> None:
    write_images(tmp_path, {"a": 1, "b": 1}, size=(6, 5))
    Image.fromarray(np.zeros((9, 9, 3), np.uint8)).save(tmp_path / "b" / "big.png")
    data = ImageFolder(tmp_path, (4, 4), grayscale=True, resize=True)
    images, _ = data.get_batch(np.arange(3))
    assert data.input_shape == (1, 4, 4)
    assert images.shape == (3, 1, 4, 4)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "does not exist"),
        ("empty", "no class folders in"),
        ("empty-class", "class folder '.*b' has no images"),
        ("one-class", "classification needs two or more"),
        ("unreadable", "cannot read image '.*broken.png'"),
        ("other-size", r"image '.*odd.png' is 7x7 pixels .* but the first image '.*' is 6x5"),
    ],
)
def test_image_folder_errors_name_the_problem(tmp_path: Path, setup: str, message: str) -> None:
    root = tmp_path / "data"
    if setup != "missing":
        root.mkdir()
    if setup == "empty-class":
        write_images(root, {"a": 1})
        (root / "b").mkdir()
    if setup == "one-class":
        write_images(root, {"a": 2})
    if setup == "unreadable":
        write_images(root, {"a": 1, "b": 1})
        (root / "b" / "broken.png").write_bytes(b"not a png")
    if setup == "other-size":
        write_images(root, {"a": 1, "b": 1})
        Image.fromarray(np.zeros((7, 7, 3), np.uint8)).save(root / "b" / "odd.png")
    with pytest.raises(DataError, match=message):
        ImageFolder(root)


def test_array_dataset_checks_labels() -> None:
    with pytest.raises(DataError, match="label 3 at index 1 is out of range for 3 classes"):
        ArrayDataset(np.zeros((2, 4)), np.array([0, 3]), num_classes=3)
    with pytest.raises(DataError, match="one integer per image"):
        ArrayDataset(np.zeros((2, 4)), np.array([0, 1, 2]))
    with pytest.raises(DataError, match="integers"):
        ArrayDataset(np.zeros((2, 4)), np.array([0.5, 1.0]))
    with pytest.raises(DataError, match="empty"):
        ArrayDataset(np.zeros((0, 4)), np.zeros(0, np.int64))


def test_batches_are_shuffled_by_seed_and_epoch() -> None:
    data = ArrayDataset(np.arange(10, dtype=np.float32)[:, None], np.arange(10) % 2)

    def order(seed: int, epoch: int) -> list[int]:
        loader = BatchLoader(data, 3, seed=seed)
        return [int(v) for images, _ in loader.epoch(epoch) for v in images[:, 0]]

    assert len(BatchLoader(data, 3)) == 3
    assert len(order(0, 1)) == 9
    assert len(set(order(0, 1))) == 9
    assert order(0, 1) == order(0, 1)
    assert order(0, 1) != order(0, 2)
    assert order(0, 1) != order(1, 1)
    unshuffled = [int(v) for images, _ in BatchLoader(data, 5, shuffle=False).epoch(1) for v in images[:, 0]]
    assert unshuffled == list(range(10))
    with pytest.raises(DataError, match="batch size 11 is larger than the 10 training examples"):
        BatchLoader(data, 11)


def test_evaluation_batches_cover_every_example_once_with_a_mask() -> None:
    data = ArrayDataset(np.arange(10, dtype=np.float32)[:, None], np.arange(10) % 2)
    batches = evaluation_batches(data, 4)
    assert [len(b) for b in batches] == [4, 3, 3]
    assert np.concatenate(batches).tolist() == list(range(10))
    images, _labels, mask = padded_batch(data, batches[-1], 4)
    assert images.shape == (4, 1)
    assert mask.tolist() == [True, True, True, False]


@pytest.mark.parametrize("background", [False, True])
def test_prefetch_keeps_order_and_puts_batches_on_the_device(background: bool) -> None:
    batches = [(np.full((2,), i, np.float32),) for i in range(5)]
    out = list(prefetch_to_device(iter(batches), background=background))
    assert [int(b[0][0]) for b in out] == list(range(5))
    assert all(isinstance(b[0], jax.Array) for b in out)
    host = list(prefetch_to_device(iter(batches), background=background, transfer=False))
    assert all(type(b[0]) is np.ndarray for b in host)
    assert [int(b[0][0]) for b in host] == list(range(5))


def test_background_prefetch_reraises_data_errors() -> None:
    def broken():  # type: ignore[no-untyped-def]
        yield (np.zeros(2),)
        raise DataError("bad image")

    stream = prefetch_to_device(broken(), background=True)
    next(stream)
    with pytest.raises(DataError, match="bad image"):
        next(stream)


def test_random_split_and_synthetic_data() -> None:
    data = synthetic_dataset(20, (2, 3, 3), 4, seed=1)
    assert data.input_shape == (2, 3, 3)
    assert data.num_classes == 4
    assert len(data) == 20
    train, validation = random_split(data, 0.25, seed=0)
    assert (len(train), len(validation)) == (15, 5)
    assert not set(train.indices) & set(validation.indices)
    _images, labels = validation.get_batch(np.arange(5))
    np.testing.assert_array_equal(labels, data.labels[validation.indices])
