"""Device selection: Metal > GPU > CPU, chosen before JAX starts.

A candidate platform is probed in a subprocess before this process commits to it,
because a broken Metal plugin can abort the process that starts it. When no Metal
or GPU plugin is installed at all, nothing is probed: the CPU always works.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from trainscope.environment_variables import TRAINSCOPE_PLATFORM
from trainscope_jax.devices.probe import (
    METAL_PLATFORMS,
    PluginInfo,
    ProbeResult,
    describe_device,
    installed_plugins,
    probe_platform,
)

KINDS = ("metal", "gpu", "cpu")
"""The device kinds, most preferred first."""

REQUESTS = ("auto", *KINDS)
"""What ``--platform`` and ``TRAINSCOPE_PLATFORM`` accept."""

_KIND_NAMES = {"metal": "Metal", "gpu": "GPU", "cpu": "CPU"}
_INSTALL_HINTS = {
    "metal": 'on Apple silicon: pip install "trainscope-jax[metal]"',
    "gpu": 'NVIDIA: pip install "jax[cuda12]"; AMD: pip install "jax[rocm]"',
}


class DeviceSelectionError(RuntimeError):
    """The requested platform cannot work; the message says why and what to do."""


@dataclass(frozen=True)
class DeviceChoice:
    """The device a training process uses, and why."""

    kind: str
    """``metal``, ``gpu`` or ``cpu`` (another JAX platform's own name when ``JAX_PLATFORMS`` chose it)."""
    platform: str
    """The JAX platform name used, e.g. ``METAL``, ``cuda``, ``cpu``."""
    device: str
    """The first device, e.g. ``Apple M2 Pro (METAL)``, ``NVIDIA H100 (cuda)``, ``cpu``."""
    reason: str
    """One line: why this one was picked."""
    fallback_from: str | None = None
    """The preferred kind that could not start, with its error; None when nothing failed."""

    @property
    def fallback_message(self) -> str | None:
        """One line for the user when the preferred device could not start."""
        if self.fallback_from is None:
            return None
        failed = self.fallback_from.rstrip(". ")
        return f"Could not start {failed}; using {self.device} instead (see: trainscope doctor)."


def kind_of_platform(platform: str) -> str:
    """The device kind of a JAX platform name: ``METAL`` -> ``metal``, ``cuda`` -> ``gpu``."""
    if platform in METAL_PLATFORMS or platform.lower() in {"metal", "mps", "mtl"}:
        return "metal"
    if platform.lower() in {"gpu", "cuda", "rocm"}:
        return "gpu"
    return platform.lower()


def platforms_of(kind: str, plugins: Sequence[PluginInfo]) -> list[str]:
    """The JAX platform names the installed plugins of ``kind`` register, in order."""
    names = [plugin.platform for plugin in plugins if plugin.kind == kind and plugin.platform]
    return list(dict.fromkeys(names))


def check_dtype_supported(choice: DeviceChoice, dtype: str) -> None:
    """Refuse a dtype the chosen device cannot compute in: Metal runs float32 only."""
    import numpy as np

    try:
        name = np.dtype(dtype).name
    except TypeError as error:
        raise ValueError(f"Unknown dtype {dtype!r}: use e.g. 'float32'") from error
    if choice.kind == "metal" and name != "float32":
        raise DeviceSelectionError(
            f"dtype {dtype!r} is not supported on Metal ({choice.device}): jax-metal runs float32 only. "
            "Use float32, or train on the CPU (--platform cpu) for other dtypes."
        )


# -- the process's own JAX -----------------------------------------------------


class JaxProcess(Protocol):
    """The parts of the running process's JAX that selection reads and sets."""

    def started_platform(self) -> str | None:
        """The default backend's platform when JAX backends already started, else None."""

    def first_device(self) -> str:
        """A description of the first device (only once started)."""

    def configured_platforms(self) -> str | None:
        """``JAX_PLATFORMS`` as set in the environment or JAX's config, or None."""

    def use_platform(self, platforms: str) -> None:
        """Make JAX start ``platforms`` (a ``JAX_PLATFORMS`` value) in this process."""


class CurrentProcess:
    """The real JAX of this process; jax is imported only when needed."""

    def started_platform(self) -> str | None:
        if "jax" not in sys.modules:
            return None
        try:
            # Private: no public API tells whether the backends started without starting
            # them (jax.extend.backend.backends() starts them), in 0.5.0 or since. Guarded by a test.
            from jax._src import xla_bridge
        except ImportError:
            return None
        started = getattr(xla_bridge, "backends_are_initialized", None)
        if started is None or not started():
            return None
        import jax

        return str(jax.default_backend())

    def first_device(self) -> str:
        import jax

        device = jax.devices()[0]
        return describe_device(str(jax.default_backend()), str(device.device_kind))

    def configured_platforms(self) -> str | None:
        value = os.environ.get("JAX_PLATFORMS")
        if not value and "jax" in sys.modules:
            import jax

            value = getattr(jax.config, "jax_platforms", None)
        return str(value) if value else None

    def use_platform(self, platforms: str) -> None:
        import jax

        jax.config.update("jax_platforms", platforms)


# -- selection -----------------------------------------------------------------


@dataclass
class DeviceSelector:
    """Chooses the device, probing candidates; caches what it chose and what it probed.

    Every source of facts is a field, so tests pass fakes: ``plugins`` lists the
    installed PJRT plugins, ``probe`` starts one platform in a subprocess,
    ``process`` is this process's JAX and ``environ`` holds ``TRAINSCOPE_PLATFORM``;
    ``announce`` shows the fallback line.
    """

    plugins: Callable[[], Sequence[PluginInfo]] = installed_plugins
    probe: Callable[[str], ProbeResult] = probe_platform
    process: JaxProcess = field(default_factory=CurrentProcess)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    announce: Callable[[str], None] = field(default=lambda line: print(line, file=sys.stderr))
    """Shows the one line that says the preferred device could not start (standard error)."""
    _choice: DeviceChoice | None = field(default=None, init=False, repr=False)
    _applied: str | None = field(default=None, init=False, repr=False)
    _probes: dict[str, ProbeResult] = field(default_factory=dict, init=False, repr=False)

    def select(self, requested: str | None = None) -> DeviceChoice:
        """Choose the device and configure this process's JAX to use it (once per selector)."""
        request, source = self.resolve(requested)
        cached = self._choice
        if cached is not None and (requested is None or request in ("auto", cached.kind)):
            return cached
        started = self.process.started_platform()
        if started is not None:
            choice = self._already_started(started, request, source, previous=cached)
        else:
            user = self.process.configured_platforms()
            if user == self._applied:
                user = None
            choice = self.choose(requested, jax_platforms=user)
            self.process.use_platform(user or choice.platform)
            self._applied = user or choice.platform
            if choice.fallback_message:
                self.announce(choice.fallback_message)
        self._choice = choice
        return choice

    def choose(self, requested: str | None = None, *, jax_platforms: str | None = None) -> DeviceChoice:
        """Choose without touching this process's JAX; ``jax_platforms`` is the user's ``JAX_PLATFORMS``."""
        request, source = self.resolve(requested)
        if jax_platforms:
            return self._choose_user(jax_platforms, request, source)
        plugins = self.plugins()
        if request == "cpu":
            return DeviceChoice("cpu", "cpu", "cpu", f"CPU was requested{source}")
        if request != "auto":
            return self._choose_forced(request, source, plugins)
        failed: str | None = None
        for kind in ("metal", "gpu"):
            for platform in platforms_of(kind, plugins):
                result = self.probe_once(platform)
                if result.ok:
                    reason = f"auto: the {_KIND_NAMES[kind]} plugin ({platform}) started"
                    return DeviceChoice(kind, platform, result.devices[0], reason, fallback_from=failed)
                failed = failed or f"{kind} ({platform}): {result.error}"
        reason = f"auto: no Metal or GPU plugin {'could start' if failed else 'installed'}"
        return DeviceChoice("cpu", "cpu", "cpu", reason, fallback_from=failed)

    def resolve(self, requested: str | None) -> tuple[str, str]:
        """The request (``auto``, ``metal``, ``gpu`` or ``cpu``) and, for messages, where it came from."""
        if requested is not None:
            value, source = requested, ""
        elif self.environ.get(TRAINSCOPE_PLATFORM):
            value = self.environ[TRAINSCOPE_PLATFORM]
            source = f" ({TRAINSCOPE_PLATFORM}={value})"
        else:
            value, source = "auto", ""
        request = value.strip().lower()
        if request not in REQUESTS:
            choices = ", ".join(REQUESTS)
            raise DeviceSelectionError(f"Unknown platform {value!r}{source}: use one of {choices}.")
        return request, source

    def probe_once(self, platform: str) -> ProbeResult:
        """Probe ``platform``, at most once per selector."""
        if platform not in self._probes:
            self._probes[platform] = self.probe(platform)
        return self._probes[platform]

    def _choose_forced(self, kind: str, source: str, plugins: Sequence[PluginInfo]) -> DeviceChoice:
        name = _KIND_NAMES[kind]
        platforms = platforms_of(kind, plugins)
        if not platforms:
            raise DeviceSelectionError(
                f"{name} was requested{source}, but no {name} plugin for JAX is installed. "
                f"Install one ({_INSTALL_HINTS[kind]}), or use --platform auto."
            )
        errors = []
        for platform in platforms:
            result = self.probe_once(platform)
            if result.ok:
                return DeviceChoice(kind, platform, result.devices[0], f"{name} was requested{source}")
            errors.append(f"{platform}: {result.error}")
        raise DeviceSelectionError(
            f"{name} was requested{source}, but it cannot start: {'; '.join(errors)}. "
            "Run 'trainscope doctor' for known fixes, or use --platform auto to fall back."
        )

    def _choose_user(self, jax_platforms: str, request: str, source: str) -> DeviceChoice:
        first = jax_platforms.split(",")[0].strip()
        kind = kind_of_platform(first)
        if request not in ("auto", kind):
            raise DeviceSelectionError(
                f"JAX_PLATFORMS={jax_platforms} selects {first!r}, but {request!r} was requested{source}. "
                f"Unset JAX_PLATFORMS to let trainscope choose, or ask for {kind!r}."
            )
        reason = f"JAX_PLATFORMS={jax_platforms} is set"
        if first == "cpu":
            return DeviceChoice("cpu", "cpu", "cpu", reason)
        result = self.probe_once(jax_platforms)
        if not result.ok:
            raise DeviceSelectionError(
                f"JAX_PLATFORMS={jax_platforms} is set, but {first!r} cannot start: {result.error}. "
                "Unset JAX_PLATFORMS to let trainscope choose, or run 'trainscope doctor' for known fixes."
            )
        return DeviceChoice(kind, first, result.devices[0], reason)

    def _already_started(
        self, started: str, request: str, source: str, previous: DeviceChoice | None
    ) -> DeviceChoice:
        kind = kind_of_platform(started)
        if request not in ("auto", kind):
            raise DeviceSelectionError(
                f"{request!r} was requested{source}, but JAX has already started on {started!r} in this "
                "process; the device must be chosen before JAX starts. Select it before any JAX "
                f"computation, or set {TRAINSCOPE_PLATFORM}={request} before starting Python."
            )
        if previous is not None and previous.kind == kind:
            return previous
        reason = f"JAX had already started on {started} before the device was selected"
        return DeviceChoice(kind, started, self.process.first_device(), reason)


_SELECTOR = DeviceSelector()


def select_device(requested: str | None = None) -> DeviceChoice:
    """Choose the device for this process and configure JAX to use it.

    :param requested: ``auto``, ``metal``, ``gpu`` or ``cpu``; None reads
        ``TRAINSCOPE_PLATFORM`` (default ``auto``). A ``JAX_PLATFORMS`` the user set is respected.
    :raises DeviceSelectionError: the requested platform cannot work; the message says why
        and what to do.

    Call it before the first JAX computation. Later calls return the same choice; asking
    for a different platform once JAX has started raises ``DeviceSelectionError``. When
    the preferred device cannot start, one line on standard error says why and what is
    used instead (``choice.fallback_message``).
    """
    return _SELECTOR.select(requested)


__all__ = [
    "KINDS",
    "REQUESTS",
    "CurrentProcess",
    "DeviceChoice",
    "DeviceSelectionError",
    "DeviceSelector",
    "JaxProcess",
    "check_dtype_supported",
    "kind_of_platform",
    "platforms_of",
    "select_device",
]
