"""``ProgressBar`` on its own: as a terminal bar, as lines, from many threads."""

from __future__ import annotations

import io
import re
import sys
import threading
from collections.abc import Callable, Iterator

import pytest

from trainscope_tqdm import ProgressBar


class FakeTerminal(io.StringIO):
    """A text stream that says it is a terminal."""

    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _no_terminal_size(monkeypatch: pytest.MonkeyPatch) -> None:
    # tqdm falls back to COLUMNS for a stream without a real terminal behind it
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)
    for name in ("WIDTH", "SHOW_RATE", "SHOW_ETA", "REFRESH_INTERVAL", "LINE_INTERVAL"):
        monkeypatch.delenv(f"TRAINSCOPE_TQDM_{name}", raising=False)


def bar_of(line: str) -> str:
    match = re.search(r"\|([^|]*)\|", line)
    assert match, line
    return match.group(1)


def test_standalone_bar_as_in_the_seed_example(screen: Callable[[str], list[str]]) -> None:
    out = FakeTerminal()
    with ProgressBar("Training", 100, file=out) as bar:
        for step in range(1, 101):
            bar.update(step, {"loss": 1.3087, "accuracy": 0.6523})
    assert bar.finished
    assert bar.step == 100
    lines = screen(out.getvalue())
    assert len(lines) == 1
    assert re.fullmatch(
        r"Training: 100%\|█{70}\| 100/100 \[\d\d:\d\d<\d\d:\d\d, [^,]+batch/s, "
        r"loss=1\.31, accuracy=65\.23%\]",
        lines[0],
    ), lines[0]
    assert out.getvalue().endswith("\n")


def test_partial_progress_and_metrics_as_given() -> None:
    out = io.StringIO()
    bar = ProgressBar("Validation", 155, file=out, line_interval=3600)
    bar.update(62, {"loss": 1.2834, "accuracy": 0.6651, "precision": 0.81234})
    bar.finish()
    (line,) = out.getvalue().splitlines()
    assert re.fullmatch(
        r"Validation:  40%\|#{28}[0-9 ]{42}\| 62/155 \[\d\d:\d\d<[^,]+, [^,]+batch/s, "
        r"loss=1\.28, accuracy=66\.51%, precision=0\.812\]",
        line,
    ), line


def test_metrics_changed_in_place_show_their_new_values() -> None:
    out = io.StringIO()
    bar = ProgressBar("Training", 10, file=out, line_interval=3600)
    metrics = {"loss": 2.0}
    bar.update(5, metrics)
    metrics["loss"] = 0.5  # the bar keeps the mapping it was given
    bar.finish()
    (line,) = out.getvalue().splitlines()
    assert line.endswith("loss=0.5]"), line


def test_settings_change_the_next_frame() -> None:
    bar = ProgressBar("Training", 10, file=io.StringIO())
    bar.update(5)
    assert len(bar_of(str(bar))) == 70
    assert "batch/s" in str(bar)
    assert "<" in str(bar)
    bar.set_width(20)
    bar.set_show_rate(False)
    bar.set_show_eta(False)
    assert len(bar_of(str(bar))) == 20
    assert re.fullmatch(r"Training:  50%\|#{10} {10}\| 5/10 \[\d\d:\d\d\]", str(bar)), str(bar)
    assert bar.options.width == 20
    bar.finish()


@pytest.mark.parametrize("width", [0, -3, 2.5, True])
def test_bad_width_is_refused(width: object) -> None:
    with pytest.raises(ValueError, match="bar width must be a whole number of characters >= 1"):
        ProgressBar("x", 10, width=width, file=io.StringIO())  # type: ignore[arg-type]
    bar = ProgressBar("x", 10, file=io.StringIO())
    with pytest.raises(ValueError, match="bar width"):
        bar.set_width(width)  # type: ignore[arg-type]


def test_unknown_total_is_a_counter_with_rate() -> None:
    out = io.StringIO()
    with ProgressBar("Epoch 1/1 (Training)", None, file=out) as bar:
        bar.update(62, {"loss": 1.28})
    (line,) = out.getvalue().splitlines()
    assert re.fullmatch(r"Epoch 1/1 \(Training\): 62batch \[\d\d:\d\d, [^,]+batch/s, loss=1\.28\]", line), (
        line
    )
    assert bar.total is None


def test_steps_beyond_total_and_updates_after_finish_do_not_fail() -> None:
    out = io.StringIO()
    bar = ProgressBar("Training", 10, file=out, line_interval=0)
    bar.update(10)
    bar.update(15)
    bar.finish()
    bar.update(20)
    bar.finish()
    assert bar.step == 15
    assert out.getvalue().splitlines()[-1].startswith("Training: 15batch [")


def test_the_bar_never_moves_back() -> None:
    bar = ProgressBar("Training", 10, file=io.StringIO())
    bar.update(7)
    bar.update(3, {"loss": 2.0})
    assert bar.step == 7
    assert str(bar).endswith(", loss=2]")


def test_non_finite_metrics_print_sensibly() -> None:
    bar = ProgressBar("Training", 10, file=io.StringIO())
    bar.update(1, {"loss": float("nan"), "accuracy": float("inf"), "grad_norm": float("-inf")})
    assert str(bar).endswith(", loss=nan, accuracy=inf, grad_norm=-inf]")


@pytest.fixture
def _frequent_thread_switches() -> Iterator[None]:
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # make races between threads likely
    yield
    sys.setswitchinterval(interval)


@pytest.mark.usefixtures("_frequent_thread_switches")
@pytest.mark.parametrize("terminal", [True, False])
def test_many_threads_updating_one_bar(terminal: bool, screen: Callable[[str], list[str]]) -> None:
    threads_count, total = 16, 4000
    out: io.StringIO = FakeTerminal() if terminal else io.StringIO()
    bar = ProgressBar("Threads", total, file=out, refresh_interval=0, line_interval=0)
    start = threading.Barrier(threads_count)

    def work(first: int) -> None:
        start.wait()
        for step in range(first, total + 1, threads_count):
            bar.update(step, {"loss": 1.0 / step, "accuracy": 0.5})

    threads = [threading.Thread(target=work, args=(k,)) for k in range(1, threads_count + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bar.finish()

    assert bar.step == total
    lines = screen(out.getvalue()) if terminal else out.getvalue().splitlines()
    if terminal:
        assert len(lines) == 1
    else:
        assert "\r" not in out.getvalue()
    pattern = r"Threads: +\d+%\|[^|]+\| \d+/4000 \[[^\]]*, loss=[^,]+, accuracy=50\.00%\]"
    for line in lines:
        assert re.fullmatch(pattern, line), line
    assert " 4000/4000 [" in lines[-1]
