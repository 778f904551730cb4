"""What this installation offers JAX, and a probe that starts one platform safely.

Nothing here imports jax: the installed PJRT plugins and versions come from package
metadata, and a platform is started only in a short-lived subprocess, because a broken
plugin can abort the whole process.
"""

from __future__ import annotations

import importlib.metadata as metadata
import importlib.util
import json
import os
import pkgutil
import platform as platform_module
import re
import signal
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass

METAL_PLATFORMS = ("METAL", "metal", "mps", "mtl")
"""JAX platform names of Apple GPU plugins: jax-metal registers ``METAL`` (case-sensitive)."""

GPU_PLATFORMS = ("cuda", "rocm")
"""JAX platform names of the NVIDIA and AMD GPU plugins."""

JAX_METAL = "jax-metal"
"""Distribution name of Apple's Metal plugin."""

JAX_METAL_MAX = (0, 5, 0)
"""Newest jax and jaxlib jax-metal 0.1.1 works with; 0.5.1 fails with ``default_memory_space``."""

MACOS_MIN = (14, 4)
"""Oldest macOS jax-metal 0.1.1 runs on."""

PROBE_TIMEOUT = 60.0
"""Seconds a probe may take before it counts as hung."""

_MARKER = "TRAINSCOPE_PROBE "

# -- installed plugins ---------------------------------------------------------


@dataclass(frozen=True)
class PluginInfo:
    """One installed JAX PJRT plugin."""

    module: str
    """The module JAX imports, e.g. ``jax_plugins.metal_plugin``."""
    distribution: str | None
    """The distribution that installed it, e.g. ``jax-metal``; None when unknown."""
    version: str | None
    """The distribution's version."""
    kind: str
    """``metal``, ``gpu`` or ``other``."""
    platform: str | None
    """The JAX platform name it registers (``METAL``, ``mps``, ``cuda``, ...); None when unknown."""

    def label(self) -> str:
        """``jax-metal 0.1.1 (jax_plugins.metal_plugin)``."""
        dist = f"{self.distribution} {self.version or '?'}" if self.distribution else "unknown distribution"
        return f"{dist} ({self.module})"


def classify_plugin(module: str, distribution: str | None) -> tuple[str, str | None]:
    """The kind and JAX platform name of a plugin, judged from its module and distribution names."""
    if _normalise(distribution or "") == JAX_METAL or module == "jax_plugins.metal_plugin":
        return "metal", "METAL"
    tokens = set(re.split(r"[^a-z0-9]+", f"{module} {distribution or ''}".lower()))
    for name in ("mps", "mtl", "metal"):
        if name in tokens:
            return "metal", name
    for name in GPU_PLATFORMS:
        if any(token.startswith(name) for token in tokens):
            return "gpu", name
    return "other", None


def installed_plugins() -> tuple[PluginInfo, ...]:
    """Every PJRT plugin JAX would load: entry points of group ``jax_plugins`` and
    modules of the ``jax_plugins`` namespace package."""
    modules: dict[str, str | None] = {}
    for entry_point in metadata.entry_points(group="jax_plugins"):
        dist = getattr(entry_point, "dist", None)
        modules[entry_point.value.split(":")[0]] = dist.metadata["Name"] if dist is not None else None
    unowned = [name for name in _namespace_modules() if modules.get(name) is None]
    if unowned:  # only then: reading every distribution's file list takes a second or more
        owners = _namespace_owners()
        for name in unowned:
            modules[name] = owners.get(name)
    plugins = []
    for module, dist_name in sorted(modules.items()):
        kind, platform = classify_plugin(module, dist_name)
        version = distribution_version(dist_name) if dist_name else None
        plugins.append(PluginInfo(module, dist_name, version, kind, platform))
    return tuple(plugins)


def distribution_version(name: str) -> str | None:
    """The installed version of distribution ``name``, or None when it is not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _namespace_modules() -> list[str]:
    try:
        spec = importlib.util.find_spec("jax_plugins")
    except (ImportError, ValueError):
        return []
    if spec is None or spec.submodule_search_locations is None:
        return []
    return [info.name for info in pkgutil.iter_modules(list(spec.submodule_search_locations), "jax_plugins.")]


def _namespace_owners() -> dict[str, str]:
    """The distribution that installed each module of the ``jax_plugins`` namespace package.

    Only the distributions whose file list names ``jax_plugins`` are parsed: building every
    distribution's list of files (what ``packages_distributions`` does) takes a second or more.
    """
    owners: dict[str, str] = {}
    for dist in metadata.distributions():
        listing = dist.read_text("RECORD") or dist.read_text("installed-files.txt") or ""
        if "jax_plugins" not in listing:
            continue
        dist_name = dist.metadata["Name"]
        for file in dist.files or []:
            parts = file.parts
            if len(parts) >= 2 and parts[0] == "jax_plugins":
                name = parts[1].removesuffix(".py")
                owners.setdefault(f"jax_plugins.{name}", dist_name)
    return owners


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# -- the installation and its known problems -----------------------------------


@dataclass(frozen=True)
class Installation:
    """What is installed: interpreter, operating system, jax, jaxlib and plugins."""

    python: str
    os: str
    machine: str
    mac_version: str
    """The macOS version (``14.5``), empty elsewhere."""
    jax_version: str | None
    jaxlib_version: str | None
    plugins: tuple[PluginInfo, ...]

    def plugins_of(self, kind: str) -> tuple[PluginInfo, ...]:
        """The plugins of one kind (``metal``, ``gpu`` or ``other``)."""
        return tuple(plugin for plugin in self.plugins if plugin.kind == kind)


def inspect_installation() -> Installation:
    """The installation of the running interpreter."""
    return Installation(
        python=f"{platform_module.python_version()} ({platform_module.python_implementation()})",
        os=platform_module.platform(),
        machine=platform_module.machine(),
        mac_version=platform_module.mac_ver()[0],
        jax_version=distribution_version("jax"),
        jaxlib_version=distribution_version("jaxlib"),
        plugins=installed_plugins(),
    )


@dataclass(frozen=True)
class KnownProblem:
    """A combination known not to work, and what to do about it."""

    summary: str
    fix: str


def known_problems(installation: Installation) -> list[KnownProblem]:
    """The known-bad combinations present in ``installation``."""
    problems: list[KnownProblem] = []
    metal = installation.plugins_of("metal")
    jax_metal = [plugin for plugin in metal if _normalise(plugin.distribution or "") == JAX_METAL]
    too_new = [
        f"{name} {version}"
        for name, version in (("jax", installation.jax_version), ("jaxlib", installation.jaxlib_version))
        if version is not None and release(version) > JAX_METAL_MAX
    ]
    if jax_metal and too_new:
        problems.append(
            KnownProblem(
                f"jax-metal {jax_metal[0].version or ''} works with jax and jaxlib 0.4.34 to 0.5.0 only, "
                f"but {' and '.join(too_new)} is installed (it fails with "
                "'UNIMPLEMENTED: default_memory_space is not supported')",
                'pin both: pip install "jax==0.5.0" "jaxlib==0.5.0" (the "metal" extra does this)',
            )
        )
    old_macos = installation.mac_version and release(installation.mac_version) < MACOS_MIN
    if old_macos and (metal or installation.machine == "arm64"):
        problems.append(
            KnownProblem(
                f"macOS {installation.mac_version} is older than 14.4, which jax-metal needs",
                "update macOS to 14.4 or newer, or train on the CPU with --platform cpu",
            )
        )
    distributions = _unique(plugin.distribution or plugin.module for plugin in metal)
    if len(distributions) > 1:
        problems.append(
            KnownProblem(
                f"{len(distributions)} Metal plugins are installed at once: {', '.join(distributions)}",
                f"keep one, e.g.: pip uninstall {' '.join(distributions[1:])}",
            )
        )
    return problems


def release(version: str) -> tuple[int, ...]:
    """The numeric release of a version string: ``0.5.0rc1`` -> ``(0, 5, 0)``."""
    match = re.match(r"\d+(?:\.\d+)*", version.strip())
    return tuple(int(part) for part in match.group(0).split(".")) if match else ()


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


# -- the probe -----------------------------------------------------------------


@dataclass(frozen=True)
class ProbeResult:
    """What starting one JAX platform in a subprocess gave."""

    platform: str
    """The ``JAX_PLATFORMS`` value the probe ran with."""
    ok: bool
    devices: tuple[str, ...] = ()
    """A description of every device, e.g. ``NVIDIA H100 (cuda)``."""
    error: str | None = None
    """One line: the plugin's own error when ``ok`` is False."""


_PROBE_CODE = f"""
import json, subprocess, sys
try:
    import jax
    import jax.numpy as jnp
    devices = jax.devices()
    y = jax.jit(lambda a: (a * 2.0 + 1.0).sum())(jnp.arange(8, dtype=jnp.float32))
    r = jax.random.uniform(jax.random.PRNGKey(0), (4,), dtype=jnp.float32)
    jax.block_until_ready((y, r))
    if float(y) != 64.0:
        raise RuntimeError(f"float32 result {{float(y)}} instead of 64.0")
    chip = ""
    if sys.platform == "darwin":
        try:
            chip = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True,
                                  text=True, timeout=5).stdout.strip()
        except Exception:
            pass
    out = {{"ok": True, "devices": [d.device_kind for d in devices], "chip": chip}}
except Exception as e:
    out = {{"ok": False, "error": f"{{type(e).__name__}}: {{e}}"}}
print({_MARKER!r} + json.dumps(out), flush=True)
"""


def probe_platform(platform: str, timeout: float = PROBE_TIMEOUT) -> ProbeResult:
    """Start ``platform`` (a ``JAX_PLATFORMS`` value) in a subprocess: jit a float32
    op, draw a random number and wait for both."""
    env = {**os.environ, "JAX_PLATFORMS": platform}
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE_CODE],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return ProbeResult(platform, ok=False, error=f"did not start within {timeout:g} s (the plugin hung)")
    return parse_probe_output(platform, done.stdout, done.stderr, done.returncode)


def parse_probe_output(platform: str, stdout: str, stderr: str, returncode: int) -> ProbeResult:
    """The result of a probe subprocess from its output and exit status."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(_MARKER):
            out = json.loads(line[len(_MARKER) :])
            if out["ok"]:
                devices = tuple(describe_device(platform, str(kind), out["chip"]) for kind in out["devices"])
                return ProbeResult(platform, ok=True, devices=devices)
            return ProbeResult(platform, ok=False, error=_one_line(str(out["error"])))
    return ProbeResult(platform, ok=False, error=_crash_message(stderr, returncode))


def describe_device(platform: str, device_kind: str, chip: str = "") -> str:
    """``NVIDIA H100 (cuda)``, ``Apple M2 Pro (METAL)`` or ``cpu``."""
    if platform == "cpu":
        return "cpu"
    if chip and device_kind.strip().lower() in {"", "gpu", *(name.lower() for name in METAL_PLATFORMS)}:
        device_kind = chip
    return f"{device_kind or 'device'} ({platform})"


def _one_line(error: str) -> str:
    lines = [line.strip() for line in error.splitlines() if line.strip()]
    text = lines[0] if lines else error.strip()
    text = re.sub(r"\s*\(set JAX_PLATFORMS=.*\)$", "", text)
    return text if len(text) <= 300 else text[:297] + "..."


def _crash_message(stderr: str, returncode: int) -> str:
    meaningful = [
        line.strip()
        for line in stderr.splitlines()
        if line.strip() and not line[:1].isspace() and not line.startswith("Traceback (most recent")
    ]
    how = f"killed by {_signal_name(-returncode)}" if returncode < 0 else f"exit status {returncode}"
    if meaningful:
        return f"{_one_line(meaningful[-1])} (probe process {how})"
    return f"the probe process ended without a result ({how})"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
