"""Scale, in this single-device test process: batch rows per process, the options and their errors.

Several devices and several processes need their own processes (the device count is fixed
when JAX starts): see ``test_scale_devices.py`` and ``test_scale_processes.py``.
"""

from __future__ import annotations

import re

import jax
import numpy as np
import pytest
from click.testing import CliRunner

from trainscope import create_plugin_manager
from trainscope.cli import CliContext, build_cli
from trainscope_jax import (
    ArrayDataset,
    BatchLoader,
    DistributedError,
    ModelTrainer,
    PeerWatch,
    TrainerConfig,
    create_model,
    initialize_distributed,
    report_failure,
    watch_peers,
)
from trainscope_jax.devices.doctor import diagnose
from trainscope_jax.devices.probe import Installation, ProbeResult
from trainscope_jax.training.batching import evaluation_batches, padded_batch
from trainscope_jax.training.distributed import check_coordinator, detected_cluster

SLURM = {
    "SLURM_JOB_ID": "42",
    "SLURM_STEP_NODELIST": "node1",
    "SLURM_NTASKS": "2",
    "SLURM_PROCID": "0",
    "SLURM_LOCALID": "0",
}


def invoke(args: list[str]) -> tuple[int, str]:
    manager = create_plugin_manager(plugins=["jax"])
    result = CliRunner().invoke(build_cli(manager), args, obj=CliContext(manager, []))
    return result.exit_code, result.output


def numbered(n: int) -> ArrayDataset:
    """Images whose only pixel is their index: batches say which examples they hold."""
    return ArrayDataset(np.arange(n, dtype=np.float32).reshape(n, 1), np.zeros(n, np.int32), num_classes=2)


# -- each process reads its own rows -------------------------------------------------------


def test_processes_read_disjoint_rows_that_make_the_global_batch() -> None:
    data = numbered(40)
    whole = list(BatchLoader(data, 8, seed=3).epoch(1))
    halves = [list(BatchLoader(data, 8, seed=3, rows=rows).epoch(1)) for rows in (slice(0, 4), slice(4, 8))]
    assert len(whole) == 5
    for step, (images, _) in enumerate(whole):
        first, second = halves[0][step][0], halves[1][step][0]
        assert len(first) == len(second) == 4
        np.testing.assert_array_equal(np.concatenate([first, second]), images)


def test_padded_validation_rows_mask_the_padding_and_count_each_example_once() -> None:
    data = numbered(10)
    (indices,) = evaluation_batches(data, 16)
    parts = [padded_batch(data, indices, 12, rows) for rows in (slice(0, 6), slice(6, 12))]
    images = np.concatenate([part[0] for part in parts])[:, 0]
    mask = np.concatenate([part[2] for part in parts])
    assert [len(part[0]) for part in parts] == [6, 6]
    np.testing.assert_array_equal(images[mask], np.arange(10))
    assert mask.tolist() == [True] * 10 + [False] * 2
    only_padding = padded_batch(data, indices, 24, slice(18, 24))
    assert only_padding[0].shape == (6, 1)
    assert not only_padding[2].any()


# -- one device: the same trainer, the devices recorded ---------------------------------------


def test_the_environment_records_the_devices_used() -> None:
    trainer = ModelTrainer(create_model("mlp", (1, 4, 4), 3), TrainerConfig(platform="cpu", devices=1))
    env = trainer.environment()
    assert env["devices"] == [f"cpu:{jax.devices()[0].id}"]
    assert (env["device_count"], env["process_count"]) == (1, 1)
    assert trainer.run_config()["devices"] == 1


def test_more_devices_than_there_are_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="5 devices were requested but this process has 1 cpu device"):
        ModelTrainer(create_model("mlp", (1, 4, 4), 3), TrainerConfig(platform="cpu", devices=5))
    with pytest.raises(ValueError, match="devices must be at least 1"):
        TrainerConfig(devices=0)


def test_a_peer_watch_does_nothing_in_one_process() -> None:
    trainer = ModelTrainer(create_model("mlp", (1, 4, 4), 3), TrainerConfig(platform="cpu"))
    session = trainer.create_training_session("Solo", 1, 1, plugins=[])
    watch = watch_peers(session)
    assert isinstance(watch, PeerWatch)
    report_failure(RuntimeError("nobody to tell"))
    with session:
        session.start_epoch(1)
        session.update_training_progress(1, 0.5)
    assert watch._thread is None


# -- joining several processes: arguments checked before JAX is asked ------------------------


@pytest.mark.parametrize(
    ("address", "ok"),
    [
        ("127.0.0.1:1234", True),
        ("node-3.cluster:80", True),
        ("[::1]:9", True),
        ("host", False),
        ("h:0", False),
    ],
)
def test_coordinator_addresses(address: str, ok: bool) -> None:
    if ok:
        assert check_coordinator(address) == address
    else:
        with pytest.raises(ValueError, match="is not HOST:PORT"):
            check_coordinator(address)


def test_initialize_distributed_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SLURM:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OMPI_MCA_orte_hnp_uri", raising=False)
    with pytest.raises(DistributedError, match="no cluster detected"):
        initialize_distributed()
    with pytest.raises(DistributedError, match="give all three"):
        initialize_distributed("127.0.0.1:1234", 2)
    with pytest.raises(DistributedError, match=r"process id 2 is not one of 0\.\.1"):
        initialize_distributed("127.0.0.1:1234", 2, 2)
    with pytest.raises(DistributedError, match="is not HOST:PORT"):
        initialize_distributed("127.0.0.1", 2, 0)


def test_initialize_distributed_after_jax_started_says_so() -> None:
    jax.devices()  # JAX has started in this process
    with pytest.raises(DistributedError, match="JAX has already started in this process"):
        initialize_distributed("127.0.0.1:1", 2, 0, initialization_timeout=1)


def test_a_cluster_jax_detects_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SLURM.items():
        monkeypatch.setenv(name, value)
    assert detected_cluster() == "SlurmCluster"


# -- the command's options ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--coordinator", "127.0.0.1:1234"], r"missing --num-processes, --process-id"),
        (["--num-processes", "2", "--process-id", "0"], r"missing --coordinator"),
        (
            ["--coordinator", "127.0.0.1:1234", "--num-processes", "2", "--process-id", "2"],
            r"--process-id.*2 is not one of 0..1",
        ),
        (["--coordinator", "here", "--num-processes", "2", "--process-id", "0"], r"'here' is not HOST:PORT"),
        (["--devices", "3"], r"--devices.*3 devices were requested but this process has 1 cpu device"),
        (["--devices", "0"], r"0 is not in the range x>=1"),
    ],
)
def test_bad_scale_options_are_one_line_errors(args: list[str], message: str) -> None:
    code, output = invoke(["train", "--epochs", "1", "--model", "mlp", "--platform", "cpu", *args])
    assert code == 2, output
    assert "Traceback" not in output
    assert re.search(message, " ".join(output.split())), output


def test_distributed_without_a_cluster_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SLURM:
        monkeypatch.delenv(name, raising=False)
    code, output = invoke(["train", "--distributed"])
    assert code == 1
    assert "no cluster detected (SLURM, Open MPI, TPU)" in output


# -- the doctor ---------------------------------------------------------------------------


def test_doctor_reports_the_devices_used_and_a_detected_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    installation = Installation("3.11", "Linux", "x86_64", "", "0.10.2", "0.10.2", ())

    def probe(platform: str) -> ProbeResult:
        return ProbeResult(platform, ok=True, devices=("cpu",) * 4)

    for name, value in SLURM.items():
        monkeypatch.setenv(name, value)
    report = diagnose("cpu", installation=installation, probe=probe, environ={})
    text = "\n".join(report.lines())
    assert "devices used   4 x cpu: each batch is split across them" in text
    assert "Slurm detected: trainscope train --distributed" in text
    assert report.as_dict()["device_count"] == 4
    assert report.as_dict()["cluster"] == "SlurmCluster"
