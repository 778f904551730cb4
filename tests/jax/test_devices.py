"""Device selection: what jax reports and what the probe returns are faked, except where noted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

from trainscope_jax.devices import selection as devices
from trainscope_jax.devices.probe import (
    PluginInfo,
    ProbeResult,
    classify_plugin,
    describe_device,
    installed_plugins,
    parse_probe_output,
    probe_platform,
)
from trainscope_jax.devices.selection import (
    CurrentProcess,
    DeviceChoice,
    DeviceSelectionError,
    DeviceSelector,
    check_dtype_supported,
    kind_of_platform,
    select_device,
)

JAX_METAL = PluginInfo("jax_plugins.metal_plugin", "jax-metal", "0.1.1", "metal", "METAL")
JAX_MPS = PluginInfo("jax_plugins.mps", "jax-mps", "0.9.3", "metal", "mps")
CUDA = PluginInfo("jax_cuda12_plugin", "jax-cuda12-plugin", "0.5.0", "gpu", "cuda")
ROCM = PluginInfo("jax_rocm60_plugin", "jax-rocm60-plugin", "0.5.0", "gpu", "rocm")

METAL_OK = ProbeResult("METAL", ok=True, devices=("Apple M2 Pro (METAL)",))
METAL_BROKEN = ProbeResult(
    "METAL", ok=False, error="XlaRuntimeError: UNIMPLEMENTED: default_memory_space is not supported."
)
CUDA_OK = ProbeResult("cuda", ok=True, devices=("NVIDIA H100 (cuda)", "NVIDIA H100 (cuda)"))


class FakeProbe:
    """Returns canned results and records every platform it was asked to start."""

    def __init__(self, *results: ProbeResult) -> None:
        self.results = {result.platform: result for result in results}
        self.calls: list[str] = []

    def __call__(self, platform: str) -> ProbeResult:
        self.calls.append(platform)
        return self.results.get(
            platform, ProbeResult(platform, ok=False, error=f"unknown backend {platform}")
        )


class FakeProcess:
    """This process's JAX: not started unless told, records what selection configured."""

    def __init__(self, started: str | None = None, configured: str | None = None) -> None:
        self.started = started
        self.configured = configured
        self.used: list[str] = []

    def started_platform(self) -> str | None:
        return self.started

    def first_device(self) -> str:
        return f"first device of {self.started}"

    def configured_platforms(self) -> str | None:
        return self.used[-1] if self.used else self.configured

    def use_platform(self, platforms: str) -> None:
        self.used.append(platforms)


def make_selector(
    *plugins: PluginInfo,
    probe: FakeProbe | None = None,
    process: FakeProcess | None = None,
    environ: Mapping[str, str] | None = None,
    announced: list[str] | None = None,
) -> DeviceSelector:
    return DeviceSelector(
        plugins=lambda: plugins,
        probe=probe or FakeProbe(),
        process=process or FakeProcess(),
        environ=environ or {},
        announce=(announced if announced is not None else []).append,
    )


# -- auto ----------------------------------------------------------------------


def test_auto_without_plugins_uses_the_cpu_without_probing() -> None:
    probe, process = FakeProbe(), FakeProcess()
    choice = make_selector(probe=probe, process=process).select()
    assert choice == DeviceChoice("cpu", "cpu", "cpu", "auto: no Metal or GPU plugin installed")
    assert probe.calls == []
    assert process.used == ["cpu"]


def test_auto_prefers_a_working_metal_plugin_over_the_gpu() -> None:
    probe, process = FakeProbe(METAL_OK, CUDA_OK), FakeProcess()
    choice = make_selector(CUDA, JAX_METAL, probe=probe, process=process).select("auto")
    assert (choice.kind, choice.platform, choice.device) == ("metal", "METAL", "Apple M2 Pro (METAL)")
    assert choice.fallback_from is None
    assert probe.calls == ["METAL"]
    assert process.used == ["METAL"]


def test_auto_falls_back_to_the_gpu_and_says_why_metal_failed() -> None:
    probe = FakeProbe(METAL_BROKEN, CUDA_OK)
    choice = make_selector(JAX_METAL, CUDA, probe=probe).select()
    assert (choice.kind, choice.platform, choice.device) == ("gpu", "cuda", "NVIDIA H100 (cuda)")
    assert choice.fallback_from == f"metal (METAL): {METAL_BROKEN.error}"
    assert choice.fallback_message is not None
    assert "default_memory_space is not supported" in choice.fallback_message
    assert "using NVIDIA H100 (cuda) instead" in choice.fallback_message


def test_auto_falls_back_to_the_cpu_with_one_line_saying_why() -> None:
    process, announced = FakeProcess(), []
    selector = make_selector(JAX_METAL, probe=FakeProbe(METAL_BROKEN), process=process, announced=announced)
    choice = selector.select()
    assert selector.select() is choice
    assert (choice.kind, choice.reason) == ("cpu", "auto: no Metal or GPU plugin could start")
    assert choice.fallback_message == (
        "Could not start metal (METAL): XlaRuntimeError: UNIMPLEMENTED: default_memory_space is not "
        "supported; using cpu instead (see: trainscope doctor)."
    )
    assert announced == [choice.fallback_message]
    assert process.used == ["cpu"]


def test_no_line_is_announced_when_nothing_failed() -> None:
    announced: list[str] = []
    make_selector(JAX_METAL, probe=FakeProbe(METAL_OK), announced=announced).select()
    assert announced == []


def test_auto_tries_every_metal_plugin_before_the_gpu() -> None:
    mps_ok = ProbeResult("mps", ok=True, devices=("Apple M4 (mps)",))
    probe = FakeProbe(METAL_BROKEN, mps_ok, CUDA_OK)
    choice = make_selector(JAX_METAL, JAX_MPS, CUDA, probe=probe).select()
    assert (choice.platform, choice.device) == ("mps", "Apple M4 (mps)")
    assert probe.calls == ["METAL", "mps"]
    assert choice.fallback_from is not None
    assert choice.fallback_from.startswith("metal (METAL)")


# -- forced platforms ----------------------------------------------------------


def test_cpu_request_never_probes_even_with_plugins_installed() -> None:
    probe = FakeProbe(METAL_OK)
    choice = make_selector(JAX_METAL, probe=probe).select("cpu")
    assert (choice.kind, choice.platform) == ("cpu", "cpu")
    assert probe.calls == []


def test_metal_request_without_a_plugin_says_how_to_install_one() -> None:
    process = FakeProcess()
    with pytest.raises(DeviceSelectionError, match=r"no Metal plugin .*trainscope-jax\[metal\]"):
        make_selector(CUDA, process=process).select("metal")
    assert process.used == []


def test_metal_request_that_cannot_start_reports_the_plugin_error() -> None:
    process = FakeProcess()
    with pytest.raises(DeviceSelectionError) as info:
        make_selector(JAX_METAL, probe=FakeProbe(METAL_BROKEN), process=process).select("metal")
    assert "UNIMPLEMENTED: default_memory_space is not supported" in str(info.value)
    assert "trainscope doctor" in str(info.value)
    assert process.used == []


def test_gpu_request_uses_the_installed_rocm_plugin() -> None:
    rocm_ok = ProbeResult("rocm", ok=True, devices=("AMD Instinct MI300X (rocm)",))
    choice = make_selector(JAX_METAL, ROCM, probe=FakeProbe(METAL_OK, rocm_ok)).select("gpu")
    assert (choice.kind, choice.platform, choice.device) == ("gpu", "rocm", "AMD Instinct MI300X (rocm)")


def test_platform_comes_from_the_environment_variable_unless_requested() -> None:
    environ = {"TRAINSCOPE_PLATFORM": "GPU"}
    assert make_selector(CUDA, probe=FakeProbe(CUDA_OK), environ=environ).select().kind == "gpu"
    assert make_selector(CUDA, probe=FakeProbe(CUDA_OK), environ=environ).select("cpu").kind == "cpu"


def test_unknown_platform_names_the_variable_and_the_choices() -> None:
    with pytest.raises(
        DeviceSelectionError, match=r"'tpu' \(TRAINSCOPE_PLATFORM=tpu\).*auto, metal, gpu, cpu"
    ):
        make_selector(environ={"TRAINSCOPE_PLATFORM": "tpu"}).select()


# -- JAX_PLATFORMS set by the user ---------------------------------------------


def test_user_jax_platforms_is_respected_by_auto() -> None:
    probe, process = FakeProbe(METAL_OK), FakeProcess(configured="cpu")
    choice = make_selector(JAX_METAL, probe=probe, process=process).select()
    assert (choice.kind, choice.reason) == ("cpu", "JAX_PLATFORMS=cpu is set")
    assert probe.calls == []
    assert process.used == ["cpu"]


def test_user_jax_platforms_naming_a_plugin_is_probed() -> None:
    probe, process = FakeProbe(METAL_OK), FakeProcess(configured="METAL")
    choice = make_selector(JAX_METAL, probe=probe, process=process).select("metal")
    assert (choice.kind, choice.platform, choice.device) == ("metal", "METAL", "Apple M2 Pro (METAL)")
    assert probe.calls == ["METAL"]


def test_user_jax_platforms_that_cannot_start_is_an_error() -> None:
    process = FakeProcess(configured="METAL")
    with pytest.raises(DeviceSelectionError, match=r"JAX_PLATFORMS=METAL is set, but 'METAL' cannot start"):
        make_selector(JAX_METAL, probe=FakeProbe(METAL_BROKEN), process=process).select()


def test_user_jax_platforms_conflicting_with_the_request_is_an_error() -> None:
    with pytest.raises(
        DeviceSelectionError, match=r"JAX_PLATFORMS=cpu selects 'cpu', but 'metal' was requested"
    ):
        make_selector(JAX_METAL, process=FakeProcess(configured="cpu")).select("metal")


# -- once per process ----------------------------------------------------------


def test_a_second_call_returns_the_same_choice_without_probing_again() -> None:
    probe = FakeProbe(METAL_OK)
    selector = make_selector(JAX_METAL, probe=probe)
    first = selector.select()
    assert selector.select() is first
    assert selector.select("auto") is first
    assert selector.select("metal") is first
    assert probe.calls == ["METAL"]


def test_a_different_request_before_jax_starts_selects_again() -> None:
    process = FakeProcess()
    selector = make_selector(JAX_METAL, probe=FakeProbe(METAL_OK), process=process)
    assert selector.select().kind == "metal"
    assert selector.select("cpu").kind == "cpu"
    assert process.used == ["METAL", "cpu"]


def test_a_different_request_after_jax_started_is_an_error() -> None:
    process = FakeProcess()
    selector = make_selector(JAX_METAL, probe=FakeProbe(METAL_OK), process=process)
    selector.select()
    process.started = "METAL"
    with pytest.raises(DeviceSelectionError, match="must be chosen before JAX starts"):
        selector.select("cpu")


def test_jax_already_started_is_reported_as_it_is() -> None:
    probe, process = FakeProbe(METAL_OK), FakeProcess(started="cpu")
    selector = make_selector(JAX_METAL, probe=probe, process=process)
    choice = selector.select()
    assert (choice.kind, choice.platform, choice.device) == ("cpu", "cpu", "first device of cpu")
    assert "already started" in choice.reason
    assert selector.select("cpu") is choice
    with pytest.raises(
        DeviceSelectionError, match="'metal' was requested, but JAX has already started on 'cpu'"
    ):
        make_selector(JAX_METAL, probe=probe, process=process).select("metal")
    assert probe.calls == []
    assert process.used == []


def test_select_device_uses_the_process_selector(monkeypatch: pytest.MonkeyPatch) -> None:
    process = FakeProcess()
    monkeypatch.setattr(devices, "_SELECTOR", make_selector(CUDA, probe=FakeProbe(CUDA_OK), process=process))
    first = select_device()
    assert (first.kind, first.platform) == ("gpu", "cuda")
    assert select_device() is first
    assert process.used == ["cuda"]


# -- dtypes and names ----------------------------------------------------------


def test_metal_refuses_float64_with_a_clear_message() -> None:
    metal = DeviceChoice("metal", "METAL", "Apple M2 Pro (METAL)", "auto")
    with pytest.raises(DeviceSelectionError, match=r"'float64' is not supported on Metal .*float32 only"):
        check_dtype_supported(metal, "float64")
    check_dtype_supported(metal, "float32")
    check_dtype_supported(DeviceChoice("cpu", "cpu", "cpu", "auto"), "float64")
    with pytest.raises(ValueError, match="Unknown dtype 'floaty'"):
        check_dtype_supported(metal, "floaty")


@pytest.mark.parametrize(
    ("platform", "kind"),
    [
        ("METAL", "metal"),
        ("mps", "metal"),
        ("mtl", "metal"),
        ("cuda", "gpu"),
        ("rocm", "gpu"),
        ("gpu", "gpu"),
        ("cpu", "cpu"),
        ("tpu", "tpu"),
    ],
)
def test_kind_of_platform(platform: str, kind: str) -> None:
    assert kind_of_platform(platform) == kind


@pytest.mark.parametrize(
    ("module", "distribution", "expected"),
    [
        ("jax_plugins.metal_plugin", "jax-metal", ("metal", "METAL")),
        ("jax_plugins.metal_plugin", None, ("metal", "METAL")),
        ("jax_mps", "jax-mps", ("metal", "mps")),
        ("jax_plugins.mtl", None, ("metal", "mtl")),
        ("jax_cuda12_plugin", "jax-cuda12-plugin", ("gpu", "cuda")),
        ("jax_plugins.xla_cuda12", "jax-cuda12-pjrt", ("gpu", "cuda")),
        ("jax_rocm60_plugin", "jax-rocm60-plugin", ("gpu", "rocm")),
        ("libtpu", "libtpu", ("other", None)),
    ],
)
def test_classify_plugin(module: str, distribution: str | None, expected: tuple[str, str | None]) -> None:
    assert classify_plugin(module, distribution) == expected


def test_installed_plugins_reads_entry_points_and_the_namespace_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = tmp_path / "jax_plugins" / "metal_plugin"
    module.mkdir(parents=True)
    (module / "__init__.py").write_text("def initialize():\n    pass\n")
    metal_info = tmp_path / "jax_metal-0.1.1.dist-info"
    metal_info.mkdir()
    (metal_info / "METADATA").write_text("Metadata-Version: 2.1\nName: jax-metal\nVersion: 0.1.1\n")
    (metal_info / "RECORD").write_text("jax_plugins/metal_plugin/__init__.py,,\n")
    cuda_info = tmp_path / "fake_cuda12_plugin-0.7.0.dist-info"
    cuda_info.mkdir()
    (cuda_info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-cuda12-plugin\nVersion: 0.7.0\n")
    (cuda_info / "entry_points.txt").write_text("[jax_plugins]\nxla_cuda12 = fake_cuda12_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins = installed_plugins()
    assert PluginInfo("jax_plugins.metal_plugin", "jax-metal", "0.1.1", "metal", "METAL") in plugins
    assert PluginInfo("fake_cuda12_plugin", "fake-cuda12-plugin", "0.7.0", "gpu", "cuda") in plugins


# -- the probe -----------------------------------------------------------------


def test_probe_output_with_devices_describes_each() -> None:
    stdout = 'noise\nTRAINSCOPE_PROBE {"ok": true, "devices": ["Metal", "Metal"], "chip": "Apple M2 Pro"}\n'
    result = parse_probe_output("METAL", stdout, "Platform 'METAL' is experimental\n", 0)
    assert result == ProbeResult("METAL", ok=True, devices=("Apple M2 Pro (METAL)",) * 2)


def test_probe_error_is_one_line_without_jax_advice() -> None:
    error = (
        "RuntimeError: Unable to initialize backend 'METAL': boom\nmore detail (set JAX_PLATFORMS='' to x)"
    )
    stdout = "TRAINSCOPE_PROBE " + json.dumps({"ok": False, "error": error})
    result = parse_probe_output("METAL", stdout, "", 0)
    assert result.error == "RuntimeError: Unable to initialize backend 'METAL': boom"
    assert not result.ok


def test_probe_that_aborts_reports_the_last_meaningful_stderr_line() -> None:
    stderr = textwrap.dedent(
        """\
        Metal device set to: Apple M1
        Traceback (most recent call last):
          File "<string>", line 5, in <module>
        F0000 00:00:1 pjrt_client.cc:42] Check failed: default_memory_space is not supported

        """
    )
    result = parse_probe_output("METAL", "", stderr, -6)
    assert result.error == (
        "F0000 00:00:1 pjrt_client.cc:42] Check failed: default_memory_space is not supported "
        "(probe process killed by SIGABRT)"
    )
    assert (
        parse_probe_output("mps", "", "", 1).error
        == "the probe process ended without a result (exit status 1)"
    )


@pytest.mark.parametrize(
    ("platform", "kind", "chip", "expected"),
    [
        ("METAL", "Metal", "Apple M2 Pro", "Apple M2 Pro (METAL)"),
        ("cuda", "NVIDIA H100 80GB HBM3", "", "NVIDIA H100 80GB HBM3 (cuda)"),
        ("cpu", "cpu", "Apple M2 Pro", "cpu"),
    ],
)
def test_describe_device(platform: str, kind: str, chip: str, expected: str) -> None:
    assert describe_device(platform, kind, chip) == expected


# -- for real, on this machine's CPU -------------------------------------------


def test_real_probe_starts_the_cpu() -> None:
    result = probe_platform("cpu")
    assert result.ok, result.error
    assert result.devices
    assert set(result.devices) == {"cpu"}


def test_real_probe_of_a_missing_plugin_fails_in_its_subprocess() -> None:
    result = probe_platform("METAL")
    assert not result.ok
    assert result.error is not None
    assert "METAL" in result.error
    assert "\n" not in result.error


def test_current_process_sees_jax_started(monkeypatch: pytest.MonkeyPatch) -> None:
    import jax

    jax.numpy.zeros(1).block_until_ready()
    process = CurrentProcess()
    assert process.started_platform() == jax.default_backend()
    assert process.first_device()
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    assert process.configured_platforms() == "cpu"


def _run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("JAX_PLATFORMS", "TRAINSCOPE_PLATFORM")}
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_real_select_device_configures_jax_in_a_fresh_process() -> None:
    code = textwrap.dedent(
        """\
        from trainscope_jax.devices.selection import select_device
        import jax
        choice = select_device()
        print(choice.kind, choice.platform, jax.config.jax_platforms, jax.default_backend())
        print(select_device() is choice)
        """
    )
    done = _run_python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["cpu cpu cpu cpu", "True"]


def test_real_select_device_refuses_a_gpu_this_machine_lacks() -> None:
    done = _run_python(
        "from trainscope_jax.devices.selection import select_device; select_device()",
        TRAINSCOPE_PLATFORM="gpu",
    )
    assert done.returncode != 0
    assert "DeviceSelectionError: GPU was requested (TRAINSCOPE_PLATFORM=gpu)" in done.stderr
