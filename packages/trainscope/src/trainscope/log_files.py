"""Where reporters write a run's files: the log folder and a run name safe in file names."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from trainscope import environment_variables as env_vars

DEFAULT_LOG_DIR = "runs"
"""Where run files go when ``TRAINSCOPE_LOG_DIR`` is not set (relative to the working directory)."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def log_directory(environ: Mapping[str, str] | None = None) -> Path:
    """``TRAINSCOPE_LOG_DIR`` (``~`` expanded), or ``runs`` when unset or empty."""
    value = (os.environ if environ is None else environ).get(env_vars.TRAINSCOPE_LOG_DIR, "")
    return Path(value.strip() or DEFAULT_LOG_DIR).expanduser()


@contextmanager
def log_directory_set(folder: Path | str | None) -> Iterator[None]:
    """Within the block, run files go to ``folder`` (``TRAINSCOPE_LOG_DIR``); None changes nothing.

    For a command that owns its process (``trainscope train --log-dir``); the variable is
    restored after the block.
    """
    if folder is None:
        yield
        return
    previous = os.environ.get(env_vars.TRAINSCOPE_LOG_DIR)
    os.environ[env_vars.TRAINSCOPE_LOG_DIR] = str(folder)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(env_vars.TRAINSCOPE_LOG_DIR, None)
        else:
            os.environ[env_vars.TRAINSCOPE_LOG_DIR] = previous


def safe_run_name(run_name: str) -> str:
    """``run_name`` for a file name: characters other than letters, digits, ``.``, ``_`` and
    ``-`` as ``_``, at most 64 characters, ``run`` when nothing is left."""
    return _UNSAFE.sub("_", run_name).strip("._")[:64] or "run"


__all__ = ["DEFAULT_LOG_DIR", "log_directory", "log_directory_set", "safe_run_name"]
