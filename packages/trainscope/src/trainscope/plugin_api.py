"""Everything a reporter may import from the core, declared in one place.

A reporter (a plugin package) imports from ``trainscope.plugin_api`` only: the hook marker
and the data the hooks receive, the errors a reporter raises, and the helpers reporters
share (the run-file folder, text made safe to print, a background worker, per-run state,
the architecture as text), and for a command that replays a logged run into the installed
reporters (``trainscope watch``), a plugin manager of those that show the run
(:func:`create_replay_manager`). The reporters in this repository import nothing else from the
core, and a test keeps it so; anything not listed here may change without notice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from importlib.metadata import entry_points
from typing import Generic, TypeVar

import trainscope.environment_variables as environment_variables
from trainscope.background import BackgroundWorker, WorkerTimeoutError
from trainscope.global_step import GlobalStep
from trainscope.health import Alert, PhaseHealth
from trainscope.hookspecs import PROJECT_NAME, hookimpl
from trainscope.log_files import DEFAULT_LOG_DIR, log_directory, safe_run_name
from trainscope.metric_names import is_accuracy_like
from trainscope.metrics import check_metric_name
from trainscope.plugin_types import PluginFatalError, RequiredPluginError, warn_plugin
from trainscope.plugins import PluginManager, create_plugin_manager
from trainscope.resume import RESUMABLE, ResumeError, ResumePoint
from trainscope.run import (
    EpochSummary,
    EvaluationSummary,
    PhaseInfo,
    PhaseName,
    RunInfo,
    RunStatus,
    StepRecord,
    StepRecords,
)
from trainscope.spec import LayerSpec, ModelSpec
from trainscope.spec_text import plain_architecture
from trainscope.text import encodable, format_seconds, format_si, printable
from trainscope.throughput import Throughput
from trainscope.values import HyperParameter, error_text, flatten_config

T = TypeVar("T")

ARCHITECTURE_PLUGIN = "arch"
"""The entry-point name of the reporter whose printout :func:`architecture_text` uses."""


def architecture_text(run_name: str, spec: ModelSpec) -> str:
    """The model as text for a stored run: the architecture printer's printout when the ``arch``
    reporter is installed (found through its entry point, as every reporter is: its plugin
    module's ``architecture_text``), else :func:`plain_architecture`."""
    for entry in entry_points(group=PROJECT_NAME, name=ARCHITECTURE_PLUGIN):
        try:
            formatter = getattr(entry.load(), "architecture_text", None)
        except Exception:  # noqa: BLE001 - a broken printer: the plain text still describes the model
            formatter = None
        if callable(formatter):
            text: str = formatter(run_name, spec)
            return text
    return plain_architecture(run_name, spec)


REPLAY_LEFT_OUT = "left out of the replay"
"""Why :func:`create_replay_manager` left a plugin out (``trainscope plugins``-style reason)."""


def create_replay_manager(
    *, leave_out: Iterable[str] = (), environ: Mapping[str, str] | None = None
) -> PluginManager:
    """A plugin manager of the installed reporters that show a run, for a command that hands a
    logged run's events to them as hook calls (``trainscope watch``).

    Every installed plugin is loaded as a run would load it (``TRAINSCOPE_PLUGINS``,
    ``TRAINSCOPE_DISABLE_PLUGINS`` and ``TRAINSCOPE_STRICT`` apply), but those named in
    ``leave_out`` (the log writer itself, names blocked with ``-p no:NAME``) and every plugin that
    writes to a store of its own (``trainscope_external_store = True``: TensorBoard, MLflow),
    which would record the replayed run a second time. Call its hooks through the manager's
    typed methods (``train_start(run)``, ``phase_start(run, phase)``, ``progress(...)``...).
    """
    manager = create_plugin_manager(disable=leave_out, disable_reason=REPLAY_LEFT_OUT, environ=environ)
    for name in manager.external_store_names():
        manager.block(name, REPLAY_LEFT_OUT)
    return manager


class PerRun(Generic[T]):
    """What a reporter keeps for each open run, by run id (several sessions may run in one process).

    ``start(run, make)`` keeps ``make()`` for the run, ``get(run)`` returns it (None when the
    reporter has nothing for that run), and ``end(run)`` takes it out.
    """

    def __init__(self) -> None:
        self._open: dict[str, T] = {}

    def start(self, run: RunInfo, make: Callable[[], T]) -> T:
        state = self._open[run.run_id] = make()
        return state

    def get(self, run: RunInfo) -> T | None:
        return self._open.get(run.run_id)

    def end(self, run: RunInfo) -> T | None:
        return self._open.pop(run.run_id, None)

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._open.values()))

    def __len__(self) -> int:
        return len(self._open)


__all__ = [
    "ARCHITECTURE_PLUGIN",
    "DEFAULT_LOG_DIR",
    "RESUMABLE",
    "Alert",
    "BackgroundWorker",
    "EpochSummary",
    "EvaluationSummary",
    "GlobalStep",
    "HyperParameter",
    "LayerSpec",
    "ModelSpec",
    "PerRun",
    "PhaseHealth",
    "PhaseInfo",
    "PhaseName",
    "PluginFatalError",
    "PluginManager",
    "RequiredPluginError",
    "ResumeError",
    "ResumePoint",
    "RunInfo",
    "RunStatus",
    "StepRecord",
    "StepRecords",
    "Throughput",
    "WorkerTimeoutError",
    "architecture_text",
    "check_metric_name",
    "create_replay_manager",
    "encodable",
    "environment_variables",
    "error_text",
    "flatten_config",
    "format_seconds",
    "format_si",
    "hookimpl",
    "is_accuracy_like",
    "log_directory",
    "plain_architecture",
    "printable",
    "safe_run_name",
    "warn_plugin",
]
