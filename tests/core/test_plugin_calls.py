"""Hooks are called through pluggy: its ordering and wrappers hold, and each reporter's error
stays its own (a failing reporter is disabled; the others still get the call)."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from trainscope import PhaseInfo, PluginWarning, TrainingSession, hookimpl


class Calls:
    def __init__(self) -> None:
        self.order: list[str] = []


class First:
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    @hookimpl(tryfirst=True)
    def trainscope_phase_start(self) -> None:
        self.calls.order.append("first")


class Last:
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    @hookimpl(trylast=True)
    def trainscope_phase_start(self) -> None:
        self.calls.order.append("last")


class Plain:
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    @hookimpl
    def trainscope_phase_start(self) -> None:
        self.calls.order.append("plain")


class Wrapper:
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    @hookimpl(wrapper=True)
    def trainscope_phase_start(self, phase: PhaseInfo) -> Generator[None, None, None]:
        self.calls.order.append(f"before {phase.name}")
        yield
        self.calls.order.append(f"after {phase.name}")


class Failing:
    @hookimpl(tryfirst=True)
    def trainscope_phase_start(self) -> None:
        raise RuntimeError("broken")


def one_epoch(*plugins: object, strict: bool = False) -> None:
    with TrainingSession("Net", 1, 1, plugins=list(plugins), strict=strict) as session:
        session.start_epoch(1)
        session.update_training_progress(1, 0.5)


def test_tryfirst_trylast_and_wrappers_behave_as_pluggy_documents() -> None:
    calls = Calls()
    one_epoch(Last(calls), Wrapper(calls), First(calls), Plain(calls))
    assert calls.order == ["before train", "first", "plain", "last", "after train"]


def test_a_failing_reporter_called_first_does_not_keep_the_others_from_the_call() -> None:
    calls = Calls()
    with pytest.warns(PluginWarning, match="'Failing' raised in trainscope_phase_start and is disabled"):
        one_epoch(Failing(), Plain(calls), Last(calls))
    assert calls.order == ["plain", "last"]


def test_in_strict_mode_the_first_error_is_raised_after_every_reporter_ran() -> None:
    calls = Calls()
    with pytest.raises(RuntimeError, match="broken"):
        one_epoch(Failing(), Plain(calls), strict=True)
    assert calls.order == ["plain"]


def test_a_plugin_unregistered_is_not_called_and_its_name_can_be_registered_again() -> None:
    from trainscope import create_plugin_manager

    calls = Calls()
    manager = create_plugin_manager(plugins=[])
    plain = Plain(calls)
    manager.register(plain, name="helper")
    manager.unregister(plain)
    manager.unregister(name="helper")  # not registered any more: nothing happens
    with TrainingSession("Net", 1, 1, plugin_manager=manager) as session:
        session.start_epoch(1)
    assert calls.order == []
    manager.register(Plain(calls), name="helper")
    assert "helper" in manager.enabled_names()
