"""MLflow's local stores (a SQLite database, a folder): can the reporter write there?

MLflow retries opening a SQLite database it cannot create for about 100 s, so a store in a
folder that cannot be written is checked at once instead, with a real write.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from trainscope.plugin_api import printable
from trainscope_mlflow.tracking import MlflowTrackingError, blocked_hint, shown_uri


def local_store_path(uri: str) -> tuple[Path, bool] | None:
    """The file of a ``sqlite:///`` store or the folder of a ``file:`` or plain-path store, and whether
    it is a database; None for other stores (a server, an in-memory or ``file:`` URI database)."""
    scheme = urlsplit(uri).scheme
    if scheme == "sqlite":
        database = uri.partition(":///")[2].partition("?")[0]
        if database in ("", ":memory:") or database.startswith("file:"):
            return None
        return Path(database), True
    if scheme == "file":
        return Path(url2pathname(urlsplit(uri).path)), False
    if len(scheme) <= 1 and uri != "databricks":  # a plain path (a Windows drive letter looks like a scheme)
        return Path(uri), False
    return None


def check_store_writable(uri: str) -> None:
    """Raise :class:`MlflowTrackingError` when the local store at ``uri`` cannot be written."""
    found = local_store_path(uri)
    if found is None:
        return
    path, is_database = found
    try:
        if is_database and path.exists():
            os.close(os.open(path, os.O_RDWR))
        _write_in(path.parent if is_database else path)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        place = printable(str(Path(exc.filename or path).absolute()))
        raise MlflowTrackingError(
            f"trainscope-mlflow cannot write the MLflow store {shown_uri(uri)!r}: {reason}: {place!r}. "
            "Run in a folder you can write, or set MLFLOW_TRACKING_URI to a store you can write "
            f"or to a tracking server, {blocked_hint()}"
        ) from exc


def _write_in(folder: Path) -> None:
    """Create and remove a file in ``folder``, or in its nearest existing parent (nothing is created)."""
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(existing))
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(existing)) from exc


__all__ = ["check_store_writable", "local_store_path"]
