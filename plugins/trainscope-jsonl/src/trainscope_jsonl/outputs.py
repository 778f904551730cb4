"""Files the commands write (an image, a report): a failure becomes one line, never a traceback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import click

from trainscope.plugin_api import printable


@contextlib.contextmanager
def one_line_errors(output: Path) -> Iterator[None]:
    """Turn a ``ValueError`` (nothing to draw) or an ``OSError`` (no such folder, no room, no
    permission) raised in the block into a one-line :class:`click.ClickException` naming ``output``."""
    try:
        yield
    except ValueError as exc:
        raise click.ClickException(printable(exc)) from None
    except OSError as exc:
        raise click.ClickException(
            printable(f"cannot write {str(output)!r}: {exc.strerror or exc}")
        ) from None
