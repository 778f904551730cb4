"""What the plugin manager reports and what it reads off a plugin: its errors and warnings, each
plugin's status, and the attributes a plugin may declare (runs on every process, is required,
writes to an external store)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any


class PluginError(Exception):
    """A plugin cannot be used as written (for example, a misspelt hook name)."""


class PluginFatalError(PluginError):
    """Raised by a plugin that cannot do what the user asked of it (an unwritable log folder).

    Unlike any other exception from a hook, it is not contained: it ends the run as
    ``failed``. Raise it in ``trainscope_train_start`` so the run stops before training.
    """


class RequiredPluginError(PluginFatalError):
    """A required plugin (``trainscope_required = True``) raised: the run ends as ``failed``.

    The plugin's own exception is its ``__cause__``.
    """

    @classmethod
    def after(cls, name: str, hook_name: str, exc: Exception) -> RequiredPluginError:
        """The error for ``exc``, raised by plugin ``name`` in ``hook_name``."""
        try:
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        except Exception:  # noqa: BLE001 - an exception whose text cannot be made
            detail = type(exc).__name__
        error = cls(
            f"trainscope: the required plugin {name!r} raised in {hook_name}, so the run is stopped: {detail}"
        )
        error.__cause__ = exc
        return error


class PluginWarning(UserWarning):
    """A plugin could not be loaded, or was disabled after it raised."""


@dataclass
class PluginInfo:
    """What ``trainscope plugins`` shows about one plugin."""

    name: str
    distribution: str | None = None
    version: str | None = None
    hooks: list[str] = field(default_factory=list)
    enabled: bool = True
    reason: str | None = None
    """Why the plugin is not enabled; None when it is."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "hooks": self.hooks,
            "enabled": self.enabled,
            "reason": self.reason,
        }


def parse_name_list(value: str | None) -> list[str]:
    """Split a comma-separated list of plugin names, dropping blanks; names are lower-cased
    (entry-point names are compared without regard to case)."""
    return [name.strip().lower() for name in (value or "").split(",") if name.strip()]


def warn_plugin(message: str) -> None:
    """Issue a :class:`PluginWarning` shown as one line, without a line of trainscope's source.

    The warning goes through the usual filters (``-W error::trainscope.PluginWarning`` works).
    """
    warnings.warn_explicit(message, PluginWarning, filename="trainscope", lineno=0, module="trainscope")


ALL_PROCESSES_ATTRIBUTE = "trainscope_all_processes"
"""A plugin (module, class or instance) with this attribute set to True runs on every process."""


def runs_on_every_process(plugin: object) -> bool:
    """True for a plugin that opted in to run on every process of a multi-process run."""
    return getattr(plugin, ALL_PROCESSES_ATTRIBUTE, False) is True


REQUIRED_ATTRIBUTE = "trainscope_required"
"""A plugin (module, class or instance) with this attribute set to True is required: any
exception from it ends the run as ``failed`` instead of disabling the plugin."""


def is_required(plugin: object) -> bool:
    """True for a plugin whose failures are fatal for the run (a log the user asked for)."""
    return getattr(plugin, REQUIRED_ATTRIBUTE, False) is True


EXTERNAL_STORE_ATTRIBUTE = "trainscope_external_store"
"""A plugin with this attribute set to True writes to a store of its own, outside the run-file
folder (a tracking server or database): ``trainscope demo`` leaves it out unless asked to keep files."""


def writes_to_an_external_store(plugin: object) -> bool:
    """True for a plugin that writes outside ``TRAINSCOPE_LOG_DIR`` (see :data:`EXTERNAL_STORE_ATTRIBUTE`)."""
    return getattr(plugin, EXTERNAL_STORE_ATTRIBUTE, False) is True
