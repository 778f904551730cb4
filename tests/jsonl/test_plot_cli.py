"""``trainscope plot``: an image file written end to end, and one-line errors."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import trainscope
import trainscope_jsonl
from trainscope.cli import CliContext, build_cli

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def train(name: str = "CatDogCNN", epochs: int = 2) -> Path:
    session = trainscope.TrainingSession(name, epochs, 2, 1, plugins=["jsonl"], strict=True)
    with session:
        for epoch in range(1, epochs + 1):
            session.start_epoch(epoch)
            session.update_training_progress(1, 1.5 / epoch, 0.25)
            session.update_training_progress(2, 0.5 / epoch, 0.75)
            session.start_validation()
            session.update_validation_progress(1, 0.75 / epoch, 0.6651)
            session.print_epoch_summary()
    return Path(session.run.artifacts["jsonl"])


def run_cli(*args: str | Path) -> Result:
    manager = trainscope.create_plugin_manager(plugins=["jsonl"])
    return CliRunner().invoke(build_cli(manager), [str(arg) for arg in args], obj=CliContext(manager))


def test_plot_writes_a_png_next_to_the_log(log_dir: Path) -> None:
    pytest.importorskip("matplotlib")
    log = train()
    result = run_cli("plot", log)
    assert result.exit_code == 0, result.output
    image = log.with_suffix(".png")
    assert result.stdout == f"Wrote {image}\n"
    assert result.stderr == ""
    content = image.read_bytes()
    assert content.startswith(PNG_SIGNATURE)
    assert len(content) > 20_000


def test_plot_of_a_folder_takes_its_newest_run(log_dir: Path) -> None:
    pytest.importorskip("matplotlib")
    train("first")
    newest = train("second")
    result = run_cli("plot", log_dir)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Wrote {newest.with_suffix('.png')}\n"


@pytest.mark.parametrize(
    ("suffix", "signature"), [(".svg", b"<?xml"), (".pdf", b"%PDF"), (".PNG", PNG_SIGNATURE)]
)
def test_plot_of_several_runs_to_a_named_file(
    tmp_path: Path, log_dir: Path, suffix: str, signature: bytes
) -> None:
    pytest.importorskip("matplotlib")
    logs = [train("a"), train("b", epochs=3)]
    output = tmp_path / f"compare{suffix}"
    result = run_cli("plot", *logs, "-o", output)
    assert result.exit_code == 0, result.output
    assert output.read_bytes().startswith(signature)
    assert not logs[0].with_suffix(".png").exists()


def test_a_cut_off_log_is_plotted_with_a_note(tmp_path: Path, log_dir: Path) -> None:
    pytest.importorskip("matplotlib")
    data = train().read_bytes()
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(data[: data.index(b'"event":"epoch_end"') + 30])  # inside the first epoch_end
    result = run_cli("plot", cut)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"Note: {cut}: no run_end: the process stopped before the run ended; plotting what the log has",
        f"Note: {cut}: the last line was cut off and is skipped",
    ]
    assert cut.with_suffix(".png").read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("name", ["plot.jpg", "plot", "plot.png.txt"])
def test_an_unsupported_image_suffix_is_one_clear_line(tmp_path: Path, log_dir: Path, name: str) -> None:
    pytest.importorskip("matplotlib")
    result = run_cli("plot", train(), "-o", tmp_path / name)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: cannot write a plot to '{tmp_path / name}': give a file name ending in .png, .svg, .pdf\n"
    )


def test_an_unwritable_output_is_one_clear_line(tmp_path: Path, log_dir: Path) -> None:
    pytest.importorskip("matplotlib")
    output = tmp_path / "missing" / "plot.png"
    result = run_cli("plot", train(), "-o", output)
    assert result.exit_code == 1
    assert result.output == f"Error: cannot write '{output}': No such file or directory\n"


def test_a_log_with_nothing_to_plot_is_one_clear_line(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "early.jsonl"
    path.write_text('{"event":"run_start","run_id":"r","time":1.0,"name":"n"}\n')
    result = run_cli("plot", path)
    assert result.exit_code == 1
    assert (
        "Error: no metrics to plot: the logs hold no step, phase_end or epoch_end with metrics"
        in result.output
    )
    assert not path.with_suffix(".png").exists()


def test_without_matplotlib_the_extra_is_named(monkeypatch: pytest.MonkeyPatch, log_dir: Path) -> None:
    log = train()
    for name in [name for name in sys.modules if name.partition(".")[0] == "matplotlib"] + ["matplotlib"]:
        monkeypatch.setitem(sys.modules, name, None)  # importing it now fails, as when not installed
    monkeypatch.delitem(sys.modules, "trainscope_jsonl.plot", raising=False)
    monkeypatch.delattr(trainscope_jsonl, "plot", raising=False)
    result = run_cli("plot", log)
    assert result.exit_code == 1
    assert result.output == 'Error: trainscope plot needs matplotlib: pip install "trainscope-jsonl[plot]"\n'
    assert run_cli("log", log).exit_code == 0  # the rest of the package works without it


def test_the_plot_never_overwrites_a_log(tmp_path: Path, log_dir: Path) -> None:
    pytest.importorskip("matplotlib")
    log = tmp_path / "run.png"
    log.write_bytes(train().read_bytes())
    before = log.read_bytes()
    result = run_cli("plot", log)
    assert result.exit_code == 1
    assert result.output == f"Error: '{log}' is one of the logs: give another file with -o\n"
    assert log.read_bytes() == before


def test_the_plot_never_overwrites_a_hard_link_of_a_log(tmp_path: Path, log_dir: Path) -> None:
    pytest.importorskip("matplotlib")
    log = train()
    link = tmp_path / "link.png"
    os.link(log, link)
    before = log.read_bytes()
    result = run_cli("plot", log, "-o", link)
    assert result.exit_code == 1
    assert result.output == f"Error: '{link}' is one of the logs: give another file with -o\n"
    assert log.read_bytes() == before
    assert link.read_bytes() == before


def test_the_plot_replaces_an_output_without_writing_through_its_links(tmp_path: Path, log_dir: Path) -> None:
    pytest.importorskip("matplotlib")
    kept = tmp_path / "kept.bin"
    kept.write_bytes(b"another file's content")
    output = tmp_path / "out" / "plot.png"
    output.parent.mkdir()
    os.link(kept, output)
    result = run_cli("plot", train(), "-o", output)
    assert result.exit_code == 0, result.output
    assert output.read_bytes().startswith(PNG_SIGNATURE)
    assert kept.read_bytes() == b"another file's content"
    assert [path.name for path in output.parent.iterdir()] == ["plot.png"]  # no temporary file left
