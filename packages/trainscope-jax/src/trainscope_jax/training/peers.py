"""When one process of a multi-process run fails, every process ends, and process 0's log says so.

A process whose run fails (an exception, Ctrl-C, SIGTERM) writes a key for each other
process to the key-value store of JAX's coordination service (``jax.distributed``). Every
process waits for its own key on a background thread: its training thread is then
blocked in a collective that will never complete, so the watcher ends the run for it
(the reporters get ``train_end`` with ``failed`` or ``interrupted``: process 0's log ends
with ``run_end``), waits at JAX's shutdown barrier for the others, and exits the process,
as JAX's runtime would do later, after its heartbeat timeout, without closing the log.

A process killed outright (SIGKILL, a lost machine) writes nothing: its watcher's beats
stop (``beats``), and after the peer timeout (``distributed.peer_timeout``) the others end
the run as failed, naming it, and exit, well before JAX's heartbeat timeout would abort them.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from typing import Any

from trainscope import RunEndedError, RunStatus, Terminated, TrainingSession, hookimpl
from trainscope.values import error_text
from trainscope_jax.training.beats import END, EXIT, Beats, beat_interval
from trainscope_jax.training.distributed import peer_timeout
from trainscope_jax.training.process_times import gather_own_times, share_own_time

FAILURE_KEY = "trainscope/failure/{process}"
"""The coordination service key of one process, which a failing process writes for every
other (``status|process|error``, status ``lost`` for a process that stopped beating); the
process itself writes ``stop`` to end its watcher."""
INTERRUPTED_EXIT_CODE = 130
FAILED_EXIT_CODE = 1
_STOP = "stop"


class PeerFailure(RuntimeError):
    """Another process of the run failed or was interrupted, so this one ends too."""

    def __init__(
        self, status: RunStatus, process: int, count: int, error: str, *, lost: bool = False
    ) -> None:
        what = "was lost" if lost else "was interrupted" if status == "interrupted" else "failed"
        super().__init__(f"process {process} of {count} {what}: {error}")
        self.status: RunStatus = status
        self.process = process
        self.lost = lost
        """The process stopped beating (killed, or its host lost): it will not reach JAX's
        shutdown barrier."""


def _client() -> Any:
    """JAX's coordination service client in a run of several processes, else None."""
    if "jax" not in sys.modules:
        return None
    try:
        # Private: JAX has no public handle on its coordination service client (the key-value
        # store the processes share), in 0.5.0 or since. The test of private JAX names guards it.
        from jax._src import distributed
    except ImportError:  # pragma: no cover
        return None
    state = distributed.global_state
    if state.client is None or state.num_processes < 2:
        return None
    return state.client


def _process() -> tuple[int, int]:
    """``(process_index, process_count)`` of JAX's multi-controller runtime."""
    # Private, as in _client: the public jax.process_index()/process_count() start the
    # backends, which a failure report (possibly on the watch thread) must not do.
    from jax._src import distributed

    return int(distributed.global_state.process_id), int(distributed.global_state.num_processes)


def report_failure(error: BaseException) -> None:
    """Tell the other processes that this process's run ended with ``error`` (no-op in one process).

    The first report each process gets wins; nothing is raised if the store cannot be reached.
    """
    if isinstance(error, RunEndedError):
        return  # this process's run was ended because another failed: that one was reported
    status = "interrupted" if isinstance(error, (KeyboardInterrupt, Terminated)) else "failed"
    if _client() is not None:
        _report(status, _process()[0], " ".join(error_text(error).split())[:400])


WATCHER_EXIT_WAIT = 30.0
"""Seconds the training thread waits, once the watcher ended its run, for the watcher to end the process."""


def await_exit_by_watcher() -> None:
    """Wait while the peer watcher, which ended this process's run because another process
    failed, ends the process too (it says why and exits with that run's status)."""
    time.sleep(WATCHER_EXIT_WAIT)


def _report(status: str, failed: int, text: str) -> None:
    """Write ``status|failed|text`` for every process but this one and ``failed``."""
    client = _client()
    me, count = _process()
    for process in range(count):
        if process not in (me, failed):
            # Already reported by another process, or a service that is gone: nothing to do.
            with contextlib.suppress(Exception):
                client.key_value_set(FAILURE_KEY.format(process=process), f"{status}|{failed}|{text}")


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
        self._beats: Beats | None = None

    @hookimpl(trylast=True)
    def trainscope_train_start(self) -> None:
        if self._client is not None:
            me, count = _process()
            self._beats = Beats(self._client, me, count, peer_timeout())
            self._beats.beat()  # judged from now on
            self._thread = threading.Thread(target=self._watch, name="trainscope-peer-watch", daemon=True)
            self._thread.start()

    @property
    def ends_process(self) -> bool:
        """The watcher ended this process's run (another process failed): it ends the process too."""
        return self._owner == "watcher"

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
            if self._beats is not None:  # a lost peer would hold JAX's shutdown barrier: the watcher tells
                self._beats.wait_for_others(None, self._beats.timeout + 2)
        self._stop_watcher()
        if self._beats is not None:
            self._beats.beat(END)
        if status == "interrupted":  # the command then exits at once, without JAX's teardown
            _shutdown()

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
        beats = self._beats
        assert beats is not None
        wait = int(beat_interval(beats.timeout) * 1000)
        while True:
            try:
                value = str(self._client.blocking_key_value_get(key, wait))
            except Exception as exc:  # noqa: BLE001 - a timeout: beat, wait again; anything else: stop
                if "DEADLINE_EXCEEDED" not in str(exc) and "timed out" not in str(exc).lower():
                    return
                beats.beat()
                self._share_step_time(me)
                lost = beats.lost()
                if lost is not None:
                    error = f"no heartbeat for {beats.timeout:g} s (killed, or its host is down)"
                    _report("lost", lost, error)
                    self._end(PeerFailure("failed", lost, count, error, lost=True))
                    return
                continue
            with contextlib.suppress(Exception):  # read once: the next run starts afresh
                self._client.key_value_delete(key)
            if value == _STOP:
                return
            status, process, error = value.split("|", 2)
            peer_status: RunStatus = "interrupted" if status == "interrupted" else "failed"
            self._end(PeerFailure(peer_status, int(process), count, error, lost=status == "lost"))
            return

    def _share_step_time(self, me: int) -> None:
        """Publish this process's own time per step; on process 0, gather every process's for the
        summary's straggler check (read from this thread: plain floats the session keeps)."""
        health = self.session.health
        own = health.own_time_per_step()
        if own is None:
            return
        share_own_time(self._client, me, own)
        if me == 0:
            health.process_times = gather_own_times(self._client, me, own)

    def _end(self, failure: PeerFailure) -> None:
        with self._lock:
            owner = self._owner
            if owner is None:
                self._owner, self._status = "watcher", failure.status
        if owner is None:
            with contextlib.suppress(BaseException):  # the process ends either way
                self.session.end(failure.status, failure)  # later steps of this process raise
        elif self._status == "completed":
            return  # this process's run completed: its collectives are all done
        else:
            self._ended.wait(timeout=10)  # the training thread is closing the reporters: let it
        print(f"trainscope: {failure}; this process stops too", file=sys.stderr)
        code = INTERRUPTED_EXIT_CODE if failure.status == "interrupted" else FAILED_EXIT_CODE
        if self._beats is not None:
            if failure.lost:
                _leave(self._beats, failure.process, code)
            self._beats.beat(EXIT)
        _exit(code)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed stream: nothing to flush
            stream.flush()


def _exit(code: int) -> None:
    """Leave JAX's runtime in step with the others (its shutdown barrier), then exit at once:
    the training thread is blocked in a collective that will never complete."""
    _flush()
    _shutdown()
    os._exit(code)


def _shutdown() -> None:
    """Meet the other processes at JAX's shutdown barrier (bounded by its shutdown timeout)."""
    with contextlib.suppress(Exception):  # the barrier failed or timed out: go on anyway
        import jax

        jax.distributed.shutdown()


def _leave(beats: Beats, lost: int, code: int) -> None:
    """Exit without JAX's shutdown barrier, which the lost process would never reach: the
    others first, then process 0, whose exit ends the coordination service (and JAX aborts
    any process still connected to it)."""
    _flush()
    if beats.me == 0:
        beats.wait_for_others(lost, beats.timeout)
        time.sleep(0.5)  # let the last one's exit finish
    else:
        beats.beat(EXIT)
    os._exit(code)


def watch_peers(session: TrainingSession) -> PeerWatch:
    """Register a :class:`PeerWatch` on ``session`` (before its run starts) and return it."""
    watch = PeerWatch(session)
    session.plugin_manager.register(watch, name=f"trainscope-peer-watch-{id(watch)}")
    return watch


__all__ = ["FAILURE_KEY", "PeerFailure", "PeerWatch", "report_failure", "watch_peers"]
