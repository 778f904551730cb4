"""Plugins installed through real entry points: loading, allow/block lists, failures."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from trainscope import PluginError, PluginWarning, TrainingSession, create_plugin_manager
from trainscope import environment_variables as env_vars

Install = Callable[[str, str], None]


def events() -> list[tuple[object, ...]]:
    return importlib.import_module("sample_recorder").EVENTS  # type: ignore[no-any-return]


def short_run(**kwargs: Any) -> None:
    with TrainingSession("Net", 1, 2, refresh_interval=0, **kwargs) as s:
        s.start_epoch(1)
        s.update_training_progress(1, 0.5)
        s.update_training_progress(2, 0.25)


def test_an_installed_entry_point_receives_every_lifecycle_hook(
    install_plugin: Install, only_plugins: Any
) -> None:
    install_plugin("recorder", "sample_recorder")
    only_plugins("recorder")
    events().clear()
    short_run()
    assert events() == [
        ("train_start", "Net"),
        ("epoch_start", 1),
        ("phase_start", "train", 1),
        ("progress", "train", (1,)),
        ("progress", "train", (2,)),
        ("phase_end", "train", 1),
        ("epoch_end", 1),
        ("train_end", "completed"),
    ]


def test_plugin_info_names_distribution_version_and_hooks(install_plugin: Install, only_plugins: Any) -> None:
    install_plugin("recorder", "sample_recorder")
    only_plugins("recorder")
    (info,) = [i for i in create_plugin_manager().list_plugins() if i.enabled]
    assert (info.name, info.distribution, info.version) == ("recorder", "trainscope-recorder", "0.1.0")
    assert "trainscope_progress" in info.hooks
    assert "trainscope_register_commands" in info.hooks


def test_empty_allow_list_loads_no_plugin(install_plugin: Install, monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin("recorder", "sample_recorder")
    monkeypatch.setenv(env_vars.TRAINSCOPE_PLUGINS, "")
    manager = create_plugin_manager()
    assert manager.enabled_names() == []
    reasons = {i.name: i.reason for i in manager.list_plugins()}
    assert reasons["recorder"] == "not listed in TRAINSCOPE_PLUGINS"


def test_block_list_and_disable_argument(install_plugin: Install, monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin("recorder", "sample_recorder")
    monkeypatch.setenv(env_vars.TRAINSCOPE_DISABLE_PLUGINS, "recorder")
    manager = create_plugin_manager()
    assert "recorder" not in manager.enabled_names()
    assert {i.name: i.reason for i in manager.list_plugins()}["recorder"] == (
        "blocked by TRAINSCOPE_DISABLE_PLUGINS"
    )
    monkeypatch.delenv(env_vars.TRAINSCOPE_DISABLE_PLUGINS)
    events().clear()
    short_run(plugins=["recorder"], disable=["recorder"])
    assert events() == []


def test_an_unknown_name_in_a_list_warns(install_plugin: Install, monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin("recorder", "sample_recorder")
    monkeypatch.setenv(env_vars.TRAINSCOPE_DISABLE_PLUGINS, "recordr")
    with pytest.warns(PluginWarning, match="no plugin named 'recordr'"):
        create_plugin_manager()


def test_a_plugin_that_fails_to_import_warns_once_and_the_rest_load(
    install_plugin: Install, only_plugins: Any
) -> None:
    install_plugin("recorder", "sample_recorder")
    install_plugin("broken", "sample_broken")
    only_plugins("recorder", "broken")
    with pytest.warns(PluginWarning, match="'broken'.*could not be imported") as caught:
        manager = create_plugin_manager()
    assert len(caught) == 1
    assert manager.enabled_names() == ["recorder"]
    assert {i.name: i.reason for i in manager.list_plugins()}["broken"].startswith(
        "import failed: ImportError"
    )


def test_a_misspelt_hook_fails_loudly(install_plugin: Install, only_plugins: Any) -> None:
    install_plugin("misspelt", "sample_misspelt")
    only_plugins("misspelt")
    with pytest.raises(PluginError, match="trainscope_epoch_ended"):
        create_plugin_manager()


def test_trainscope_plugins_json_lists_installed_entry_points(install_plugin: Install) -> None:
    install_plugin("recorder", "sample_recorder")
    out = subprocess.run(
        [sys.executable, "-m", "trainscope", "-p", "no:jsonl", "plugins", "--json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    listed = {entry["name"]: entry for entry in json.loads(out)}
    assert listed["recorder"]["enabled"] is True
    assert listed["recorder"]["distribution"] == "trainscope-recorder"
    if "jsonl" in listed:
        assert listed["jsonl"] == {**listed["jsonl"], "enabled": False, "reason": "blocked by -p no:NAME"}


def test_plugins_add_cli_commands(install_plugin: Install, only_plugins: Any) -> None:
    install_plugin("recorder", "sample_recorder")
    run = [sys.executable, "-m", "trainscope"]
    hello = subprocess.run([*run, "hello"], capture_output=True, text=True, check=True)
    assert hello.stdout == "hello from sample_recorder\n"
    blocked = subprocess.run([*run, "-p", "no:recorder", "hello"], capture_output=True, text=True)
    assert blocked.returncode == 2
    assert "No such command 'hello'" in blocked.stderr


def test_plugin_names_in_block_and_allow_lists_ignore_case(monkeypatch: Any) -> None:
    monkeypatch.setenv(env_vars.TRAINSCOPE_DISABLE_PLUGINS, "JSONL, Tqdm")
    infos = {info.name: info for info in create_plugin_manager().list_plugins()}
    assert not infos["jsonl"].enabled
    assert not infos["tqdm"].enabled
    monkeypatch.delenv(env_vars.TRAINSCOPE_DISABLE_PLUGINS)
    monkeypatch.setenv(env_vars.TRAINSCOPE_PLUGINS, "Summary")
    assert create_plugin_manager().enabled_names() == ["summary"]
