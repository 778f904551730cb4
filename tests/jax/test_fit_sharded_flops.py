"""FLOP/s of a step sharded over several devices: the whole step's FLOPs, not one device's.

XLA's cost analysis describes the program one device runs. The checks run in a subprocess
with four forced host devices (the device count is fixed when JAX starts), which prints
what it found as JSON: the session's FLOPs per step against XLA's figures for the same
step, sharded, replicated and on one device.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("jax")

WORKER = textwrap.dedent(
    """
    import json
    import jax, jax.numpy as jnp, numpy as np, optax
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
    from trainscope import TrainingSession, hookimpl

    class Ends:
        def __init__(self):
            self.phases = []

        @hookimpl
        def trainscope_phase_end(self, phase):
            if phase.name == "train":
                self.phases.append({"elapsed": phase.elapsed, **phase.throughput.as_dict()})

    optimizer = optax.sgd(0.1)

    def step(params, x, y):
        def loss(params):
            hidden = jnp.tanh(x @ params["w1"])
            return optax.softmax_cross_entropy_with_integer_labels(hidden @ params["w2"], y).mean()
        value, grads = jax.value_and_grad(loss)(params)
        updates, _ = optimizer.update(grads, optimizer.init(params), params)
        return optax.apply_updates(params, updates), value

    rng = np.random.default_rng(0)
    params = {"w1": jnp.asarray(rng.normal(size=(256, 512)), jnp.float32),
              "w2": jnp.asarray(rng.normal(size=(512, 16)), jnp.float32)}
    x = jnp.asarray(rng.normal(size=(128, 256)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 16, 128))

    def xla_flops(jitted, *args):
        return float(jitted.lower(*args).compile().cost_analysis()["flops"])

    def put(tree, sharding):
        return jax.device_put(tree, sharding)

    found = {"device_count": jax.device_count(), "one_device": xla_flops(jax.jit(step), params, x, y)}
    line = Mesh(np.array(jax.devices()), ("data",))  # automatic sharding of the intermediates
    grid = Mesh(np.array(jax.devices()).reshape(2, 2), ("data", "model"))
    cases = {
        # data parallel: parameters replicated, the batch split four ways
        "data_parallel": (NamedSharding(line, P()), NamedSharding(line, P("data"))),
        # the parameters sharded too (their last dimension), the batch split four ways
        "sharded_params": (NamedSharding(line, P(None, "data")), NamedSharding(line, P("data"))),
        # every device computes the whole step
        "replicated": (NamedSharding(line, P()), NamedSharding(line, P())),
        # a 2 x 2 mesh with the batch on one axis: pairs of devices compute the same half
        "half_replicated": (NamedSharding(grid, P()), NamedSharding(grid, P("data"))),
    }
    for name, (param_sharding, batch_sharding) in cases.items():
        jitted = jax.jit(step)
        args = (put(params, param_sharding), put(x, batch_sharding), put(y, batch_sharding))
        ends = Ends()
        session = TrainingSession("Net", 1, 3, plugins=[ends])
        given = session.set_step_flops(jitted, *args)
        with session:
            session.start_epoch(1)
            for i in range(1, 4):
                new, loss = jitted(*args)
                session.update_training_progress(i, loss, batch_size=128)
        found[name] = {"session": given, "device_program": xla_flops(jitted, *args), "end": ends.phases[-1]}

    # the docs' call with devices= given: the same FLOPs, and MFU over the devices given
    session = TrainingSession("Net", 1, 1, plugins=[])
    param_sharding, batch_sharding = cases["data_parallel"]
    args = (put(params, param_sharding), put(x, batch_sharding), put(y, batch_sharding))
    found["given_devices"] = session.set_step_flops(jax.jit(step), *args, devices=4)
    print("FOUND", json.dumps(found))
    """
)


@pytest.fixture
def four_devices(on_four_devices: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return on_four_devices(WORKER, TRAINSCOPE_PLUGINS="")


@pytest.mark.parametrize(("case", "parts"), [("data_parallel", 4), ("sharded_params", 4)])
def test_a_sharded_step_counts_the_program_of_every_device(
    case: str, parts: int, four_devices: dict[str, Any]
) -> None:
    found = four_devices[case]
    assert found["session"] == found["device_program"] * parts
    # the whole step: what one device computes alone (the optimizer update, replicated in a
    # data-parallel step, is done by each device; it is small here)
    assert found["session"] == pytest.approx(four_devices["one_device"], rel=0.05)


def test_a_replicated_step_counts_once(four_devices: dict[str, Any]) -> None:
    found = four_devices
    assert found["replicated"]["session"] == found["replicated"]["device_program"]
    assert found["replicated"]["session"] == pytest.approx(found["one_device"], rel=1e-6)


def test_devices_that_hold_the_same_parts_count_once(four_devices: dict[str, Any]) -> None:
    found = four_devices["half_replicated"]
    assert found["session"] == found["device_program"] * 2


@pytest.mark.parametrize("case", ["data_parallel", "sharded_params", "replicated", "half_replicated"])
def test_flops_per_second_and_mfu_follow_the_step_and_its_four_devices(
    case: str, four_devices: dict[str, Any]
) -> None:
    found = four_devices[case]
    end = found["end"]
    assert end["flops_per_second"] == pytest.approx(3 * found["session"] / end["elapsed"], rel=1e-9)
    # TRAINSCOPE_PEAK_TFLOPS=1 is the peak of one device; the compiled step runs on four
    assert end["mfu"] == pytest.approx(end["flops_per_second"] / 4e12, rel=1e-9)


def test_the_devices_given_change_the_peak_not_the_flops(four_devices: dict[str, Any]) -> None:
    found = four_devices
    assert found["given_devices"] == found["data_parallel"]["session"]
