"""An in-process recorder plugin for core tests, as a fixture."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from trainscope import EpochSummary, EvaluationSummary, PhaseInfo, RunInfo, StepRecord, hookimpl


class Recorder:
    """Appends ``(hook, details...)`` for every hook call."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.records: list[tuple[str, int, StepRecord]] = []
        self.phase_means: list[tuple[str, int, dict[str, float]]] = []
        self.ended_phases: list[PhaseInfo] = []
        self.summaries: list[EpochSummary] = []
        self.errors: list[BaseException | None] = []
        self.evaluations: list[EvaluationSummary] = []

    @hookimpl
    def trainscope_train_start(self, run: RunInfo) -> None:
        self.events.append(("train_start",))

    @hookimpl
    def trainscope_epoch_start(self, run: RunInfo, epoch: int) -> None:
        self.events.append(("epoch_start", epoch))

    @hookimpl
    def trainscope_phase_start(self, phase: PhaseInfo) -> None:
        self.events.append(("phase_start", phase.name, phase.epoch))

    @hookimpl
    def trainscope_progress(self, phase: PhaseInfo, records: Sequence[StepRecord]) -> None:
        self.events.append(("progress", phase.name, len(records)))
        self.records.extend((phase.name, phase.epoch, record) for record in records)

    @hookimpl
    def trainscope_phase_end(self, phase: PhaseInfo) -> None:
        self.events.append(("phase_end", phase.name, phase.epoch))
        self.phase_means.append((phase.name, phase.epoch, dict(phase.metrics)))
        self.ended_phases.append(phase)

    @hookimpl
    def trainscope_epoch_end(self, epoch: int, summary: EpochSummary) -> None:
        self.events.append(("epoch_end", epoch))
        self.summaries.append(summary)

    @hookimpl
    def trainscope_evaluation_end(self, summary: EvaluationSummary) -> None:
        self.events.append(("evaluation_end", summary.step))
        self.evaluations.append(summary)

    @hookimpl
    def trainscope_train_end(self, status: str, error: BaseException | None) -> None:
        self.events.append(("train_end", status))
        self.errors.append(error)

    def hooks(self) -> list[str]:
        return [event[0] for event in self.events]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
