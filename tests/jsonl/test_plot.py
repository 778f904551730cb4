"""``build_figure``: the plotted data (the lines' x and y values), not the pixels."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.ticker import PercentFormatter

import trainscope
from trainscope_jsonl import RunCurves, read_curves
from trainscope_jsonl.plot import build_figure, label_text


def train(name: str, epoch_losses: list[tuple[float, float]], validation_losses: list[float]) -> Path:
    """A run of len(epoch_losses) epochs, two training steps and one validation step each; its log."""
    session = trainscope.TrainingSession(name, len(epoch_losses), 2, 1, plugins=["jsonl"], strict=True)
    with session:
        for epoch, ((first, second), validation) in enumerate(zip(epoch_losses, validation_losses), start=1):
            session.start_epoch(epoch)
            session.update_training_progress(1, first, 0.25)
            session.update_training_progress(2, second, 0.75)
            session.start_validation()
            session.update_validation_progress(1, validation, 0.5 + epoch / 10)
            session.print_epoch_summary()
    return Path(session.run.artifacts["jsonl"])


def axes_by_title(runs: list[RunCurves]) -> dict[str, Axes]:
    return {ax.get_title(): ax for ax in build_figure(runs).axes}


def lines_by_gid(ax: Axes) -> dict[str, Line2D]:
    return {str(line.get_gid()): line for line in ax.get_lines()}


def data(line: Line2D) -> tuple[list[float], list[float]]:
    return [float(x) for x in line.get_xdata()], [float(y) for y in line.get_ydata()]


def test_one_run_per_step_epoch_means_validation_and_best_epoch(log_dir: Path) -> None:
    path = train("CatDogCNN", [(1.5, 0.5), (0.75, 0.25), (0.5, 0.25)], [0.75, 0.5, 0.625])
    axes = axes_by_title([read_curves(path)])
    assert list(axes) == ["loss", "accuracy"]
    loss = lines_by_gid(axes["loss"])
    assert data(loss["train-steps:0"]) == ([1, 2, 3, 4, 5, 6], [1.5, 0.5, 0.75, 0.25, 0.5, 0.25])
    assert data(loss["train-epochs:0"]) == ([2, 4, 6], [1.0, 0.5, 0.375])
    assert data(loss["validation:0"]) == ([2, 4, 6], [0.75, 0.5, 0.625])
    assert data(loss["best:0"]) == ([4], [0.5])  # epoch 2 has the lowest validation loss
    assert data(loss["best-line:0"])[0] == [4, 4]  # a vertical line at its step
    accuracy = lines_by_gid(axes["accuracy"])
    assert data(accuracy["train-steps:0"])[1] == [0.25, 0.75] * 3
    assert data(accuracy["validation:0"])[1] == pytest.approx([0.6, 0.7, 0.8])
    assert "best:0" not in accuracy  # the star goes on the loss only
    assert data(accuracy["best-line:0"])[0] == [4, 4]
    assert isinstance(axes["accuracy"].yaxis.get_major_formatter(), PercentFormatter)
    assert axes["loss"].get_xlabel() == "training step"


def test_runs_are_compared_one_colour_each(log_dir: Path) -> None:
    first = train("small", [(1.0, 0.5)], [0.75])
    second = train("large", [(2.0, 1.0), (0.5, 0.25)], [1.5, 0.125])
    figure = build_figure([read_curves(first), read_curves(second)])
    loss = lines_by_gid(figure.axes[0])
    assert data(loss["train-steps:0"])[0] == [1, 2]
    assert data(loss["train-steps:1"])[0] == [1, 2, 3, 4]
    assert data(loss["best:1"]) == ([4], [0.125])
    colours = {gid.split(":")[1]: line.get_color() for gid, line in loss.items()}
    assert colours["0"] != colours["1"]
    assert all(line.get_color() == colours[gid.split(":")[1]] for gid, line in loss.items())
    styles, runs = ([text.get_text() for text in legend.get_texts()] for legend in figure.legends)
    assert styles == ["training, per step", "training, epoch mean", "validation", "best epoch"]
    assert runs[0].startswith("small (")
    assert "completed" in runs[0]
    assert runs[1].startswith("large (")
    assert "best epoch 2" in runs[1]
    assert figure.legends[1].get_title().get_text() == "2 runs compared"


def test_every_other_metric_gets_its_plot(tmp_path: Path, log_dir: Path) -> None:
    session = trainscope.TrainingSession("m", 1, 2, None, plugins=["jsonl"], strict=True)
    with session:
        session.start_epoch(1)
        session.update_training_progress(1, 1.0, 0.5, learning_rate=0.01, grad_norm=3.0)
        session.update_training_progress(2, 0.5, 0.5, learning_rate=0.005, grad_norm=2.0)
        session.print_epoch_summary()
    axes = axes_by_title([read_curves(session.run.artifacts["jsonl"])])
    assert list(axes) == ["loss", "accuracy", "learning_rate", "grad_norm"]
    assert data(lines_by_gid(axes["learning_rate"])["train-steps:0"]) == ([1, 2], [0.01, 0.005])
    assert "validation:0" not in lines_by_gid(axes["loss"])
    assert data(lines_by_gid(axes["loss"])["best:0"]) == ([2], [0.75])  # no validation: training loss


def test_a_cut_off_run_plots_what_it_has(tmp_path: Path, log_dir: Path) -> None:
    path = train("crashed", [(1.0, 0.5), (0.5, 0.25)], [0.75, 0.5])
    data_lines = path.read_bytes().splitlines(keepends=True)
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(
        b"".join(data_lines[: data_lines.index(next(x for x in data_lines if b'"epoch":2' in x)) + 3])
    )
    run = read_curves(cut)
    figure = build_figure([run])
    loss = lines_by_gid(figure.axes[0])
    assert data(loss["train-steps:0"])[0] == [1, 2, 3]
    assert data(loss["train-epochs:0"])[0] == [2]
    assert "stopped before the run ended" in figure.get_suptitle()


def test_labels_from_the_log_are_plain_text() -> None:
    assert label_text("a$b\x1b[2J") == r"a\$b?[2J"
    assert label_text("x" * 100) == "x" * 77 + "..."


def test_a_name_that_looks_like_math_still_renders(log_dir: Path) -> None:
    path = train("$\\frac{unbalanced$ $", [(1.0, 0.5)], [0.75])
    figure = build_figure([read_curves(path)])
    figure.savefig(io.BytesIO(), format="png")
    assert figure.get_suptitle().startswith(r"\$\frac{unbalanced\$ \$ (")


def test_nothing_to_plot_is_a_value_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text('{"event":"run_start","run_id":"r","time":1.0,"name":"n"}\n')
    with pytest.raises(ValueError, match="no metrics to plot"):
        build_figure([read_curves(path)])


def test_a_run_in_steps_shows_means_between_evaluations(log_dir: Path) -> None:
    session = trainscope.TrainingSession("StepNet", total_steps=6, plugins=["jsonl"], strict=True)
    with session:
        for step, loss in enumerate([1.0, 0.5, 0.5, 0.25, 0.25, 0.25], start=1):
            session.update_training_progress(step, loss)
            if step % 3 == 0:
                session.start_validation()
                session.update_validation_progress(1, 0.9 if step == 3 else 0.4)
                session.finish_validation_epoch()
    figure = build_figure([read_curves(session.run.artifacts["jsonl"])])
    loss = lines_by_gid(figure.axes[0])
    assert data(loss["train-steps:0"])[0] == [1, 2, 3, 4, 5, 6]  # training goes on after each validation
    assert data(loss["train-evaluations:0"]) == ([3, 6], [pytest.approx(2 / 3), pytest.approx(0.25)])
    assert data(loss["validation:0"]) == ([3, 6], [0.9, 0.4])
    assert data(loss["best:0"]) == ([6], [0.4])
    assert "train-epochs:0" not in loss
    styles = [text.get_text() for text in figure.legends[0].get_texts()]
    assert styles == [
        "training, per step",
        "training, mean between evaluations",
        "validation",
        "best evaluation",
    ]
    assert figure.get_suptitle().endswith("best evaluation at step 6")
