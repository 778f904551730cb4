"""A plugin with a misspelt hook name, for tests."""

from __future__ import annotations

from trainscope import hookimpl


@hookimpl
def trainscope_epoch_ended(epoch: int) -> None:
    """Misspelt: the hook is trainscope_epoch_end."""
