"""Output files written whole: to a new file first, then renamed onto the target."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


@contextlib.contextmanager
def replaced_whole(path: Path) -> Iterator[BinaryIO]:
    """A new file next to ``path`` to write; on success it is synced and renamed onto ``path``.

    The rename replaces the folder entry, so whatever was at ``path`` is never written
    through (a hard link of it elsewhere keeps its content). On an error the new file is
    removed and ``path`` is left as it was. The file gets the usual permissions (umask).
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


__all__ = ["replaced_whole"]
