"""The reporter's start on a thread of its own: importing MLflow and creating the MLflow run.

Both take seconds (the import alone 2-3 s). Begun at ``trainscope_train_start`` and waited for
at ``trainscope_train_ready``, they overlap what the loop does first (``fit`` compiles its
step) instead of coming before it; a store that cannot be reached still stops the run before
its first step.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from trainscope.plugin_api import RunInfo
from trainscope_mlflow.quiet import THREAD_PREFIX

if TYPE_CHECKING:
    from trainscope_mlflow.run_logger import MlflowRunLogger


class BackgroundStart:
    """Creates the run's :class:`MlflowRunLogger` on a thread; :meth:`logger` waits for it.

    The thread is not a daemon: the interpreter waits for it at exit rather than ending in
    the middle of an import.
    """

    def __init__(self, run: RunInfo) -> None:
        self._logger: MlflowRunLogger | None = None
        self._error: BaseException | None = None
        self._done = False
        self._thread = threading.Thread(
            target=self._start, args=(run,), name=f"{THREAD_PREFIX}-{run.run_id[:8]}-import"
        )
        self._thread.start()

    def _start(self, run: RunInfo) -> None:
        try:
            from trainscope_mlflow.run_logger import MlflowRunLogger

            self._logger = MlflowRunLogger(run)
        except BaseException as exc:  # noqa: BLE001 - raised on the run's thread by logger()
            self._error = exc

    def logger(self) -> MlflowRunLogger | None:
        """The run's logger once the start is done; the start's error is raised by the first call
        that sees it, and later calls return None."""
        if not self._done:
            self._thread.join()
            self._done = True
            error, self._error = self._error, None
            if error is not None:
                raise error
        return self._logger


__all__ = ["BackgroundStart"]
