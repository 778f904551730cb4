"""``trainscope doctor``: versions, devices, the device ``auto`` picks, and known problems.

Every platform is started in a probe subprocess, so a broken plugin cannot take
the doctor down with it. It also says how many devices training splits each batch
across, and whether JAX detects a cluster to run several processes on.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass

import click

from trainscope.environment_variables import TRAINSCOPE_PLATFORM
from trainscope_jax.devices.probe import (
    Installation,
    KnownProblem,
    ProbeResult,
    inspect_installation,
    known_problems,
    probe_platform,
)
from trainscope_jax.devices.selection import (
    REQUESTS,
    DeviceChoice,
    DeviceSelectionError,
    DeviceSelector,
    platforms_of,
)

_WIDTH = 15


@dataclass(frozen=True)
class DoctorReport:
    """Everything ``trainscope doctor`` found."""

    installation: Installation
    jax_platforms: str | None
    """``JAX_PLATFORMS`` as the user set it, or None."""
    requested: str
    probes: tuple[ProbeResult, ...]
    choice: DeviceChoice | None
    """The device the request gets; None when it cannot work."""
    error: str | None
    """Why the request cannot work; None when it can."""
    problems: tuple[KnownProblem, ...]
    cluster: str | None = None
    """The cluster JAX detects (``SlurmCluster``, ``OmpiCluster``, ...), or None."""

    @property
    def device_count(self) -> int:
        """How many devices of the chosen platform training uses (every one, by default)."""
        if self.choice is None:
            return 0
        started = [probe for probe in self.probes if probe.ok and probe.platform == self.choice.platform]
        return len(started[0].devices) if started else 1

    @property
    def ok(self) -> bool:
        """Whether the requested platform can work."""
        return self.error is None

    def lines(self) -> list[str]:
        """The report as plain text lines."""
        inst = self.installation
        plugins = [f"{p.label()} -> {p.platform or 'unknown platform'}" for p in inst.plugins] or ["none"]
        out = ["trainscope doctor"]
        out += _rows(
            [
                ("Python", [inst.python]),
                ("OS", [f"{inst.os} (macOS {inst.mac_version})" if inst.mac_version else inst.os]),
                ("Machine", [inst.machine]),
                ("jax", [inst.jax_version or "not installed"]),
                ("jaxlib", [inst.jaxlib_version or "not installed"]),
                ("JAX plugins", plugins),
                ("JAX_PLATFORMS", [self.jax_platforms or "not set"]),
            ]
        )
        out.append("Devices")
        out += _rows([(probe.platform, [_devices_text(probe)]) for probe in self.probes])
        out.append("Selection")
        selection = [("requested", [self.requested])]
        if self.choice is not None:
            selection += [("device", [self.choice.device]), ("reason", [self.choice.reason])]
            if self.choice.fallback_from:
                selection.append(("fallback from", [self.choice.fallback_from]))
            selection.append(("devices used", [_devices_used(self.device_count, self.choice.device)]))
            selection.append(("processes", [_processes(self.cluster)]))
        else:
            selection.append(("cannot work", [self.error or ""]))
        out += _rows(selection)
        out.append("Known problems")
        for problem in self.problems:
            out += [f"  - {problem.summary}", f"    fix: {problem.fix}"]
        if not self.problems:
            out.append("  none")
        return out

    def as_dict(self) -> dict[str, object]:
        """The report for ``--json``."""
        return {
            "installation": asdict(self.installation),
            "jax_platforms": self.jax_platforms,
            "requested": self.requested,
            "platforms": [asdict(probe) for probe in self.probes],
            "choice": asdict(self.choice) if self.choice is not None else None,
            "device_count": self.device_count,
            "cluster": self.cluster,
            "error": self.error,
            "problems": [asdict(problem) for problem in self.problems],
            "ok": self.ok,
        }


def diagnose(
    requested: str | None = None,
    *,
    installation: Installation | None = None,
    probe: Callable[[str], ProbeResult] = probe_platform,
    environ: Mapping[str, str] | None = None,
) -> DoctorReport:
    """Probe every platform the installation offers and choose as training would."""
    installation = installation if installation is not None else inspect_installation()
    environ = environ if environ is not None else os.environ
    plugins = installation.plugins
    selector = DeviceSelector(plugins=lambda: plugins, probe=probe, environ=environ)
    jax_platforms = environ.get("JAX_PLATFORMS") or None
    candidates = [
        *platforms_of("metal", plugins),
        *platforms_of("gpu", plugins),
        *platforms_of("other", plugins),
        "cpu",
        *([jax_platforms] if jax_platforms else []),
    ]
    probes = tuple(selector.probe_once(platform) for platform in dict.fromkeys(candidates))
    choice: DeviceChoice | None = None
    error: str | None = None
    try:
        request = selector.resolve(requested)[0]
        choice = selector.choose(requested, jax_platforms=jax_platforms)
    except DeviceSelectionError as exc:
        request = requested or environ.get(TRAINSCOPE_PLATFORM) or "auto"
        error = str(exc)
    return DoctorReport(
        installation=installation,
        jax_platforms=jax_platforms,
        requested=request,
        probes=probes,
        choice=choice,
        error=error,
        problems=tuple(known_problems(installation)),
        cluster=_cluster(installation),
    )


def _cluster(installation: Installation) -> str | None:
    if not installation.jax_version:
        return None
    from trainscope_jax.training.distributed import detected_cluster

    return detected_cluster()


def _devices_used(count: int, device: str) -> str:
    if count == 1:
        return f"1 ({device})"
    return f"{count} x {device}: each batch is split across them (trainscope train --devices N for fewer)"


def _processes(cluster: str | None) -> str:
    if cluster is not None:
        name = cluster.removesuffix("Cluster")
        return f"{name} detected: trainscope train --distributed joins its processes into one run"
    return "1 (several: trainscope train --coordinator HOST:PORT --num-processes N --process-id I)"


def _devices_text(probe: ProbeResult) -> str:
    if not probe.ok:
        return f"cannot start: {probe.error}"
    counts = Counter(probe.devices)
    return ", ".join(name if n == 1 else f"{n} x {name}" for name, n in counts.items()) or "no devices"


def _rows(rows: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
    lines = []
    for label, values in rows:
        for i, value in enumerate(values):
            lines.append(f"  {(label if i == 0 else ''):<{_WIDTH}}{value}".rstrip())
    return lines


@click.command("doctor", short_help="Check versions, devices and known problems.")
@click.option(
    "--platform",
    type=click.Choice(REQUESTS, case_sensitive=False),
    default=None,
    help="Platform to check (default: TRAINSCOPE_PLATFORM, else auto).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def doctor_command(ctx: click.Context, platform: str | None, as_json: bool) -> None:
    """Show versions, devices, the device auto picks and known problems; exit 1 when the
    requested platform cannot work."""
    report = diagnose(platform, installation=inspect_installation(), probe=probe_platform)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        for line in report.lines():
            click.echo(line)
    if not report.ok:
        ctx.exit(1)


__all__ = ["DoctorReport", "diagnose", "doctor_command"]
