"""Set-up checks and trainscope's heartbeat, without JAX's runtime (threads and a fake store).

The same faults with real processes are in ``test_scale_processes.py``.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

pytest.importorskip("jax")

from trainscope_jax import DistributedError, initialize_distributed
from trainscope_jax.training.beats import END, Beats
from trainscope_jax.training.handshake import check_processes


def free_coordinator() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


def join_all(coordinator: str, ids: list[int], count: int) -> list[BaseException | None]:
    """``check_processes`` for each id on its own thread: what each raised."""
    results: list[BaseException | None] = [None] * len(ids)

    def join(index: int) -> None:
        try:
            check_processes(coordinator, coordinator, count, ids[index], timeout=60)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            results[index] = exc

    threads = [threading.Thread(target=join, args=(index,)) for index in range(len(ids))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_processes_with_distinct_ids_and_one_count_join() -> None:
    assert join_all(free_coordinator(), [2, 0, 1], 3) == [None, None, None]


def test_an_id_given_twice_ends_every_process_with_one_message() -> None:
    results = join_all(free_coordinator(), [0, 1, 1], 3)
    message = "two processes were given the process id 1: give each of the 3 processes its own id, 0 to 2"
    assert [str(result) for result in results] == [message] * 3
    assert all(isinstance(result, DistributedError) for result in results)


def test_process_0_that_never_sees_the_others_says_who_is_missing() -> None:
    with pytest.raises(
        DistributedError, match=r"not every process joined within 1 s \(missing: process 1, 2\)"
    ):
        check_processes(free_coordinator(), free_coordinator(), 3, 0, timeout=1)


def test_the_peer_timeout_must_stay_below_jax_heartbeat_timeout() -> None:
    with pytest.raises(DistributedError, match="the peer timeout must be more than 0 and less than"):
        initialize_distributed("127.0.0.1:1234", 2, 0, peer_timeout=500)


class Store:
    """The two calls of JAX's key-value store that :class:`Beats` makes."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def key_value_set(self, key: str, value: str, allow_overwrite: bool = False) -> None:
        self.values[key] = value

    def key_value_dir_get(self, directory: str) -> list[tuple[str, str]]:
        return [(key, value) for key, value in self.values.items() if key.startswith(directory)]


def test_a_process_whose_beats_stop_is_lost_and_one_whose_run_ended_is_not() -> None:
    store = Store()
    watcher, silent, ended = (Beats(store, process, 3, timeout=0.3) for process in range(3))
    for beats in (watcher, silent, ended):
        beats.beat()
    ended.beat(END)
    assert watcher.lost() is None  # first seen now
    deadline = time.monotonic() + 10
    while (lost := watcher.lost()) is None and time.monotonic() < deadline:
        watcher.beat()
        time.sleep(0.05)
    assert lost == 1
