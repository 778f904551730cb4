"""Four devices in one process (forced host devices): the run follows the one-device run.

The device count is fixed when JAX starts, so the checks run in one subprocess started
with ``XLA_FLAGS=--xla_force_host_platform_device_count=4``; it prints its findings as
JSON and the tests below assert on them.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # a JAX process of several simulated devices

pytest.importorskip("jax")

WORKER = textwrap.dedent(
    """
    import json, os
    import jax
    import numpy as np
    from click.testing import CliRunner
    from trainscope import create_plugin_manager, hookimpl
    from trainscope.cli import CliContext, build_cli
    from trainscope_jax import BatchSizeError, ModelTrainer, TrainerConfig, create_model, load_digits

    class Steps:
        def __init__(self):
            self.losses, self.throughput = [], []

        @hookimpl
        def trainscope_progress(self, phase, records):
            if phase.name == "train":
                self.losses += records.metrics["loss"]

        @hookimpl
        def trainscope_epoch_end(self, summary):
            self.throughput.append(summary.throughput.as_dict())

    train, validation = load_digits()
    found = {"device_count": jax.device_count()}
    for devices in (1, 4):
        model = create_model("digits-cnn", train.input_shape, train.num_classes)
        steps = Steps()
        with ModelTrainer(model, TrainerConfig(platform="cpu", batch_size=32, devices=devices)) as trainer:
            history = trainer.fit(train, validation, 2, plugins=[steps])
            env = trainer.environment()
            first = trainer.train_batch(*train.get_batch(np.arange(32)))
            try:
                trainer.train_batch(*train.get_batch(np.arange(6)))
            except ValueError as exc:
                found[f"odd_batch_{devices}"] = str(exc)
            sharding = first.loss.sharding
            found[f"loss_copies_{devices}"] = [len(sharding.device_set), sharding.is_fully_replicated]
            found[f"predict_{devices}"] = trainer.predict(train.images[:5]).shape[0]
        found[f"run_{devices}"] = {
            "losses": steps.losses,
            "history": [vars(epoch) for epoch in history.epochs],
            "throughput": steps.throughput,
            "devices": env["devices"],
            "device_count": env["device_count"],
            "process_count": env["process_count"],
        }

    try:
        ModelTrainer(create_model("mlp", (1, 8, 8), 10), TrainerConfig(platform="cpu", batch_size=30))
    except BatchSizeError as exc:
        found["batch_error"] = str(exc)

    try:
        from flax import nnx
        import equinox as eqx
    except ImportError:
        found["frameworks"] = None
    else:
        class Net(nnx.Module):
            def __init__(self, *, rngs):
                self.conv = nnx.Conv(1, 8, kernel_size=(3, 3), rngs=rngs)
                self.norm = nnx.BatchNorm(8, rngs=rngs)
                self.drop = nnx.Dropout(0.1, rngs=rngs)
                self.out = nnx.Linear(8 * 64, 10, rngs=rngs)

            def __call__(self, x):
                x = self.drop(nnx.relu(self.norm(self.conv(x))))
                return self.out(x.reshape(x.shape[0], -1))

        def losses(make, shape, devices):
            trainer = ModelTrainer(make(), TrainerConfig(platform="cpu", batch_size=32, devices=devices))
            batch = lambda data, i: (data.images[i : i + 32].reshape(32, *shape), data.labels[i : i + 32])
            out = [float(trainer.train_batch(*batch(train, i)).loss) for i in (0, 32, 64)]
            out.append(float(trainer.evaluate_batch(*batch(validation, 0)).accuracy))
            return out

        nets = {
            "nnx": (lambda: Net(rngs=nnx.Rngs(0)), (1, 8, 8)),
            "equinox": (lambda: eqx.nn.MLP(64, 10, 32, 2, key=jax.random.key(0)), (64,)),
        }
        found["frameworks"] = {
            name: [losses(make, shape, n) for n in (1, 4)] for name, (make, shape) in nets.items()
        }

    def cli(*args):
        manager = create_plugin_manager(plugins=["jax"])
        return CliRunner().invoke(build_cli(manager), list(args), obj=CliContext(manager, [])).output

    found["cli"] = cli("train", "--model", "mlp", "--epochs", "1")
    found["cli_odd"] = cli("train", "--model", "mlp", "--epochs", "1", "--batch-size", "30")
    print("FOUND", json.dumps(found))
    """
)


@pytest.fixture
def four_devices(on_four_devices: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return on_four_devices(WORKER)


def test_four_devices_follow_one_device_with_the_same_global_batch_and_seed(
    four_devices: dict[str, Any],
) -> None:
    found = four_devices
    assert found["device_count"] == 4
    one, four = found["run_1"], found["run_4"]
    assert len(one["losses"]) == len(four["losses"]) == 2 * (1437 // 32)
    np.testing.assert_allclose(four["losses"], one["losses"], rtol=1e-3, atol=1e-4)  # summation order
    for a, b in zip(one["history"], four["history"]):
        assert a["validation_accuracy"] == pytest.approx(b["validation_accuracy"], abs=1 / 360 + 1e-9)
        assert a["validation_loss"] == pytest.approx(b["validation_loss"], rel=1e-3)
    assert four["history"][-1]["validation_accuracy"] > 0.85


def test_the_batch_is_split_and_the_metrics_replicated(four_devices: dict[str, Any]) -> None:
    found = four_devices
    assert found["loss_copies_4"] == [4, True]  # the loss: a whole copy on every device
    assert found["predict_4"] == 5
    assert found["odd_batch_4"] == (
        "a batch of 6 does not divide evenly across the 4 devices: use a multiple of 4 "
        "(such as 4 or 8), or train on fewer devices"
    )
    assert "odd_batch_1" not in found


def test_a_batch_size_that_does_not_divide_names_both_numbers(four_devices: dict[str, Any]) -> None:
    found = four_devices
    assert found["batch_error"] == (
        "batch size 30 does not divide evenly across the 4 devices: use a multiple of 4 "
        "(such as 28 or 32), or train on fewer devices"
    )
    assert "Invalid value for --batch-size: batch size 30 does not divide evenly" in found["cli_odd"]
    assert "Traceback" not in found["cli_odd"]


def test_the_environment_records_every_device(four_devices: dict[str, Any]) -> None:
    found = four_devices
    assert found["run_4"]["devices"] == ["cpu:0", "cpu:1", "cpu:2", "cpu:3"]
    assert found["run_1"]["devices"] == ["cpu:0"]
    assert (found["run_4"]["device_count"], found["run_4"]["process_count"]) == (4, 1)
    assert "Trained MLP on 4 x cpu for 1 epoch in" in found["cli"]


def test_flops_count_every_device_and_mfu_divides_by_all_of_them(four_devices: dict[str, Any]) -> None:
    found = four_devices
    for run in ("run_1", "run_4"):
        for throughput in found[run]["throughput"]:
            devices = found[run]["device_count"]
            # TRAINSCOPE_PEAK_TFLOPS=1: the peak of the run is 1e12 per device
            assert throughput["mfu"] == pytest.approx(throughput["flops_per_second"] / (1e12 * devices))

    def per_example(run: str) -> float:
        throughput = found[run]["throughput"][-1]
        return float(throughput["flops_per_second"] / throughput["examples_per_second"])

    # XLA analyses the program of one device: times four, the same step as one device's
    assert per_example("run_4") == pytest.approx(per_example("run_1"), rel=0.05)


def test_flax_and_equinox_models_train_alike_on_four_devices(four_devices: dict[str, Any]) -> None:
    frameworks = four_devices["frameworks"]
    if frameworks is None:
        pytest.skip("flax or equinox is not installed")
    for name, (one, four) in frameworks.items():
        np.testing.assert_allclose(four, one, rtol=1e-4, atol=1e-5, err_msg=name)
