"""What ``trainscope train`` sets up before training: the processes of a multi-process run, the
data (the embedded digits or an image folder), and the devices as the last line names them.

JAX is imported inside the functions, so that ``--help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from trainscope_jax.data.datasets import Dataset
    from trainscope_jax.training.trainer import ModelTrainer

VALIDATION_FOLDERS = ("validation", "val", "valid", "test")
"""The sub-folders of an image folder taken as its validation set, the first found."""


def start_processes(
    coordinator: str | None, num_processes: int | None, process_id: int | None, detect: bool
) -> bool:
    """Join the multi-process run the options describe (``jax.distributed``); nothing without them.

    True when this process joined one.
    """
    given = {"--coordinator": coordinator, "--num-processes": num_processes, "--process-id": process_id}
    if not detect and all(value is None for value in given.values()):
        return False
    missing = [name for name, value in given.items() if value is None]
    if not detect and missing:
        raise click.BadParameter(
            f"several processes need --coordinator, --num-processes and --process-id together "
            f"(missing {', '.join(missing)}), or --distributed on a cluster JAX detects (SLURM, Open MPI)",
            param_hint=missing[0],
        )
    from trainscope_jax.training.distributed import (
        DistributedError,
        check_coordinator,
        initialize_distributed,
    )

    if coordinator is not None:
        try:
            check_coordinator(coordinator)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--coordinator") from None
    if process_id is not None and num_processes is not None and process_id >= num_processes:
        raise click.BadParameter(
            f"{process_id} is not one of 0..{num_processes - 1}: number the {num_processes} processes from 0",
            param_hint="--process-id",
        )
    try:
        initialize_distributed(coordinator, num_processes, process_id)
    except DistributedError as exc:
        raise click.ClickException(str(exc)) from None
    return True


def devices_text(trainer: ModelTrainer) -> str:
    """What trained: ``cpu``, ``4 x cpu``, ``4 x cpu in 2 processes``."""
    parallel, device = trainer.parallel, trainer.device_choice.device
    if parallel.size == 1:
        return device
    processes = f" in {parallel.process_count} processes" if parallel.multi_process else ""
    return f"{parallel.size} x {device}{processes}"


def load_data(
    data: str, image_size: tuple[int, int] | None, validation_split: float, seed: int
) -> tuple[Dataset, Dataset]:
    """(training, validation) for ``--data``: ``digits`` or a folder of class sub-folders.

    A folder with ``train/`` and ``validation/`` (or ``val/``) sub-folders is used as
    split; any other folder is split at random by ``validation_split``.
    """
    from trainscope_jax.data.datasets import ImageFolder, load_digits, random_split

    if data == "digits":
        if image_size is not None:
            raise click.BadParameter(
                "the embedded digits are 8x8 and are not resized: --image-size applies to image "
                "folders only; leave it out",
                param_hint="--image-size",
            )
        return load_digits()
    root = Path(data).expanduser()
    resize = image_size is not None
    train_dir = root / "train"
    val_dir = next((root / name for name in VALIDATION_FOLDERS if (root / name).is_dir()), None)
    if val_dir is not None and not train_dir.is_dir():
        raise click.BadParameter(
            f"'{root}' has a {val_dir.name}/ folder but no train/ folder: put the training "
            f"images in '{train_dir}' (one sub-folder per class), or rename '{val_dir}' if "
            f"{val_dir.name!r} is a class",
            param_hint="--data",
        )
    if train_dir.is_dir() and val_dir is None:
        return random_split(ImageFolder(train_dir, image_size, resize=resize), validation_split, seed=seed)
    if train_dir.is_dir() and val_dir is not None:
        train = ImageFolder(train_dir, image_size, resize=resize)
        size = train.image_size
        validation = ImageFolder(val_dir, size, resize=resize)
        if validation.class_names != train.class_names:
            raise click.BadParameter(
                f"'{val_dir}' has classes {list(validation.class_names)} but '{train_dir}' has "
                f"{list(train.class_names)}: use the same class folders in both",
                param_hint="--data",
            )
        return train, validation
    folder = ImageFolder(root, image_size, resize=resize)
    return random_split(folder, validation_split, seed=seed)


__all__ = ["VALIDATION_FOLDERS", "devices_text", "load_data", "start_processes"]
