"""When one process of a multi-process run fails, every process ends, and process 0's log says so.

A process whose run fails (an exception, Ctrl-C, SIGTERM) writes a key for each other
process to the key-value store of JAX's coordination service (``jax.distributed``). Every
process waits for its own key on a background thread: its training thread is then
blocked in a collective that will never complete, so the watcher ends the run for it
(the reporters get ``train_end`` with ``failed`` or ``interrupted``: process 0's log ends
with ``run_end``), waits at JAX's shutdown barrier for the others, and exits the process,
as JAX's runtime would do later, after its heartbeat timeout, without closing the log.

A process killed outright (SIGKILL, a lost machine) writes nothing: JAX's heartbeat
timeout then ends the others (see ``distributed.HEARTBEAT_TIMEOUT``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import Any

from trainscope import RunStatus, Terminated, TrainingSession, hookimpl
from trainscope.values import error_text

FAILURE_KEY = "trainscope/failure/{process}"
"""The coordination service key of one process, which a failing process writes for every
other (``status|process|error``); the process itself writes ``stop`` to end its watcher."""
WAIT_SECONDS = 60
"""How long one wait of the watcher lasts (it is woken at once when its run ends)."""
INTERRUPTED_EXIT_CODE = 130
FAILED_EXIT_CODE = 1
_STOP = "stop"


class PeerFailure(RuntimeError):
    """Another process of the run failed or was interrupted, so this one ends too."""

    def __init__(self, status: RunStatus, process: int, count: int, error: str) -> None:
        what = "was interrupted" if status == "interrupted" else "failed"
        super().__init__(f"process {process} of {count} {what}: {error}")
        self.status: RunStatus = status
        self.process = process


def _client() -> Any:
    """JAX's coordination service client in a run of several processes, else None."""
    if "jax" not in sys.modules:
        return None
    try:
        from jax._src import distributed
    except ImportError:  # pragma: no cover
        return None
    state = distributed.global_state
    if state.client is None or state.num_processes < 2:
        return None
    return state.client


def _process() -> tuple[int, int]:
    """``(process_index, process_count)`` of JAX's multi-controller runtime."""
    from jax._src import distributed

    return int(distributed.global_state.process_id), int(distributed.global_state.num_processes)


def report_failure(error: BaseException) -> None:
    """Tell the other processes that this process's run ended with ``error`` (no-op in one process).

    The first report each process gets wins; nothing is raised if the store cannot be reached.
    """
    client = _client()
    if client is None:
        return
    me, count = _process()
    status = "interrupted" if isinstance(error, (KeyboardInterrupt, Terminated)) else "failed"
    text = " ".join(error_text(error).split())[:400]
    for process in range(count):
        if process != me:
            # Already reported by another process, or a service that is gone: nothing to do.
            with contextlib.suppress(Exception):
                client.key_value_set(FAILURE_KEY.format(process=process), f"{status}|{me}|{text}")


class PeerWatch:
    """A plugin that ends this process's run, and the process, when another process's run fails.

    Register it on a session before the run starts (:func:`watch_peers`); it does nothing
    in a single process. From ``train_start`` to ``train_end`` a thread waits for another
    process's failure; a run of this process that ends as ``failed`` or ``interrupted``
    is reported to the others once every reporter has closed (:func:`report_failure`).
    The thread never touches the training thread's arrays: the loop pays nothing per step.
    """

    trainscope_all_processes = True
    """Its hooks run on every process (the core calls only process 0's reporters by default)."""

    def __init__(self, session: TrainingSession) -> None:
        self.session = session
        self._client = _client()
        self._ended = threading.Event()
        self._lock = threading.Lock()
        self._owner: str | None = None
        self._status: RunStatus | None = None
        self._thread: threading.Thread | None = None

    @hookimpl(trylast=True)
    def trainscope_train_start(self) -> None:
        if self._client is not None:
            self._thread = threading.Thread(target=self._watch, name="trainscope-peer-watch", daemon=True)
            self._thread.start()

    # -- the training thread ends the run ---------------------------------------------

    @hookimpl(tryfirst=True)
    def trainscope_train_end(self, status: RunStatus) -> None:
        with self._lock:
            if self._owner is None:
                self._owner, self._status = "training", status

    @hookimpl(trylast=True, specname="trainscope_train_end")
    def _closed(self, status: RunStatus, error: BaseException | None) -> None:
        if self._owner != "training" or threading.current_thread() is self._thread:
            return
        self._ended.set()
        if status != "completed" and error is not None:
            report_failure(error)
        self._stop_watcher()

    def _stop_watcher(self) -> None:
        """Wake the watcher with ``stop`` and wait for it: no thread may be inside a call of
        JAX's client when the process exits and JAX shuts the client down."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        me, _ = _process()
        with contextlib.suppress(Exception):  # a failure report is there already: it wakes it
            self._client.key_value_set(FAILURE_KEY.format(process=me), _STOP)
        thread.join(timeout=5)

    # -- the watcher ends it when another process failed -------------------------------

    def _watch(self) -> None:
        me, count = _process()
        key = FAILURE_KEY.format(process=me)
        while True:
            try:
                value = str(self._client.blocking_key_value_get(key, WAIT_SECONDS * 1000))
            except Exception as exc:  # noqa: BLE001 - a timeout: wait again; anything else: stop
                if "DEADLINE_EXCEEDED" in str(exc) or "timed out" in str(exc).lower():
                    continue
                return
            with contextlib.suppress(Exception):  # read once: the next run starts afresh
                self._client.key_value_delete(key)
            if value == _STOP:
                return
            status, process, error = value.split("|", 2)
            peer_status: RunStatus = "interrupted" if status == "interrupted" else "failed"
            self._end(PeerFailure(peer_status, int(process), count, error))
            return

    def _end(self, failure: PeerFailure) -> None:
        with self._lock:
            owner = self._owner
            if owner is None:
                self._owner, self._status = "watcher", failure.status
        if owner is None:
            with contextlib.suppress(BaseException):  # the process ends either way
                self.session.plugin_manager.train_end(self.session.run, failure.status, failure)
        elif self._status == "completed":
            return  # this process's run completed: its collectives are all done
        else:
            self._ended.wait(timeout=10)  # the training thread is closing the reporters: let it
        print(f"trainscope: {failure}; this process stops too", file=sys.stderr)
        _exit(INTERRUPTED_EXIT_CODE if failure.status == "interrupted" else FAILED_EXIT_CODE)


def _exit(code: int) -> None:
    """Leave JAX's runtime in step with the others (its shutdown barrier), then exit at once:
    the training thread is blocked in a collective that will never complete."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed stream: nothing to flush
            stream.flush()
    with contextlib.suppress(Exception):  # the barrier failed or timed out: exit anyway
        import jax

        jax.distributed.shutdown()
    os._exit(code)


def watch_peers(session: TrainingSession) -> PeerWatch:
    """Register a :class:`PeerWatch` on ``session`` (before its run starts) and return it."""
    watch = PeerWatch(session)
    session.plugin_manager.register(watch, name=f"trainscope-peer-watch-{id(watch)}")
    return watch


__all__ = ["FAILURE_KEY", "PeerFailure", "PeerWatch", "report_failure", "watch_peers"]
