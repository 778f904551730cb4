"""``trainscope compare``: whole runs side by side, through the CLI, on logs of real sessions."""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import trainscope
import trainscope_jsonl
from trainscope import environment_variables as env_vars
from trainscope.cli import CliContext, build_cli

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def train(
    name: str,
    losses: list[float],
    *,
    every: int | None = None,
    accuracies: list[float] | None = None,
    config: dict[str, Any] | None = None,
    fail: bool = False,
    **extra: float,
) -> Path:
    """A run of an epoch per loss (one training and one validation step each), or with
    ``every`` a run declared in steps, a step per loss, validated every ``every`` steps; its log.
    With ``fail``, the run fails with a ``ValueError`` after its first validation."""
    in_steps = every is not None
    session = trainscope.TrainingSession(
        name,
        None if in_steps else len(losses),
        None if in_steps else 1,
        total_steps=len(losses) if in_steps else None,
        plugins=["jsonl"],
        config=config,
    )
    accuracies = accuracies or [0.5] * len(losses)
    with contextlib.suppress(ValueError), session:
        for number, (loss, accuracy) in enumerate(zip(losses, accuracies), start=1):
            if every is None:
                session.start_epoch(number)
            session.update_training_progress(number if every else 1, loss, accuracy, **extra)
            if every is None or number % every == 0:
                session.start_validation()
                session.update_validation_progress(1, loss / 2, accuracy + 0.25)
                session.print_epoch_summary() if every is None else session.finish_validation_epoch()
            if fail:
                raise ValueError("bad <batch>")
    return Path(session.run.artifacts["jsonl"])


def compare(*args: str | Path) -> Result:
    manager = trainscope.create_plugin_manager(plugins=["jsonl"])
    cli = build_cli(manager)
    return CliRunner().invoke(cli, ["compare", *map(str, args)], obj=CliContext(manager))


def rows(output: str, title: str) -> dict[str, list[str]]:
    """The rows of the section titled ``title``: label -> cells (split on runs of 2+ spaces)."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title + "  "))
    found = {}
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        label, *cells = re.split(r"\s{2,}", line.strip())
        found[label] = cells
    return found


def test_two_runs_side_by_side(log_dir: Path) -> None:
    a = train(
        "CatDogCNN",
        [1.0, 0.5, 0.75],
        accuracies=[0.5, 0.7, 0.6],
        config={"learning_rate": 0.001, "batch_size": 32, "optimizer": {"name": "adam"}},
    )
    b = train(
        "ResNet",
        [0.8, 0.4],
        config={"learning_rate": 0.01, "batch_size": 32, "optimizer": {"name": "sgd"}, "warmup": 100},
        top5_accuracy=0.9,
    )
    result = compare(a, b)
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.splitlines()[0] == f"A  {a}"
    assert "   Best epoch: 2/3 (Validation Loss: 0.2500)" in out.splitlines()
    assert f"B  {b}" in out.splitlines()
    run = rows(out, "Run")
    assert run["Status"] == ["completed", "completed"]
    assert run["Error"] == ["-", "-"]
    assert all(re.fullmatch(r"\d+\.\d\d s", cell) for cell in run["Time"])
    assert run["Epochs"] == ["3/3", "2/2"]
    assert run["Training steps"] == ["3", "2"]
    assert run["Best (lowest loss)"] == ["epoch 2", "epoch 2"]
    # only what differs, and keys only some runs have; batch_size is the same in both
    assert rows(out, "Config (differences)") == {
        "learning_rate": ["0.001", "0.01"],
        "optimizer.name": ["adam", "sgd"],
        "warmup": ["-", "100"],
    }
    final = rows(out, "Final")
    assert final["Train loss"] == ["0.7500", "0.4000"]
    assert final["Train accuracy"] == ["60.00%", "50.00%"]
    assert final["Train top5_accuracy"] == ["-", "90.00%"]
    assert final["Validation loss"] == ["0.3750", "0.2000"]
    best = rows(out, "Best")
    assert best["Train loss (min)"] == ["0.5000", "0.4000"]
    assert best["Train accuracy (max)"] == ["70.00%", "50.00%"]
    assert best["Validation accuracy (max)"] == ["95.00%", "75.00%"]
    assert rows(out, "Throughput (last epoch)")["Steps/s"][0] != "-"


def test_throughput_figures_where_logged(log_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env_vars.TRAINSCOPE_PEAK_TFLOPS, "1")
    plain = train("plain", [1.0])
    session = trainscope.TrainingSession("fast", 2, 2, 1, plugins=["jsonl"], strict=True)
    with session:
        session.set_step_flops(2e9, batch_size=32)
        for epoch in (1, 2):
            session.start_epoch(epoch)
            for step in (1, 2):
                session.update_training_progress(step, 1.0, 0.5, batch_size=32)
            session.start_validation()
            session.update_validation_progress(1, 0.5, 0.75)
            session.print_epoch_summary()
    result = compare(plain, session.run.artifacts["jsonl"])
    assert result.exit_code == 0, result.output
    figures = rows(result.output, "Throughput (last epoch)")
    assert list(figures) == ["Examples/s", "Steps/s", "FLOP/s", "MFU"]  # no peak memory: none logged
    assert figures["Examples/s"][0] == "-"
    assert re.fullmatch(r"[\d,.]+", figures["Examples/s"][1])
    assert re.fullmatch(r"[\d.]+ [kMGTP]?FLOP/s", figures["FLOP/s"][1])
    assert re.fullmatch(r"[\d.]+%", figures["MFU"][1])
    assert all(re.fullmatch(r"[\d,.]+", cell) for cell in figures["Steps/s"])


def test_failed_cut_off_and_step_runs_compare(tmp_path: Path, log_dir: Path) -> None:
    failed = train("failing", [1.0, 0.5], fail=True)
    steps = train("StepNet", [1.0, 0.5, 0.25, 0.2], every=2)
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(failed.read_bytes().split(b'{"event":"epoch_end"')[0] + b'{"event":"epo')
    result = compare(failed, steps, cut)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "   (the last line was cut off and is skipped)" in lines
    assert any(line.endswith("(ValueError: bad <batch>)") for line in lines)
    run = rows(result.output, "Run")
    assert run["Status"] == ["failed", "completed", "no run_end"]
    assert run["Error"] == ["ValueError: bad <batch>", "-", "-"]
    assert run["Time"][2] == "-"
    assert run["Epochs"] == ["1/2", "-", "0/2"]
    assert run["Training steps"] == ["1", "4/4", "1"]
    assert run["Best (lowest loss)"] == ["epoch 1", "step 4", "-"]
    assert rows(result.output, "Final")["Validation loss"] == ["0.5000", "0.1000", "-"]


def test_a_folder_means_its_newest_log(tmp_path: Path, log_dir: Path) -> None:
    train("old", [1.0])
    newest = train("new", [0.5])
    other = tmp_path / "other"
    other.mkdir()
    copy = other / "copy.jsonl"
    copy.write_bytes(newest.read_bytes())
    result = compare(log_dir, other)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"A  {newest}"
    assert f"B  {copy}" in result.output.splitlines()
    assert "Config: none logged" in result.output


def test_runs_with_the_same_config_say_so(log_dir: Path) -> None:
    a = train("a", [1.0], config={"lr": 0.1})
    b = train("b", [2.0], config={"lr": 0.1})
    result = compare(a, b)
    assert result.exit_code == 0, result.output
    assert "Config (differences)" not in result.output
    assert result.output.splitlines()[-1] == "Config: the same in every run"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json\n", "line 1: not a JSON object: "),
        ("", "is empty: not a trainscope run log (no run_start)"),
        (
            '{"event":"run_start","run_id":"r","time":1.0,"name":"n","config":[1]}\n',
            'line 1: "run_start" event "config" is a list, expected an object',
        ),
        (
            '{"event":"run_start","run_id":"r","time":1.0,"name":"n","architecture":3}\n',
            'line 1: "run_start" event "architecture" is 3, expected a string',
        ),
    ],
)
def test_a_bad_log_is_one_line(tmp_path: Path, log_dir: Path, content: str, message: str) -> None:
    good = train("good", [1.0])
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    result = compare(good, bad)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: '{bad}' ")
    assert message in result.output
    assert len(result.output.splitlines()) == 1


def test_a_newer_schema_is_pointed_out(tmp_path: Path, log_dir: Path) -> None:
    good = train("good", [1.0])
    newer = tmp_path / "newer.jsonl"
    events = [json.loads(line) for line in good.read_text().splitlines()]
    events[0]["schema_version"] = 99
    newer.write_text("".join(json.dumps(event) + "\n" for event in events))
    result = compare(good, newer)
    assert result.exit_code == 0, result.output
    assert f"(schema version 99 is newer than version {trainscope_jsonl.SCHEMA_VERSION}" in result.output


def test_one_log_is_a_usage_error(log_dir: Path) -> None:
    result = compare(train("alone", [1.0]))
    assert result.exit_code == 2
    assert "give at least two logs to compare (one run: trainscope log or trainscope report)" in result.output


def test_a_folder_without_logs(tmp_path: Path, log_dir: Path) -> None:
    result = compare(train("a", [1.0]), tmp_path)
    assert result.exit_code == 1
    assert result.output == f"Error: no run logs (*.jsonl files) in the folder {str(tmp_path)!r}\n"


def test_plot_draws_the_runs_on_one_image(tmp_path: Path, log_dir: Path) -> None:
    pytest.importorskip("matplotlib")
    a = train("a", [1.0, 0.5])
    b = train("StepNet", [1.0, 0.5, 0.25, 0.5], every=2)
    image = tmp_path / "both.png"
    result = compare(a, b, "--plot", image)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == f"Wrote {image}"
    assert image.read_bytes().startswith(PNG_SIGNATURE)


def test_the_plot_legend_names_the_runs_by_letter(log_dir: Path) -> None:
    pytest.importorskip("matplotlib")
    from trainscope_jsonl.plot import build_figure

    runs = [trainscope_jsonl.read_curves(train(name, [1.0])) for name in ("a", "b")]
    figure = build_figure(runs, letters=["A", "B"])
    texts = [text.get_text() for legend in figure.legends for text in legend.get_texts()]
    assert any(text.startswith("A  a (") for text in texts)
    assert any(text.startswith("B  b (") for text in texts)


def test_plot_refuses_a_log_and_a_bad_format_before_reading(tmp_path: Path, log_dir: Path) -> None:
    pytest.importorskip("matplotlib")
    a, b = train("a", [1.0]), train("b", [1.0])
    before = a.read_bytes()
    link = tmp_path / "a.png"
    os.link(a, link)  # the log under an image's name
    refused = compare(a, b, "--plot", link)
    assert refused.exit_code == 1
    assert refused.output == f"Error: {str(link)!r} is one of the logs: give another file\n"
    assert a.read_bytes() == before
    wrong = compare(a, b, "--plot", tmp_path / "x.gif")
    assert wrong.exit_code == 1
    assert "give a file name ending in .png, .svg, .pdf" in wrong.output


def test_plot_without_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch, log_dir: Path) -> None:
    a, b = train("a", [1.0]), train("b", [1.0])
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # importing it now fails, as when not installed
    result = compare(a, b, "--plot", "out.png")
    assert result.exit_code == 1
    assert result.output == (
        'Error: trainscope compare --plot needs matplotlib: pip install "trainscope-jsonl[plot]"\n'
    )
    assert compare(a, b).exit_code == 0  # the table needs no matplotlib
