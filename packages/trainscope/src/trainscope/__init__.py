"""trainscope: see what a training run is doing while it runs."""

from __future__ import annotations

from trainscope.background import BackgroundWorker, WorkerTimeoutError
from trainscope.global_step import GlobalStep
from trainscope.health import Alert, PhaseHealth
from trainscope.health.alerts import MetricAlertError
from trainscope.hookspecs import hookimpl
from trainscope.metric_names import is_accuracy_like
from trainscope.metrics import MetricValueError
from trainscope.plugin_types import (
    PluginError,
    PluginFatalError,
    PluginInfo,
    PluginWarning,
    RequiredPluginError,
)
from trainscope.plugins import PluginManager, create_plugin_manager
from trainscope.resume import ResumeError, ResumePoint
from trainscope.run import (
    EpochSummary,
    EvaluationSummary,
    PhaseInfo,
    RunInfo,
    RunStatus,
    StepRecord,
    StepRecords,
)
from trainscope.session import RunEndedError, SessionStateError, StepOrderWarning, TrainingSession
from trainscope.signals import Terminated
from trainscope.spec import LayerSpec, ModelSpec
from trainscope.text import encodable, format_si, printable
from trainscope.throughput import PEAK_TFLOPS, Throughput, peak_flops, step_flops
from trainscope.version import __version__

__all__ = [
    "PEAK_TFLOPS",
    "Alert",
    "BackgroundWorker",
    "EpochSummary",
    "EvaluationSummary",
    "GlobalStep",
    "LayerSpec",
    "MetricAlertError",
    "MetricValueError",
    "ModelSpec",
    "PhaseHealth",
    "PhaseInfo",
    "PluginError",
    "PluginFatalError",
    "PluginInfo",
    "PluginManager",
    "PluginWarning",
    "RequiredPluginError",
    "ResumeError",
    "ResumePoint",
    "RunEndedError",
    "RunInfo",
    "RunStatus",
    "SessionStateError",
    "StepOrderWarning",
    "StepRecord",
    "StepRecords",
    "Terminated",
    "Throughput",
    "TrainingSession",
    "WorkerTimeoutError",
    "__version__",
    "create_plugin_manager",
    "encodable",
    "format_si",
    "hookimpl",
    "is_accuracy_like",
    "peak_flops",
    "printable",
    "step_flops",
]
