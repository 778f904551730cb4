"""TensorBoard event files for trainscope runs: step scalars, epoch means, hyper-parameters, architecture."""

from __future__ import annotations

__version__ = "0.1.0"

from trainscope_tensorboard.directory import (
    DEFAULT_LOG_DIR,
    TensorBoardDirectoryError,
    run_folder_name,
    tensorboard_directory,
)

__all__ = [
    "DEFAULT_LOG_DIR",
    "TensorBoardDirectoryError",
    "__version__",
    "run_folder_name",
    "tensorboard_directory",
]
