"""Several processes, one run: JAX's multi-controller runtime (``jax.distributed``), set up once.

:func:`initialize_distributed` checks the processes against each other (``handshake``),
calls ``jax.distributed.initialize`` with time limits that keep a failed run from
hanging, binds the coordinator to the address given, and makes the CPU's cross-process
collectives work (gloo) on every supported JAX. It must run before anything touches a device.
"""

from __future__ import annotations

import inspect
import os
import re
from dataclasses import dataclass
from typing import Any

from trainscope import device_arrays
from trainscope_jax.training.handshake import DistributedError, check_processes

INITIALIZATION_TIMEOUT = 300
"""Seconds each process waits for all the others to join (they may start minutes apart)."""
HEARTBEAT_TIMEOUT = 60
"""Seconds without a heartbeat after which JAX's runtime declares a process dead and ends
every other process (JAX's own default is 100 s; JAX before 0.5.1 always uses 100 s)."""
SHUTDOWN_TIMEOUT = 60
"""Seconds a finishing process waits at exit for the others to finish too (JAX: 300 s)."""
PEER_TIMEOUT = 10.0
"""Seconds without trainscope's own heartbeat after which the others count a process as lost
and end the run (``peers``): well before JAX's heartbeat timeout aborts them."""
JAX_HEARTBEAT_TIMEOUT = 100
"""JAX's own heartbeat timeout, the one JAX before 0.5.1 always uses."""

_STARTED = (
    "JAX has already started in this process: initialize jax.distributed before anything touches a device"
)
_ADDRESS = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")


class _Settings:
    peer_timeout: float = PEER_TIMEOUT


_settings = _Settings()


def peer_timeout() -> float:
    """Seconds of silence after which a process counts as lost (set by :func:`initialize_distributed`)."""
    return _settings.peer_timeout


@dataclass(frozen=True)
class ProcessInfo:
    """This process's place in the run."""

    process_index: int
    process_count: int
    local_devices: int
    devices: int
    """Every process's devices together."""


def check_coordinator(address: str) -> str:
    """``address`` if it reads ``HOST:PORT`` with a port from 1 to 65535, else a ValueError saying so."""
    match = _ADDRESS.match(address.strip())
    if match is None or not 0 < int(match.group(2)) < 65536:
        raise ValueError(
            f"coordinator {address!r} is not HOST:PORT: give process 0's address and a free port, "
            "such as 10.0.0.1:1234 (or 127.0.0.1:1234 for processes on one machine)"
        )
    return address.strip()


def detected_cluster() -> str | None:
    """The cluster JAX detects from the environment (``SlurmCluster``, ``OmpiCluster``, ...), or None.

    Only clusters JAX detects without being asked (not ``mpi4py``, which must be named).
    """
    try:
        # Private: JAX detects clusters only inside jax.distributed.initialize; no public API
        # lists them or asks one whether it is present (0.5.0 or since). Guarded by a test.
        from jax._src import clusters
    except ImportError:  # pragma: no cover - a JAX without cluster detection
        return None
    for cluster in getattr(clusters.ClusterEnv, "_cluster_types", []):
        if getattr(cluster, "opt_in_only_method", False):
            continue
        try:
            if cluster.is_env_present():
                return str(cluster.__name__)
        except Exception:  # noqa: BLE001 - a detector that cannot tell: not this cluster
            continue
    return None


def is_initialized() -> bool:
    """Whether ``jax.distributed`` is initialized in this process (JAX 0.5 lacks ``is_initialized``)."""
    import jax  # noqa: F401 - the core's check looks for an imported jax

    return device_arrays.distributed_process() is not None


def cpu_collectives() -> str | None:
    """The CPU's cross-process collectives (``gloo``, ``mpi``), or None when there are none."""
    import jax

    name = "jax_cpu_collectives_implementation"
    try:
        current = getattr(jax.config, name)
    except AttributeError:  # JAX 0.5 reads this flag through read()
        current = jax.config.read(name)
    return None if current in (None, "none") else str(current)


def use_gloo_on_cpu() -> None:
    """Make CPU collectives across processes use gloo unless another implementation was chosen.

    Newer JAX does so by default; older JAX (0.5) has none, and a multi-process CPU run then
    fails at its first step. Must run before the CPU backend starts.
    """
    import jax

    if cpu_collectives() is None:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")


def initialize_distributed(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    initialization_timeout: int = INITIALIZATION_TIMEOUT,
    heartbeat_timeout: int = HEARTBEAT_TIMEOUT,
    shutdown_timeout: int = SHUTDOWN_TIMEOUT,
    peer_timeout: float | None = None,
    **options: Any,
) -> ProcessInfo:
    """Join this process to a multi-process run with ``jax.distributed.initialize``.

    :param coordinator: process 0's ``HOST:PORT``; with ``num_processes`` and
        ``process_id`` all None, JAX detects them on SLURM, Open MPI and TPU clusters.
    :param initialization_timeout: seconds to wait for every process to join.
    :param heartbeat_timeout: seconds after which a silent process counts as dead (JAX
        then ends the others); ignored by JAX releases that do not take it.
    :param shutdown_timeout: seconds a finishing process waits at exit for the others.
    :param peer_timeout: seconds without trainscope's heartbeat after which the other
        processes end the run as failed (the process was killed or its host lost); below
        JAX's heartbeat timeout. Default: :data:`PEER_TIMEOUT`, or half of a shorter
        ``heartbeat_timeout``.
    :param options: passed on to ``jax.distributed.initialize`` (``local_device_ids``, ...).
    :raises DistributedError: bad arguments, no cluster detected, JAX already started, the
        coordinator port in use, two processes with one id, different numbers of processes,
        or the processes did not all join in time.

    Call it before anything touches a device: the first JAX computation, ``jax.devices()``,
    or a ``ModelTrainer``. Sets gloo for cross-process collectives on the CPU.
    """
    import jax

    given = (coordinator, num_processes, process_id)
    if coordinator is not None:
        try:
            coordinator = check_coordinator(coordinator)
        except ValueError as exc:
            raise DistributedError(str(exc)) from None
    if any(value is None for value in given) and any(value is not None for value in given):
        if detected_cluster() is None:
            raise DistributedError(
                "give all three of the coordinator (HOST:PORT), the number of processes and this "
                "process's id, or none of them on a cluster JAX detects (SLURM, Open MPI)"
            )
    elif all(value is None for value in given) and detected_cluster() is None:
        raise DistributedError(
            "no cluster detected (SLURM, Open MPI, TPU): give the coordinator (HOST:PORT), the "
            "number of processes and this process's id"
        )
    if num_processes is not None and num_processes < 1:
        raise DistributedError(f"the number of processes must be at least 1, got {num_processes}")
    if process_id is not None and num_processes is not None and not 0 <= process_id < num_processes:
        raise DistributedError(
            f"process id {process_id} is not one of 0..{num_processes - 1}: number the "
            f"{num_processes} processes from 0"
        )
    if is_initialized():
        raise DistributedError("jax.distributed is already initialized in this process: call this once")
    accepted = inspect.signature(jax.distributed.initialize).parameters
    limits = {"heartbeat_timeout_seconds": heartbeat_timeout, "shutdown_timeout_seconds": shutdown_timeout}
    options.update({key: value for key, value in limits.items() if key in accepted})
    jax_heartbeat = heartbeat_timeout if "heartbeat_timeout_seconds" in accepted else JAX_HEARTBEAT_TIMEOUT
    _settings.peer_timeout = _peer_timeout(peer_timeout, jax_heartbeat)
    if coordinator is not None and num_processes is not None and process_id is not None:
        if _jax_started():
            raise DistributedError(_STARTED)
        bind = options.get("coordinator_bind_address") or os.environ.get("JAX_COORDINATOR_BIND_ADDRESS")
        own = check_processes(
            coordinator, bind or coordinator, num_processes, process_id, initialization_timeout
        )
        if own and bind is None and "coordinator_bind_address" in accepted:
            options["coordinator_bind_address"] = coordinator  # not JAX's default, every interface
    use_gloo_on_cpu()
    try:
        jax.distributed.initialize(
            coordinator,
            num_processes,
            process_id,
            initialization_timeout=initialization_timeout,
            **options,
        )
    except Exception as exc:  # JAX's errors vary by release: one line that says what to check
        raise DistributedError(_explain(exc, coordinator, initialization_timeout)) from exc
    return ProcessInfo(jax.process_index(), jax.process_count(), jax.local_device_count(), jax.device_count())


def _peer_timeout(given: float | None, jax_heartbeat: float) -> float:
    if given is None:
        return min(PEER_TIMEOUT, jax_heartbeat / 2)
    if not 0 < given < jax_heartbeat:
        raise DistributedError(
            f"the peer timeout must be more than 0 and less than JAX's heartbeat timeout "
            f"({jax_heartbeat:g} s), got {given:g}"
        )
    return float(given)


def _jax_started() -> bool:
    """Whether JAX's backends have started, which ``jax.distributed.initialize`` checks first.

    JAX has no public query for it: a call JAX rejects (process id -1) right after that check
    tells, and changes nothing.
    """
    import jax

    try:
        jax.distributed.initialize("127.0.0.1:1", 1, -1, local_device_ids=[0])
    except RuntimeError as exc:
        return "must be called before" in str(exc)
    except Exception:  # noqa: BLE001 - the rejected id: JAX has not started
        return False
    return False  # pragma: no cover - never accepted


def _explain(exc: Exception, coordinator: str | None, timeout: int) -> str:
    text = " ".join(str(exc).split())
    if "must be called before" in text:
        return _STARTED
    if "DEADLINE_EXCEEDED" in text or "timed out" in text.lower():
        where = f"the coordinator {coordinator}" if coordinator else "the coordinator"
        return (
            f"not every process joined {where} within {timeout} s: start all the processes with the "
            "same coordinator and number of processes, and a different process id each"
        )
    return f"jax.distributed.initialize failed: {type(exc).__name__}: {text[:300]}"


__all__ = [
    "HEARTBEAT_TIMEOUT",
    "INITIALIZATION_TIMEOUT",
    "JAX_HEARTBEAT_TIMEOUT",
    "PEER_TIMEOUT",
    "SHUTDOWN_TIMEOUT",
    "DistributedError",
    "ProcessInfo",
    "check_coordinator",
    "cpu_collectives",
    "detected_cluster",
    "initialize_distributed",
    "is_initialized",
    "peer_timeout",
    "use_gloo_on_cpu",
]
