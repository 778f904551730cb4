"""A reporter that records every hook call, for tests."""

from __future__ import annotations

from collections.abc import Sequence

import click

from trainscope import EpochSummary, PhaseInfo, RunInfo, StepRecord, hookimpl

EVENTS: list[tuple[object, ...]] = []


@hookimpl
def trainscope_train_start(run: RunInfo) -> None:
    EVENTS.append(("train_start", run.name))


@hookimpl
def trainscope_epoch_start(epoch: int) -> None:
    EVENTS.append(("epoch_start", epoch))


@hookimpl
def trainscope_phase_start(phase: PhaseInfo) -> None:
    EVENTS.append(("phase_start", phase.name, phase.epoch))


@hookimpl
def trainscope_progress(phase: PhaseInfo, records: Sequence[StepRecord]) -> None:
    EVENTS.append(("progress", phase.name, tuple(r.step for r in records)))


@hookimpl
def trainscope_phase_end(phase: PhaseInfo) -> None:
    EVENTS.append(("phase_end", phase.name, phase.epoch))


@hookimpl
def trainscope_epoch_end(epoch: int, summary: EpochSummary) -> None:
    EVENTS.append(("epoch_end", epoch))


@hookimpl
def trainscope_train_end(status: str) -> None:
    EVENTS.append(("train_end", status))


@hookimpl
def trainscope_register_commands(cli: click.Group) -> None:
    @cli.command("hello")
    def hello() -> None:
        """Say hello (sample plugin command)."""
        click.echo("hello from sample_recorder")
