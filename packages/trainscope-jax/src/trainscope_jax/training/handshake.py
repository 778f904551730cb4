"""Checks before ``jax.distributed.initialize``: a free coordinator port, distinct ids, one count.

JAX's runtime handles none of these well: two processes given id 0 both start a
coordination service on the port (gRPC reuses ports) and wait 300 s or abort; a port in
use may crash. So every process first meets process 0 on the coordinator port itself:
process 0 listens there (which fails at once when anything holds the port), each other
process sends its id and process count, and process 0 answers every one of them once all
have joined, or at the first duplicate id or different count. Process 0 then closes the
port and JAX's coordination service takes it. Nothing is authenticated: see the docs.
"""

from __future__ import annotations

import contextlib
import errno
import json
import select
import socket
import time
from typing import BinaryIO


class DistributedError(RuntimeError):
    """The processes could not be joined; the message says why and what to do."""


ANSWER_SECONDS = 10.0
"""How long a process waits for process 0's first answer (it answers each hello at once)."""
RETRY_SECONDS = 0.5
"""Pause between attempts to reach process 0 while it has not started yet."""
_TAG = "trainscope-join"
_LINE = 4096


def split_address(address: str) -> tuple[str, int]:
    """``(host, port)`` of ``HOST:PORT`` or ``[IPV6]:PORT``, without the brackets."""
    host, _, port = address.strip().rpartition(":")
    return host.strip("[]"), int(port)


def check_processes(coordinator: str, bind: str, num_processes: int, process_id: int, timeout: float) -> bool:
    """Meet the other processes on the coordinator port before JAX does.

    :param bind: the address process 0 listens on (``HOST:PORT``).
    :returns: whether process 0 could listen on ``bind`` itself (False: the host is not one
        of this machine's addresses, and process 0 listened on all interfaces instead).
    :raises DistributedError: the port is in use, two processes have one id, the counts
        differ, or not every process came within ``timeout`` seconds.
    """
    if process_id != 0:
        _join(coordinator, num_processes, process_id, timeout)
        return True
    host, port = split_address(bind)
    try:
        listeners, own = _listen(host, port), True
    except OSError as exc:
        if exc.errno != errno.EADDRNOTAVAIL:
            raise _in_use(coordinator, bind, num_processes, timeout) from None
        listeners, own = _listen("::", port), False
    with contextlib.ExitStack() as stack:
        for listener in listeners:
            stack.enter_context(listener)
        _gather(listeners, num_processes, timeout)
    return own


def _listen(host: str, port: int) -> list[socket.socket]:
    """Listening sockets on every address of ``host`` (``::`` also takes IPv4), without
    ``SO_REUSEPORT``: binding fails while any other socket listens on the port."""
    if host == "::" and not socket.has_ipv6:
        host = "0.0.0.0"
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    listeners: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(found):
            listener = socket.socket(family, kind, proto)
            listeners.append(listener)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # after an earlier run
            if family == socket.AF_INET6 and host == "::":
                listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            listener.bind(address)
            listener.listen()
    except OSError:
        for listener in listeners:
            listener.close()
        raise
    return listeners


def _in_use(coordinator: str, bind: str, count: int, timeout: float) -> DistributedError:
    """Why process 0 cannot listen: another process 0 of this run holds the port (it says so), or
    anything else does."""
    try:
        _join(coordinator, count, 0, timeout)
    except DistributedError as exc:
        if "process id 0" in str(exc):
            return exc
    return DistributedError(
        f"the coordinator port {bind} is in use: choose a free port (and give the id 0 to one process only)"
    )


def _gather(listeners: list[socket.socket], count: int, timeout: float) -> None:
    """Process 0: wait for processes 1 to ``count - 1``, then answer them all."""
    deadline = time.monotonic() + timeout
    joined: dict[int, socket.socket] = {}
    try:
        while len(joined) < count - 1:
            left = deadline - time.monotonic()
            if left <= 0:
                missing = ", ".join(str(i) for i in range(1, count) if i not in joined)
                raise DistributedError(
                    f"not every process joined within {timeout:g} s (missing: process {missing}): start "
                    "every process with the same coordinator and number of processes"
                )
            ready, _, _ = select.select(listeners, [], [], min(left, 1.0))
            for listener in ready:
                connection, _ = listener.accept()
                with connection.makefile("rb") as reader:
                    hello = _receive(connection, reader, ANSWER_SECONDS)
                if hello is None:  # not a trainscope process: not part of the run
                    connection.close()
                    continue
                process, theirs = hello.get("process_id"), hello.get("num_processes")
                if not isinstance(process, int) or not isinstance(theirs, int):
                    connection.close()
                    continue
                problem = _problem(process, theirs, count, joined)
                if problem is not None:
                    for peer in (*joined.values(), connection):
                        _send(peer, {"error": problem})
                    connection.close()
                    raise DistributedError(problem)
                _send(connection, {"wait": True})
                joined[process] = connection
        for peer in joined.values():
            _send(peer, {"ok": True})
    finally:
        for peer in joined.values():
            peer.close()


def _problem(process: int, theirs: int, count: int, joined: dict[int, socket.socket]) -> str | None:
    """Why process ``process``, started with ``theirs`` processes, does not fit the run, or None."""
    if theirs != count:
        return (
            f"process {process} was started with {theirs} processes and process 0 with {count}: "
            "give every process the same number of processes"
        )
    if process == 0 or process in joined:
        return (
            f"two processes were given the process id {process}: give each of the {count} processes "
            f"its own id, 0 to {count - 1}"
        )
    return None


def _join(coordinator: str, count: int, process_id: int, timeout: float) -> None:
    """Any process but 0: say who it is to process 0 and wait for its answer."""
    host, port = split_address(coordinator)
    deadline = time.monotonic() + timeout
    while True:
        try:
            connection = socket.create_connection((host, port), timeout=min(ANSWER_SECONDS, timeout))
            break
        except OSError:  # process 0 is not listening yet
            if time.monotonic() + RETRY_SECONDS > deadline:
                raise DistributedError(
                    f"process 0 did not open the coordinator {coordinator} within {timeout:g} s: start it "
                    "with the process id 0 and the same coordinator"
                ) from None
            time.sleep(RETRY_SECONDS)
    with connection, connection.makefile("rb") as reader:
        _send(connection, {"process_id": process_id, "num_processes": count})
        answer = _receive(connection, reader, ANSWER_SECONDS)
        if answer is not None and answer.get("wait"):
            answer = _receive(connection, reader, max(deadline - time.monotonic(), ANSWER_SECONDS))
    if answer is None:
        raise DistributedError(
            f"the coordinator {coordinator} did not answer as a trainscope process 0: another program "
            "may use the port, or the run started without this process"
        )
    if "error" in answer:
        raise DistributedError(str(answer["error"]))


def _send(connection: socket.socket, message: dict[str, object]) -> None:
    with contextlib.suppress(OSError):  # a peer that is gone learns it from its own checks
        connection.sendall(json.dumps({_TAG: 1, **message}).encode() + b"\n")


def _receive(connection: socket.socket, reader: BinaryIO, timeout: float) -> dict[str, object] | None:
    """The next message of this handshake, or None (no answer in time, closed, or not this protocol)."""
    connection.settimeout(timeout)
    try:
        line = reader.readline(_LINE)
        message = json.loads(line) if line.endswith(b"\n") else None
    except (OSError, ValueError):
        return None
    return message if isinstance(message, dict) and message.get(_TAG) == 1 else None


__all__ = ["DistributedError", "check_processes", "split_address"]
