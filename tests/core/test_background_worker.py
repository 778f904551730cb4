"""The background worker the reporters write through: order, errors, back-pressure, timeouts."""

from __future__ import annotations

import threading

import pytest

from trainscope import BackgroundWorker, WorkerTimeoutError


def test_jobs_run_in_order_off_the_calling_thread() -> None:
    done: list[tuple[int, str]] = []
    worker = BackgroundWorker("test-worker")
    for number in range(100):
        worker.submit(lambda number=number: done.append((number, threading.current_thread().name)))
    worker.close()
    assert done == [(number, "test-worker") for number in range(100)]


def test_a_failed_job_drops_the_rest_and_is_raised_by_submit_and_close() -> None:
    done: list[int] = []
    worker = BackgroundWorker("test-worker")

    def fail() -> None:
        raise OSError("disk full")

    worker.submit(fail)
    worker.submit(lambda: done.append(1))
    with pytest.raises(OSError, match="disk full"):
        worker.close()
    with pytest.raises(OSError, match="disk full"):
        worker.submit(lambda: done.append(2))
    assert done == []


def test_a_full_queue_blocks_then_times_out() -> None:
    started, release = threading.Event(), threading.Event()

    def hold() -> None:
        started.set()
        release.wait()

    worker = BackgroundWorker("stuck-worker", capacity=1, timeout=0.2)
    worker.submit(hold)
    assert started.wait(5)
    worker.submit(lambda: None)  # fills the queue
    assert not worker.stalled
    with pytest.raises(WorkerTimeoutError, match="stuck-worker"):
        worker.submit(lambda: None)
    assert worker.stalled
    release.set()
    worker.close()


def test_close_waits_as_long_as_jobs_keep_finishing() -> None:
    done: list[int] = []
    worker = BackgroundWorker("slow-worker", capacity=10, timeout=0.1)
    for number in range(10):  # 0.5 s in all, each well within the timeout
        worker.submit(lambda number=number: (threading.Event().wait(0.05), done.append(number)))
    worker.close()
    assert done == list(range(10))
    assert not worker.stalled


def test_close_gives_up_on_a_job_that_never_ends() -> None:
    release = threading.Event()
    worker = BackgroundWorker("stuck-worker", timeout=0.2)
    worker.submit(release.wait)
    with pytest.raises(WorkerTimeoutError, match=r"no job finished in 0\.2 s"):
        worker.close()
    assert worker.stalled
    release.set()
