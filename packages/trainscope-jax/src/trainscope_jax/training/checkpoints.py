"""The trainer's state saved at each epoch end, and restored when ``fit`` resumes a run.

A run's checkpoints are in ``FOLDER/RUN_ID/``, one ``epoch-N.npz`` per epoch (NumPy's archive of
every array of the :class:`~trainscope_jax.training.steps.TrainState`: parameters, model state,
optimizer state, the step key and count), written whole (a new file, synced, then renamed) just
before the epoch's end is reported, the newest :data:`KEEP` kept. So the run log never holds an
epoch end whose checkpoint is missing: a resumed ``fit`` restores the epoch the log ended last.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from trainscope import ResumeError, ResumePoint
from trainscope_jax.training.sharding import DataParallel
from trainscope_jax.training.steps import TrainState

KEEP = 2
"""Checkpoints kept per run: the newest epoch's, and the one before (the log may not have its end yet)."""
_NAME = re.compile(r"epoch-(\d+)\.npz")


class CheckpointError(OSError):
    """A checkpoint could not be written or read; the message names the file and what to do."""


def _is_key(leaf: Any) -> bool:
    return isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key)


class Checkpoints:
    """The checkpoints of run ``run_id`` in ``folder`` (``folder/run_id/epoch-N.npz``)."""

    def __init__(self, folder: str | os.PathLike[str], run_id: str) -> None:
        self.folder = Path(folder) / run_id

    def path(self, epoch: int) -> Path:
        return self.folder / f"epoch-{epoch}.npz"

    def epochs(self) -> list[int]:
        """The epochs that have a checkpoint, in order."""
        try:
            names = [entry.name for entry in os.scandir(self.folder)]
        except FileNotFoundError:
            return []
        return sorted(int(match[1]) for name in names if (match := _NAME.fullmatch(name)))

    def save(self, epoch: int, state: TrainState, parallel: DataParallel) -> None:
        """Write epoch ``epoch``'s checkpoint of ``state`` (process 0 only), then drop the older ones."""
        if parallel.process_index:
            return  # the state is replicated: process 0's copy is everyone's
        leaves = jax.tree_util.tree_leaves(parallel.local_copy(state))
        arrays = [
            np.asarray(jax.device_get(jax.random.key_data(leaf) if _is_key(leaf) else leaf))
            for leaf in leaves
        ]
        path = self.path(epoch)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with temporary.open("xb") as file:
                np.savez(file, *arrays)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise CheckpointError(
                f"cannot write the checkpoint of epoch {epoch} to {str(path)!r}: {exc.strerror or exc}. "
                "Free space there or choose another checkpoint folder, then resume the run "
                "(its earlier checkpoints are kept)"
            ) from None
        for older in self.epochs()[:-KEEP]:
            with contextlib.suppress(OSError):
                self.path(older).unlink()

    def restore(self, point: ResumePoint, template: TrainState) -> TrainState:
        """The state saved at the epoch ``point`` goes on after, shaped as ``template`` (the
        trainer's fresh state: the same model, optimizer and devices); on the host."""
        assert point.epoch is not None
        path = self.path(point.epoch)
        if not path.is_file():
            saved = self.epochs()
            hint = (
                f"the newest is epoch {saved[-1]}'s: resume with resume_at={saved[-1]}"
                if saved and saved[-1] < point.epoch
                else "start a new run"
            )
            raise ResumeError(
                f"cannot resume run {point.run_id[:8]} after epoch {point.epoch}: no checkpoint of that "
                f"epoch in {str(self.folder)!r}; {hint}"
            )
        leaves, tree = jax.tree_util.tree_flatten(template)
        try:
            with np.load(path) as archive:
                saved_leaves = [archive[f"arr_{index}"] for index in range(len(archive.files))]
        except (OSError, ValueError, KeyError) as exc:
            raise CheckpointError(f"cannot read the checkpoint {str(path)!r}: {exc}") from None
        if len(saved_leaves) != len(leaves):
            raise self._mismatch(path, f"{len(saved_leaves)} arrays, this trainer's state {len(leaves)}")
        restored = []
        for index, (leaf, saved) in enumerate(zip(leaves, saved_leaves)):
            if not isinstance(leaf, jax.Array):
                restored.append(leaf)
                continue
            expected = jax.random.key_data(leaf) if _is_key(leaf) else leaf
            if saved.shape != expected.shape or saved.dtype != expected.dtype:
                raise self._mismatch(
                    path,
                    f"array {index} is {saved.dtype}{list(saved.shape)}, "
                    f"not {expected.dtype}{list(expected.shape)}",
                )
            restored.append(
                jax.random.wrap_key_data(saved, impl=jax.random.key_impl(leaf)) if _is_key(leaf) else saved
            )
        return jax.tree_util.tree_unflatten(tree, restored)

    @staticmethod
    def _mismatch(path: Path, what: str) -> ResumeError:
        return ResumeError(
            f"the checkpoint {str(path)!r} is not of this model and optimizer ({what}): resume with the "
            "model, optimizer and dtype the run was started with"
        )


__all__ = ["KEEP", "CheckpointError", "Checkpoints"]
