"""Where a run's event files go."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from trainscope.plugin_api import DEFAULT_LOG_DIR, PluginFatalError, log_directory, safe_run_name
from trainscope.plugin_api import environment_variables as core_env
from trainscope_tensorboard import environment_variables as env_vars


class TensorBoardDirectoryError(PluginFatalError, OSError):
    """The run folder or its event file cannot be created; the message names the path and the fix.

    Raised at ``trainscope_train_start``, it stops the run before the first epoch.
    """


def tensorboard_directory(environ: Mapping[str, str] | None = None) -> Path:
    """``TRAINSCOPE_TENSORBOARD_DIR``, else ``tensorboard`` in ``TRAINSCOPE_LOG_DIR`` (default
    ``runs``); ``~`` expanded in both."""
    environ = os.environ if environ is None else environ
    chosen = environ.get(env_vars.TRAINSCOPE_TENSORBOARD_DIR, "").strip()
    if chosen:
        return Path(chosen).expanduser()
    return log_directory(environ) / "tensorboard"


def run_folder_name(run_name: str, run_id: str) -> str:
    """``CatDogCNN-3ab1ac0a``: the run's name (unsafe characters as ``_``), 8 characters of its id."""
    return f"{safe_run_name(run_name)}-{run_id[:8]}"


def directory_error(path: Path, exc: OSError) -> TensorBoardDirectoryError:
    """The error for a run folder that cannot be written, naming the path and the ways out."""
    return TensorBoardDirectoryError(
        exc.errno,
        f"trainscope-tensorboard cannot write TensorBoard events in {str(path)!r}: {exc.strerror or exc}. "
        f"Set {env_vars.TRAINSCOPE_TENSORBOARD_DIR} to a writable folder, "
        f"or block the reporter with {core_env.TRAINSCOPE_DISABLE_PLUGINS}=tensorboard",
    )


__all__ = [
    "DEFAULT_LOG_DIR",
    "TensorBoardDirectoryError",
    "directory_error",
    "run_folder_name",
    "tensorboard_directory",
]
