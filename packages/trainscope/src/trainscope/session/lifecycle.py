"""A run's start and every way it ends: completed, failed or interrupted on its own thread, or
ended from another thread. Each reaches the reporters once; signals are guarded in between."""

from __future__ import annotations

import time

from trainscope.plugin_types import warn_plugin
from trainscope.plugins import PluginManager
from trainscope.run import RunInfo, RunStatus
from trainscope.session.arguments import status_of
from trainscope.session.errors import START, SessionStateError, called_after_end, called_before
from trainscope.session.ownership import Ownership
from trainscope.session.phases import Phases
from trainscope.session.states import ACCEPTS_STEPS, State
from trainscope.signals import SignalGuard


class Lifecycle:
    """Starts the run and ends it, once, whoever ends it."""

    def __init__(self, run: RunInfo, plugin_manager: PluginManager, owner: Ownership, phases: Phases) -> None:
        self.run = run
        self.hooks = plugin_manager
        self.owner = owner
        self.phases = phases
        self._signals = SignalGuard()

    def start(self) -> None:
        """Start the run (``train_start``); does nothing if started."""
        if self.phases.state is not State.NEW:
            self.owner.check("start_training")
            return
        self.owner.start()
        self.phases.start()
        self.run.start_time = time.time()
        self.run.start_monotonic = self.phases.clock()  # what run.elapsed() reads
        self._signals.install()
        try:
            self.owner.tell(self.hooks.train_start, self.run)
            if not self.phases.ready_deferred:
                self.phases.ready()
        except BaseException as exc:  # a fatal reporter error, Ctrl-C during the printout...
            self.abort(status_of(exc), exc)  # every reporter that started closes cleanly
            raise

    def defer_ready(self) -> None:
        """See :meth:`trainscope.TrainingSession.defer_ready`."""
        self.owner.check("defer_ready")
        if self.phases.state is not State.NEW:
            raise SessionStateError(
                "defer_ready() called after the run started: call it before start_training() "
                "or the with block"
            )
        self.phases.ready_deferred = True

    def ready(self) -> None:
        """See :meth:`trainscope.TrainingSession.ready`."""
        self.owner.check("ready")
        self.require_started("ready")
        try:
            self.phases.ready()
        except BaseException as exc:  # a reporter's start failed: no step has run
            self.abort(status_of(exc), exc)
            raise

    def require_started(self, method: str) -> None:
        if self.phases.state is State.NEW:
            raise called_before(method, START)
        if self.owner.ended:
            raise called_after_end(method)

    def finish(self) -> None:
        """End the open phases and epoch, then the run as ``completed``; idempotent."""
        if self.owner.ended:
            self.owner.wait_for_end_elsewhere()
            return
        self.owner.check("finish_training")
        self.require_started("finish_training")
        try:
            self.phases.ready()  # a run that deferred it and ends without a step
            self.phases.finish()
        except BaseException as exc:  # the last flush or a reporter failed: end the run as such
            self.abort(status_of(exc), exc)
            raise
        if not self.owner.end_once():
            self.owner.wait_for_end_elsewhere()
            return
        try:
            self.owner.tell(self.hooks.train_end, self.run, "completed", None)
        finally:
            self._signals.restore()

    def abort(self, status: RunStatus, error: BaseException) -> None:
        """End the run as ``status``: report what is buffered, then ``train_end`` to every reporter.

        The open phases get no ``phase_end``: an interrupted phase has no means to show.
        """
        if not self.owner.end_once():
            self.owner.wait_for_end_elsewhere()
            return
        phases = self.phases
        try:
            if phases.state in ACCEPTS_STEPS:
                try:
                    phases.pipeline.flush()
                except BaseException:  # noqa: BLE001 - already ending; the good steps were reported
                    phases.pipeline.discard()
            phases.state = State.ENDED
            try:
                self.owner.tell(self.hooks.train_end, self.run, status, error)
            except BaseException as exc:  # noqa: BLE001 - the run's own error is the one raised
                warn_plugin(
                    f"trainscope: while ending the run ({status}: {type(error).__name__}), a reporter "
                    f"raised {type(exc).__name__}: {exc}"
                )
        finally:
            self._signals.restore()

    def end(self, status: RunStatus, error: BaseException | None) -> None:
        """See :meth:`trainscope.TrainingSession.end`."""
        if self.owner.on_run_thread():
            if error is None and status == "completed":
                self.finish()
            else:
                self.abort(status, error or SessionStateError(f"the run was ended as {status}"))
            return
        if not self.owner.mark_ended_elsewhere(status, error):
            return

        def train_end() -> None:
            try:
                self.hooks.train_end(self.run, status, error)
            except BaseException as exc:  # noqa: BLE001 - the reporters were told; this thread ends
                warn_plugin(
                    f"trainscope: while ending the run ({status}), a reporter raised "
                    f"{type(exc).__name__}: {exc}"
                )

        self.owner.end_elsewhere(train_end)


__all__ = ["Lifecycle"]
