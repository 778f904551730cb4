"""The ``arch`` reporter's hook implementations (entry point ``arch``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TypeVar

from trainscope.plugin_api import ModelSpec, RunInfo, hookimpl
from trainscope_arch import environment_variables as env_vars
from trainscope_arch.formatting import check_memory_units, check_parameter_format
from trainscope_arch.printer import ModelArchitecturePrinter, check_view

_T = TypeVar("_T")


def _setting(environ: Mapping[str, str], variable: str, check: Callable[[str], _T], default: _T) -> _T:
    raw = environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        return check(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {variable}: {exc}") from None


def printer_from_environment(
    model_name: str, environ: Mapping[str, str] | None = None
) -> ModelArchitecturePrinter:
    """A printer configured by the ``TRAINSCOPE_ARCH_*`` environment variables."""
    environ = os.environ if environ is None else environ
    return ModelArchitecturePrinter(
        model_name,
        parameter_format=_setting(
            environ, env_vars.TRAINSCOPE_ARCH_PARAMETER_FORMAT, check_parameter_format, "short"
        ),
        memory_units=_setting(environ, env_vars.TRAINSCOPE_ARCH_MEMORY_UNITS, check_memory_units, "MB"),
        view=_setting(environ, env_vars.TRAINSCOPE_ARCH_VIEW, check_view, "tree"),
    )


def architecture_text(run_name: str, spec: ModelSpec) -> str:
    """The printout of ``spec`` as the reporter prints it, for reporters that store the model as
    text (TensorBoard, MLflow: see :func:`trainscope.plugin_api.architecture_text`)."""
    return printer_from_environment(run_name).format_architecture(spec)


@hookimpl
def trainscope_train_start(run: RunInfo) -> None:
    """Print the run's model before the first epoch (nothing when it has none)."""
    if run.model is not None:
        printer_from_environment(run.name).print_architecture(run.model)
