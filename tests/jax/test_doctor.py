"""``trainscope doctor``: report, exit status and known-bad combinations, with faked jax and probes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from trainscope_jax.devices import doctor
from trainscope_jax.devices.doctor import diagnose, doctor_command
from trainscope_jax.devices.probe import Installation, PluginInfo, ProbeResult, known_problems, release

JAX_METAL = PluginInfo("jax_plugins.metal_plugin", "jax-metal", "0.1.1", "metal", "METAL")
JAX_MPS = PluginInfo("jax_plugins.mps", "jax-mps", "0.9.3", "metal", "mps")
CUDA = PluginInfo("jax_cuda12_plugin", "jax-cuda12-plugin", "0.5.0", "gpu", "cuda")

MAC = Installation(
    python="3.12.4 (CPython)",
    os="macOS-15.1-arm64-arm-64bit",
    machine="arm64",
    mac_version="15.1",
    jax_version="0.5.0",
    jaxlib_version="0.5.0",
    plugins=(JAX_METAL,),
)
LINUX = Installation(
    python="3.11.7 (CPython)",
    os="Linux-6.8-x86_64",
    machine="x86_64",
    mac_version="",
    jax_version="0.10.2",
    jaxlib_version="0.10.2",
    plugins=(),
)
BROKEN_METAL = "XlaRuntimeError: UNIMPLEMENTED: default_memory_space is not supported."


class FakeProbe:
    """Canned probe results; records every platform started."""

    def __init__(self, **errors: str) -> None:
        self.errors = errors
        self.calls: list[str] = []

    def __call__(self, platform: str) -> ProbeResult:
        self.calls.append(platform)
        if platform in self.errors:
            return ProbeResult(platform, ok=False, error=self.errors[platform])
        names = {"METAL": "Apple M2 Pro (METAL)", "cuda": "NVIDIA H100 (cuda)", "cpu": "cpu"}
        return ProbeResult(platform, ok=True, devices=(names.get(platform, platform),))


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeProbe:
    """Makes the command see a Mac with jax-metal; the probe result can be changed per test."""
    probe = FakeProbe()
    monkeypatch.setattr(doctor, "inspect_installation", lambda: MAC)
    monkeypatch.setattr(doctor, "probe_platform", probe)
    monkeypatch.delenv("JAX_PLATFORMS", raising=False)
    return probe


# -- the report ----------------------------------------------------------------


def test_report_shows_versions_devices_choice_and_no_problems() -> None:
    probe = FakeProbe()
    report = diagnose(installation=MAC, probe=probe, environ={})
    lines = report.lines()
    assert report.ok
    assert probe.calls == ["METAL", "cpu"]
    for expected in [
        "  Python         3.12.4 (CPython)",
        "  OS             macOS-15.1-arm64-arm-64bit (macOS 15.1)",
        "  Machine        arm64",
        "  jax            0.5.0",
        "  jaxlib         0.5.0",
        "  JAX plugins    jax-metal 0.1.1 (jax_plugins.metal_plugin) -> METAL",
        "  JAX_PLATFORMS  not set",
        "  METAL          Apple M2 Pro (METAL)",
        "  cpu            cpu",
        "  requested      auto",
        "  device         Apple M2 Pro (METAL)",
        "  reason         auto: the Metal plugin (METAL) started",
    ]:
        assert expected in lines
    assert lines[-2:] == ["Known problems", "  none"]


def test_report_with_jax_too_new_for_jax_metal_shows_the_failure_and_the_fix() -> None:
    installation = replace(MAC, jax_version="0.10.2", jaxlib_version="0.10.2")
    report = diagnose(installation=installation, probe=FakeProbe(METAL=BROKEN_METAL), environ={})
    lines = report.lines()
    assert report.ok
    assert report.choice is not None
    assert report.choice.kind == "cpu"
    assert f"  METAL          cannot start: {BROKEN_METAL}" in lines
    assert f"  fallback from  metal (METAL): {BROKEN_METAL}" in lines
    problems = lines[lines.index("Known problems") + 1 :]
    assert problems[0].startswith("  - jax-metal 0.1.1 works with jax and jaxlib 0.4.34 to 0.5.0 only")
    assert "jax 0.10.2 and jaxlib 0.10.2" in problems[0]
    assert (
        problems[1]
        == '    fix: pin both: pip install "jax==0.5.0" "jaxlib==0.5.0" (the "metal" extra does this)'
    )


def test_report_lists_every_device_of_a_platform() -> None:
    def many(platform: str) -> ProbeResult:
        return ProbeResult(platform, ok=True, devices=("NVIDIA H100 (cuda)",) * 8)

    report = diagnose(installation=replace(LINUX, plugins=(CUDA,)), probe=many, environ={})
    assert "  cuda           8 x NVIDIA H100 (cuda)" in report.lines()


def test_report_respects_and_probes_the_users_jax_platforms() -> None:
    probe = FakeProbe()
    report = diagnose(installation=MAC, probe=probe, environ={"JAX_PLATFORMS": "cpu"})
    assert report.choice is not None
    assert (report.choice.kind, report.choice.reason) == ("cpu", "JAX_PLATFORMS=cpu is set")
    assert "  JAX_PLATFORMS  cpu" in report.lines()


# -- the command ---------------------------------------------------------------


def test_command_exits_zero_when_auto_works(fake: FakeProbe) -> None:
    result = CliRunner().invoke(doctor_command, [])
    assert result.exit_code == 0, result.output
    assert "  device         Apple M2 Pro (METAL)" in result.output.splitlines()


def test_command_exits_one_when_the_requested_platform_cannot_work(fake: FakeProbe) -> None:
    fake.errors["METAL"] = BROKEN_METAL
    result = CliRunner().invoke(doctor_command, ["--platform", "metal"])
    assert result.exit_code == 1
    line = next(line for line in result.output.splitlines() if line.startswith("  cannot work"))
    assert "Metal was requested, but it cannot start: METAL: XlaRuntimeError: UNIMPLEMENTED" in line
    assert fake.calls == ["METAL", "cpu"]


def test_command_exits_one_for_a_gpu_that_is_not_installed(fake: FakeProbe) -> None:
    result = CliRunner().invoke(doctor_command, ["--platform", "gpu"])
    assert result.exit_code == 1
    assert "no GPU plugin for JAX is installed" in result.output


def test_command_reads_the_platform_from_the_environment(
    fake: FakeProbe, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAINSCOPE_PLATFORM", "gpu")
    assert CliRunner().invoke(doctor_command, []).exit_code == 1
    assert CliRunner().invoke(doctor_command, ["--platform", "cpu"]).exit_code == 0


def test_command_json_for_scripts(fake: FakeProbe) -> None:
    fake.errors["METAL"] = BROKEN_METAL
    result = CliRunner().invoke(doctor_command, ["--json", "--platform", "auto"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["ok"] is True
    assert data["requested"] == "auto"
    assert data["installation"]["plugins"][0]["distribution"] == "jax-metal"
    assert data["platforms"][0] == {"platform": "METAL", "ok": False, "devices": [], "error": BROKEN_METAL}
    assert data["choice"]["kind"] == "cpu"
    assert data["choice"]["fallback_from"] == f"metal (METAL): {BROKEN_METAL}"
    assert data["problems"] == []


# -- known-bad combinations ----------------------------------------------------


def test_jax_metal_with_jax_or_jaxlib_newer_than_0_5_0_is_a_known_problem() -> None:
    assert known_problems(MAC) == []
    (problem,) = known_problems(replace(MAC, jaxlib_version="0.5.1"))
    assert "but jaxlib 0.5.1 is installed" in problem.summary
    assert "default_memory_space" in problem.summary
    assert known_problems(replace(LINUX, jax_version="0.10.2")) == []


def test_macos_older_than_14_4_is_a_known_problem() -> None:
    (problem,) = known_problems(replace(MAC, mac_version="14.3.1"))
    assert problem.summary == "macOS 14.3.1 is older than 14.4, which jax-metal needs"
    assert "update macOS to 14.4" in problem.fix
    assert known_problems(replace(MAC, mac_version="14.4")) == []


def test_two_metal_plugins_at_once_is_a_known_problem() -> None:
    (problem,) = known_problems(replace(MAC, plugins=(JAX_METAL, JAX_MPS, CUDA)))
    assert problem.summary == "2 Metal plugins are installed at once: jax-metal, jax-mps"
    assert problem.fix == "keep one, e.g.: pip uninstall jax-mps"


@pytest.mark.parametrize(
    ("version", "expected"),
    [("0.5.0", (0, 5, 0)), ("0.5.1rc1", (0, 5, 1)), ("14.4", (14, 4)), ("0.4.34.dev20240901", (0, 4, 34))],
)
def test_release(version: str, expected: tuple[int, ...]) -> None:
    assert release(version) == expected


# -- for real, on this machine -------------------------------------------------


def _trainscope_command() -> list[str]:
    script = shutil.which("trainscope", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "trainscope"]


def test_real_doctor_on_this_machine() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("JAX_PLATFORMS", "TRAINSCOPE_PLATFORM")}
    done = subprocess.run(
        [*_trainscope_command(), "doctor", "--json", "--platform", "cpu"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    cpu = next(probe for probe in data["platforms"] if probe["platform"] == "cpu")
    assert cpu["ok"] is True
    assert cpu["devices"]
    assert data["choice"]["platform"] == "cpu"
    assert data["installation"]["jax_version"]
