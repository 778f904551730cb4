"""The tqdm reporter through its entry point, drawn on a pseudo-terminal and written to a pipe."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable

import pytest

TIMES = r"\[\d\d:\d\d<\d\d:\d\d, (?:\s*[\d.]+|\?)(?:batch/s|s/batch), "
COUNTER_TIMES = r"\[\d\d:\d\d, (?:\s*[\d.]+|\?)(?:batch/s|s/batch), "
BAR = "█" * 70


def full_bar(epoch: int, phase: str, steps: int, postfix: str, bar: str = BAR) -> str:
    return (
        rf"Epoch {epoch}/2 \({phase}\): 100%\|{bar}\| {steps}/{steps} " + TIMES + re.escape(postfix) + r"\]"
    )


TRAIN_1 = full_bar(1, "Training", 20, "loss=10.5, accuracy=52.50%, f1_score=0.5")
VALID_1 = full_bar(1, "Validation", 5, "loss=3, accuracy=30.00%")
TRAIN_2 = full_bar(2, "Training", 20, "loss=5.25, accuracy=52.50%, f1_score=0.5")
VALID_2 = full_bar(2, "Validation", 5, "loss=3, accuracy=30.00%")


def assert_lines(lines: list[str], patterns: list[str]) -> None:
    assert len(lines) == len(patterns), "\n".join(lines)
    for line, pattern in zip(lines, patterns):
        assert re.fullmatch(pattern, line), f"{line!r} does not match {pattern!r}"


def test_terminal_shows_one_finished_line_per_phase_with_running_means(
    pty_run: Callable[..., str], screen: Callable[[str], list[str]], script: Callable[..., str]
) -> None:
    lines = screen(pty_run(script(refresh_interval=0)))
    assert_lines(lines, ["Starting training...", TRAIN_1, VALID_1, TRAIN_2, VALID_2])


def test_terminal_bars_and_summary_stay_in_order(
    pty_run: Callable[..., str], screen: Callable[[str], list[str]], script: Callable[..., str]
) -> None:
    lines = screen(pty_run(script(plugins=("tqdm", "summary"))))
    summary_1 = [
        "",
        "Epoch 1/2 Summary:",
        "  Training   - Loss: 10.5000, Accuracy: 52.50%, f1_score: 0.5000",
        "  Validation - Loss: 3.0000, Accuracy: 30.00%",
    ]
    summary_2 = [
        "",
        "Epoch 2/2 Summary:",
        "  Training   - Loss: 5.2500, Accuracy: 52.50%, f1_score: 0.5000",
        "  Validation - Loss: 3.0000, Accuracy: 30.00%",
    ]
    final = ["", r"Best epoch: 1/2 \(Validation Loss: 3\.0000\), total time: \d+\.\ds"]
    expected = ["Starting training...", TRAIN_1, VALID_1, *map(re.escape, summary_1)]
    expected += [TRAIN_2, VALID_2, *map(re.escape, summary_2), *final]
    assert_lines(lines, expected)


def test_narrow_terminal_shrinks_the_bar_to_fit(
    pty_run: Callable[..., str], screen: Callable[[str], list[str]], script: Callable[..., str]
) -> None:
    lines = screen(pty_run(script(epochs=1, validation_steps=0), cols=120))
    assert len(lines) == 2, lines  # redrawn in place: no wrapped or repeated lines
    bar_line = lines[1]
    assert len(bar_line) <= 120
    match = re.fullmatch(  # room for everything but the full 70-character bar
        r"Epoch 1/1 \(Training\): 100%\|(█+)\| 20/20 "
        + TIMES
        + r"loss=10\.5, accuracy=52\.50%, f1_score=0\.5\]",
        bar_line,
    )
    assert match, bar_line
    assert 1 <= len(match.group(1)) < 70


@pytest.mark.parametrize(
    ("cols", "expected"),
    [
        (100, r"Epoch 1/1 \(Training\): 100% 20/20 " + TIMES + r"loss=10\.5, accuracy=52\.50%\]"),
        (80, r"Epoch 1/1 \(Training\): 100% 20/20 \[\d\d:\d\d<\d\d:\d\d, loss=10\.5, accuracy=52\.50%\]"),
        (60, r"Epoch 1/1 \(Training\): 100% 20/20, loss=10\.5"),
        (40, r"Epoch 1/1 \(Training\): 100% 20/20"),
    ],
)
def test_a_narrow_terminal_drops_whole_fields_the_bar_first(
    cols: int,
    expected: str,
    pty_run: Callable[..., str],
    screen: Callable[[str], list[str]],
    script: Callable[..., str],
) -> None:
    lines = screen(pty_run(script(epochs=1, validation_steps=0), cols=cols))
    assert len(lines) == 2, lines  # no wrapped lines
    assert len(lines[1]) <= cols
    assert re.fullmatch(expected, lines[1]), lines[1]  # no value cut in two


def test_terminal_counter_for_an_unknown_total(
    pty_run: Callable[..., str], screen: Callable[[str], list[str]], script: Callable[..., str]
) -> None:
    lines = screen(pty_run(script(epochs=1, total=None)))
    assert_lines(
        lines,
        [
            "Starting training...",
            r"Epoch 1/1 \(Training\): 20batch "
            + COUNTER_TIMES
            + r"loss=10\.5, accuracy=52\.50%, f1_score=0\.5\]",
            r"Epoch 1/1 \(Validation\): 5batch " + COUNTER_TIMES + r"loss=3, accuracy=30\.00%\]",
        ],
    )


@pytest.mark.parametrize(
    ("error", "last_line"),
    [("RuntimeError('boom')", "RuntimeError: boom"), ("KeyboardInterrupt()", "KeyboardInterrupt")],
)
def test_a_failed_run_leaves_its_bar_where_it_stopped(
    error: str,
    last_line: str,
    pty_run: Callable[..., str],
    screen: Callable[[str], list[str]],
    script: Callable[..., str],
) -> None:
    lines = screen(pty_run(script(fail_at=(1, 8), error=error)))
    assert lines[0] == "Starting training..."
    assert re.fullmatch(
        r"Epoch 1/2 \(Training\):  35%\|█+[^|]*\| 7/20 \[\d\d:\d\d<[^,]+, [^,]+, loss=4, accuracy=20\.00%, "
        r"f1_score=0\.5\]",
        lines[1],
    ), lines[1]
    assert lines[2] == "Traceback (most recent call last):"
    assert lines[-1] == last_line


def test_pipe_writes_only_the_final_line_of_each_phase(
    pipe_run: Callable[..., subprocess.CompletedProcess[str]], script: Callable[..., str]
) -> None:
    result = pipe_run(script(), env={"TRAINSCOPE_TQDM_LINE_INTERVAL": "3600"})
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr
    assert_lines(result.stderr.splitlines(), ["Starting training...", TRAIN_1, VALID_1, TRAIN_2, VALID_2])


def test_pipe_lines_show_the_running_mean_at_each_step(
    pipe_run: Callable[..., subprocess.CompletedProcess[str]], script: Callable[..., str]
) -> None:
    result = pipe_run(
        script(epochs=1, validation_steps=0, refresh_interval=0),
        env={"TRAINSCOPE_TQDM_LINE_INTERVAL": "0"},
    )
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr
    lines = result.stderr.splitlines()[1:]
    assert len(lines) > 1
    steps = []
    for line in lines:
        match = re.fullmatch(
            r"Epoch 1/1 \(Training\): +\d+%\|[^|]*\| (\d+)/20 \[.*, loss=([^,]+), .*\]", line
        )
        assert match, line
        step, loss = int(match.group(1)), match.group(2)
        assert float(loss) == pytest.approx((step + 1) / 2, rel=1e-2)  # mean of 1..step
        steps.append(step)
    assert steps == sorted(set(steps))
    assert steps[-1] == 20


def test_pipe_keeps_bars_and_summary_in_order_on_one_stream(
    pipe_run: Callable[..., subprocess.CompletedProcess[str]], script: Callable[..., str]
) -> None:
    result = pipe_run(
        script(epochs=2, plugins=("tqdm", "summary")),
        env={"TRAINSCOPE_TQDM_LINE_INTERVAL": "3600"},
        merge=True,
    )
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    assert [line for line in lines if line.startswith(("Epoch", "Starting", "Best"))] == [
        "Starting training...",
        *[line for line in lines if line.startswith("Epoch 1/2 (")],
        "Epoch 1/2 Summary:",
        *[line for line in lines if line.startswith("Epoch 2/2 (")],
        "Epoch 2/2 Summary:",
        lines[-1],
    ]
    assert re.fullmatch(TRAIN_2, lines[lines.index("Epoch 2/2 Summary:") - 3])
    assert lines[-1].startswith("Best epoch: 1/2")


def test_pipe_survives_steps_beyond_the_total(
    pipe_run: Callable[..., subprocess.CompletedProcess[str]], script: Callable[..., str]
) -> None:
    result = pipe_run(script(epochs=1, total=10, validation_steps=0))
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(
        r"Epoch 1/1 \(Training\): 20batch "
        + COUNTER_TIMES
        + r"loss=10\.5, accuracy=52\.50%, f1_score=0\.5\]",
        result.stderr.splitlines()[-1],
    )
