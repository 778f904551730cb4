"""The private JAX names trainscope_jax reads (where JAX has no public API) still exist.

Each test imports the name as the code does and checks the attributes it uses, so a JAX
upgrade that moves one fails here rather than silently degrading at run time.
"""

from __future__ import annotations

import inspect

import pytest

pytest.importorskip("jax")


def test_the_distributed_global_state_peers_read() -> None:
    from jax._src import distributed

    state = distributed.global_state
    for name in ("client", "num_processes", "process_id"):
        assert hasattr(state, name), f"jax._src.distributed.global_state.{name} is gone"
    assert state.client is None or hasattr(state.client, "key_value_set")


def test_the_cluster_types_detected_cluster_reads() -> None:
    from jax._src import clusters

    types = clusters.ClusterEnv._cluster_types
    assert types, "jax._src.clusters.ClusterEnv._cluster_types is empty"
    for cluster in types:
        assert callable(cluster.is_env_present)
        assert hasattr(cluster, "opt_in_only_method")


def test_backends_are_initialized_for_device_selection() -> None:
    from jax._src import xla_bridge

    started = xla_bridge.backends_are_initialized
    assert callable(started)
    assert not inspect.signature(started).parameters
    assert isinstance(started(), bool)
