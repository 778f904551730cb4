"""``trainscope log A B``: the runs side by side, one small table per metric with a column per run."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner, Result

import trainscope
from trainscope.cli import CliContext, build_cli
from trainscope_jsonl import read_summary
from trainscope_jsonl.table import COMPARISON_WIDTH, format_comparison, run_letter


def train(name: str, epochs: int, losses: list[float], **extra: float) -> trainscope.TrainingSession:
    session = trainscope.TrainingSession(name, epochs, 1, 1, plugins=["jsonl"], strict=True)
    with session:
        for epoch in range(1, epochs + 1):
            session.start_epoch(epoch)
            session.update_training_progress(1, losses[epoch - 1], 0.5, **extra)
            session.start_validation()
            session.update_validation_progress(1, losses[epoch - 1] / 2, 0.75)
            session.print_epoch_summary()
    return session


def run_log(*paths: Path) -> Result:
    manager = trainscope.create_plugin_manager(plugins=["jsonl"])
    return CliRunner().invoke(build_cli(manager), ["log", *map(str, paths)], obj=CliContext(manager))


def table(lines: list[str], title: str) -> list[list[str]]:
    """The rows (split into cells) of the block titled ``title``, wherever it sits on its row of blocks."""
    heading = next(i for i, line in enumerate(lines) if title in re.split(r"\s{2,}", line))
    starts = [match.start() for match in re.finditer(r"\S+(?: \S+)*", lines[heading])]
    start = lines[heading].index(title)
    end = next((s for s in starts if s > start), None)
    rows = []
    for line in lines[heading + 1 :]:
        if not line.strip():
            break
        rows.append(line[start:end].split())
    return rows


def test_two_runs_side_by_side(log_dir: Path) -> None:
    first = train("CatDogCNN", 2, [1.0, 0.5])
    second = train("ResNet", 3, [0.8, 0.4, 0.2], top5_accuracy=0.9)
    paths = sorted(log_dir.iterdir())
    result = run_log(*paths)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"A  {paths[0]}"
    assert (
        lines[1] == f"   Run CatDogCNN ({first.run.run_id}): completed after " + lines[1].split("after ")[1]
    )
    assert lines[2] == "   Best epoch: 2/2 (Validation Loss: 0.2500)"
    assert lines[3] == f"B  {paths[1]}"
    assert lines[4].startswith(f"   Run ResNet ({second.run.run_id}): completed after ")
    assert lines[5] == "   Best epoch: 3/3 (Validation Loss: 0.1000)"
    assert table(lines, "Train loss") == [
        ["Epoch", "A", "B"],
        ["1", "1.0000", "0.8000"],
        ["2", "0.5000", "0.4000"],
        ["3", "-", "0.2000"],
    ]
    assert table(lines, "Validation accuracy")[1] == ["1", "75.00%", "75.00%"]
    assert table(lines, "Train top5_accuracy")[1:] == [
        ["1", "-", "90.00%"],
        ["2", "-", "90.00%"],
        ["3", "-", "90.00%"],
    ]
    assert [row[0] for row in table(lines, "Time")] == ["Epoch", "1", "2", "3"]
    assert all(len(line) <= COMPARISON_WIDTH for line in lines[6:])


def test_tables_are_packed_side_by_side_within_the_width(log_dir: Path) -> None:
    train("a", 1, [1.0])
    train("b", 1, [2.0])
    summaries = [read_summary(path) for path in sorted(log_dir.iterdir())]
    lines = format_comparison(summaries).splitlines()
    titles = [line for line in lines if line.startswith("Train loss")]
    assert titles[0].split() == ["Train", "loss", "Train", "accuracy", "Validation", "loss"]
    narrow = format_comparison(summaries, width=30).splitlines()
    assert [line.strip() for line in narrow if line.strip() in ("Train loss", "Train accuracy", "Time")] == [
        "Train loss",
        "Train accuracy",
        "Time",
    ]


def test_a_run_without_epochs_and_a_cut_off_run_compare(tmp_path: Path, log_dir: Path) -> None:
    train("done", 1, [1.0])
    (done,) = log_dir.iterdir()
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"event":"run_start","run_id":"e","time":1.0,"name":"early"}\n{"event":"epo')
    result = run_log(done, empty)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "   Run early (e): no run_end: the process stopped before the run ended" in lines
    assert "   (the last line was cut off and is skipped)" in lines
    assert table(lines, "Train loss") == [["Epoch", "A", "B"], ["1", "1.0000", "-"]]


def test_runs_without_any_epoch(tmp_path: Path) -> None:
    paths = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.jsonl"
        path.write_text(f'{{"event":"run_start","run_id":"{name}","time":1.0,"name":"{name}"}}\n')
        paths.append(path)
    result = run_log(*paths)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "No epoch finished."


def test_run_letters_go_on_past_z() -> None:
    assert [run_letter(i) for i in (0, 1, 25, 26, 27, 51, 52)] == ["A", "B", "Z", "AA", "AB", "AZ", "BA"]


def test_a_bad_log_among_several_names_it(tmp_path: Path, log_dir: Path) -> None:
    train("good", 1, [1.0])
    (good,) = log_dir.iterdir()
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    result = run_log(good, bad)
    assert result.exit_code == 1
    assert result.output == f"Error: '{bad}' line 1: not a JSON object: " + result.output.split("object: ")[1]
