"""``trainscope report``: one self-contained HTML page per run, through the CLI, checked as
text and, where Chromium is installed, as a browser renders it."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import trainscope
from trainscope import LayerSpec, ModelSpec
from trainscope.cli import CliContext, build_cli

SPEC = ModelSpec("Tiny", (4,), [LayerSpec("fc", "Linear", "4, 2", 10, output_shape=(2,))])
SECTION_IDS = ["summary", "architecture", "curves", "epochs", "throughput", "health", "config", "environment"]
PLOTS_MISSING = "No plots: they need matplotlib: pip install &quot;trainscope-jsonl[plot]&quot;"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LOADED_FROM_OUTSIDE = re.compile(
    r"<(?:link|script|img|iframe|source|video|audio|embed|object|image|use)\b[^>]*"
    r"\b(?:href|src|srcset|data|xlink:href)\s*=\s*[\"']?\s*(?:https?:)?//"
    r"|<script\b|url\(\s*[\"']?\s*(?:https?:)?//|@import",
    re.IGNORECASE,
)
"""Anything a browser would fetch when showing the page: a script, an outside stylesheet,
image, frame or font."""


def train(
    name: str = "CatDogCNN",
    epochs: int | None = 2,
    *,
    model: ModelSpec | None = SPEC,
    config: dict[str, Any] | None = None,
    error: str | None = None,
) -> Path:
    """A run of two training steps and one validation step per epoch (``epochs`` None: a run
    declared in 4 steps, validated every 2); its log. With ``error``, the run fails with
    ``ValueError(error)`` after its first validation."""
    session = trainscope.TrainingSession(
        name,
        epochs,
        None if epochs is None else 2,
        total_steps=4 if epochs is None else None,
        model=model,
        plugins=["jsonl"],
        config=config or {"learning_rate": 0.01},
    )
    with contextlib.suppress(ValueError), session:
        for number in range(1, (epochs or 2) + 1):
            if epochs is not None:
                session.start_epoch(number)
            for step, loss, accuracy in ((1, 1.5, 0.25), (2, 0.5, 0.75)):
                reported = step if epochs else 2 * number + step - 2  # steps go on across evaluations
                session.update_training_progress(reported, loss / number, accuracy)
            session.start_validation()
            session.update_validation_progress(1, 0.75 / number, 0.6651)
            session.finish_validation_epoch() if epochs is None else session.print_epoch_summary()
            if error is not None:
                raise ValueError(error)
    return Path(session.run.artifacts["jsonl"])


def report(*args: str | Path) -> Result:
    manager = trainscope.create_plugin_manager(plugins=["jsonl"])
    cli = build_cli(manager)
    return CliRunner().invoke(cli, ["report", *map(str, args)], obj=CliContext(manager))


class _Sections(HTMLParser):
    """The text of each ``<section id=...>``, the tags met in it, and the page's ``<h1>``."""

    def __init__(self) -> None:
        super().__init__()
        self.text: dict[str, str] = {}
        self.tags: dict[str, set[str]] = {}
        self.current: str | None = None
        self.depth = 0
        self.heading = ""
        self.in_heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section" and self.current is None:
            self.current = dict(attrs).get("id") or "?"
            self.text[self.current], self.tags[self.current] = "", set()
        elif self.current is not None:
            self.tags[self.current].add(tag)
        self.depth += tag == "section"
        self.in_heading = self.in_heading or tag == "h1"

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.depth -= 1
            self.current = None if self.depth == 0 else self.current
        self.in_heading = self.in_heading and tag != "h1"

    def handle_data(self, data: str) -> None:
        if self.current is not None:
            self.text[self.current] += data + " "
        if self.in_heading:
            self.heading += data


def sections(document: str) -> _Sections:
    parser = _Sections()
    parser.feed(document)
    return parser


def words(text: str) -> str:
    return " ".join(text.split())


def test_report_is_written_next_to_the_log(log_dir: Path) -> None:
    log = train()
    result = report(log)
    assert result.exit_code == 0, result.output
    page = log.with_suffix(".html")
    assert result.stdout == f"Wrote {page}\n"
    document = page.read_text(encoding="utf-8")
    assert document.startswith("<!DOCTYPE html>")
    found = sections(document)
    assert list(found.text) == SECTION_IDS
    assert found.heading == "CatDogCNN"
    summary = words(found.text["summary"])
    assert "Status completed" in summary
    assert "Epochs 2/2" in summary
    assert "Train loss 0.5000 0.5000 min" in summary  # final, best, how
    assert "Validation accuracy 66.51% 66.51% max" in summary
    assert "(fc): Linear(4, 2)" in found.text["architecture"]
    assert "\nTotal parameters: 10\n" in found.text["architecture"]  # its lines kept
    epochs = words(found.text["epochs"])
    assert "Epoch Train loss Train accuracy Validation loss Validation accuracy Time" in epochs
    assert "1 1.0000 50.00% 0.7500 66.51%" in epochs
    assert "Best epoch: 2/2 (Validation Loss: 0.3750)" in epochs
    assert document.count('<tr class="best">') == 1
    assert "learning_rate 0.01" in words(found.text["config"])
    assert "python" in found.text["environment"]
    assert "completed after" in document.split("<nav>")[0]


def test_the_page_loads_nothing_at_view_time(log_dir: Path) -> None:
    pytest.importorskip("matplotlib")
    log = train()
    assert report(log).exit_code == 0
    document = log.with_suffix(".html").read_text(encoding="utf-8")
    assert "<svg" in document.split('id="curves"')[1].split("</section>")[0]  # the plot is inline
    assert not LOADED_FROM_OUTSIDE.search(document)
    assert "Content-Security-Policy" in document
    assert "<?xml" not in document
    assert "<!DOCTYPE svg" not in document


def test_every_logged_string_is_escaped(log_dir: Path) -> None:
    hostile = '<script>alert("x")</script>'
    log = train(
        f"Net{hostile}",
        model=None,
        config={"path": "<img src=http://evil.example/x.png>", "note": "a & b"},
        error=f"{hostile}\x1b[2J",
    )
    assert report(log).exit_code == 0
    document = log.with_suffix(".html").read_text(encoding="utf-8")
    assert "<script" not in document
    assert "<img" not in document
    assert "\x1b" not in document
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in document
    assert "&lt;img src=http://evil.example/x.png&gt;" in document
    assert "a &amp; b" in document
    assert not LOADED_FROM_OUTSIDE.search(document)


def test_a_run_without_a_model(log_dir: Path) -> None:
    log = train(model=None)
    assert report(log, "-o", log.with_name("out.html")).exit_code == 0
    found = sections(log.with_name("out.html").read_text(encoding="utf-8"))
    assert words(found.text["architecture"]) == "Architecture No model recorded."


def test_failed_and_incomplete_runs_say_so(tmp_path: Path, log_dir: Path) -> None:
    failed = train("Failing", error="bad batch")
    result = report(failed)
    assert result.exit_code == 0, result.output
    document = failed.with_suffix(".html").read_text(encoding="utf-8")
    assert '<span class="status failed">failed after' in document
    assert '<p class="error">ValueError: bad batch</p>' in document
    assert "Status failed" in words(sections(document).text["summary"])

    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(failed.read_bytes().split(b'{"event":"run_end"')[0] + b'{"event":"ru')
    result = report(cut)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"Note: {cut}: no run_end: the process stopped before the run ended; "
        "the report shows what the log has",
        f"Note: {cut}: the last line was cut off and is skipped",
    ]
    document = cut.with_suffix(".html").read_text(encoding="utf-8")
    header = document.split("<nav>")[0]
    assert (
        '<span class="status incomplete">no run_end: the process stopped before the run ended</span>'
        in header
    )
    assert "the last line was cut off and is skipped" in header
    assert "1 1.5000" not in document  # epoch 1 means: 1.0000
    assert "1 1.0000 50.00%" in words(sections(document).text["epochs"])


def test_an_abandoned_log_says_so(tmp_path: Path, log_dir: Path) -> None:
    log = tmp_path / "abandoned.jsonl"
    log.write_bytes(
        train().read_bytes().split(b'{"event":"run_end"')[0]
        + b'{"event":"log_error","run_id":"r","time":2.0,"error":"LogWriteError: disk full"}\n'
    )
    result = report(log)
    assert result.exit_code == 0, result.output
    header = log.with_suffix(".html").read_text(encoding="utf-8").split("<nav>")[0]
    assert '<span class="status abandoned">log abandoned: LogWriteError: disk full</span>' in header


def test_a_run_declared_in_steps_has_evaluations(log_dir: Path) -> None:
    log = train("StepNet", None)
    assert report(log).exit_code == 0
    found = sections(log.with_suffix(".html").read_text(encoding="utf-8"))
    evaluations = words(found.text["epochs"])
    assert evaluations.startswith("Evaluations Step Train loss")
    assert "2 1.0000 50.00% 0.7500 66.51%" in evaluations
    assert "Best evaluation: step 4/4 (Validation Loss: 0.3750)" in evaluations
    assert "Training steps 4/4" in words(found.text["summary"])


def test_the_report_never_overwrites_the_log(tmp_path: Path, log_dir: Path) -> None:
    log = train()
    before = log.read_bytes()
    link = tmp_path / "link.html"
    os.link(log, link)
    for target in (log, link):
        result = report(log, "-o", target)
        assert result.exit_code == 1
        assert result.output == f"Error: {str(target)!r} is the log: give another file with -o\n"
    named = tmp_path / "run.html"  # a log whose default report name is itself
    named.write_bytes(before)
    assert report(named).output == f"Error: {str(named)!r} is the log: give another file with -o\n"
    assert log.read_bytes() == before


def test_a_folder_gives_its_newest_run_and_output_errors_are_one_line(tmp_path: Path, log_dir: Path) -> None:
    train("first")
    newest = train("second")
    result = report(log_dir)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Wrote {newest.with_suffix('.html')}\n"
    missing = tmp_path / "no" / "such" / "folder" / "r.html"
    result = report(newest, "-o", missing)
    assert result.exit_code == 1
    assert result.output == f"Error: cannot write {str(missing)!r}: No such file or directory\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json\n", "line 1: not a JSON object: "),
        ('{"event":"step"}\n', 'line 1: "step" comes before any run_start: not a trainscope run log'),
        ('{"event":"run_start","run_id":"r","time":1.0,"name":"n","model":"big"}\n', '"model" is a string'),
    ],
)
def test_a_bad_log_is_one_line_and_writes_nothing(tmp_path: Path, content: str, message: str) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    result = report(bad)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: '{bad}' ")
    assert message in result.output
    assert len(result.output.splitlines()) == 1
    assert not bad.with_suffix(".html").exists()


def test_without_matplotlib_the_report_has_no_plots(monkeypatch: pytest.MonkeyPatch, log_dir: Path) -> None:
    log = train()
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # importing it now fails, as when not installed
    result = report(log)
    assert result.exit_code == 0, result.output
    assert result.stderr == 'Note: No plots: they need matplotlib: pip install "trainscope-jsonl[plot]"\n'
    document = log.with_suffix(".html").read_text(encoding="utf-8")
    found = sections(document)
    assert list(found.text) == SECTION_IDS
    assert PLOTS_MISSING in document
    assert "<svg" not in document


# -- in a browser --------------------------------------------------------------------------

browser = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium on PATH: install it (Debian: apt-get install chromium) to see the page in a browser",
)


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium, offline and without a profile, on ``args``."""
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


@browser
def test_chromium_shows_every_section_and_figure(tmp_path: Path, log_dir: Path) -> None:
    pytest.importorskip("matplotlib")
    log = train()
    assert report(log).exit_code == 0
    dom = chromium(tmp_path, "--dump-dom", log.with_suffix(".html").as_uri()).stdout
    found = sections(dom)
    assert list(found.text) == SECTION_IDS
    assert found.heading == "CatDogCNN"
    assert {"svg", "path"} <= found.tags["curves"]
    assert "Train loss 0.5000 0.5000 min" in words(found.text["summary"])
    assert "2 0.5000 50.00% 0.3750 66.51%" in words(found.text["epochs"])
    assert "(fc): Linear(4, 2)" in found.text["architecture"]
    assert "learning_rate 0.01" in words(found.text["config"])


@browser
def test_chromium_renders_the_page_and_its_plot(tmp_path: Path, log_dir: Path) -> None:
    image = pytest.importorskip("matplotlib.image")
    log = train()
    assert report(log).exit_code == 0
    screenshot = tmp_path / "page.png"
    chromium(
        tmp_path,
        "--hide-scrollbars",
        "--window-size=1280,2400",
        f"--screenshot={screenshot}",
        log.with_suffix(".html").as_uri(),
    )
    pixels = image.imread(screenshot)[..., :3]
    assert pixels.shape[:2] == (2400, 1280)
    rounded = (pixels * 255).round().astype(int)

    def count(rgb: tuple[int, int, int]) -> int:
        """Pixels within a small distance of the colour ``rgb``."""
        return int((abs(rounded - rgb).sum(axis=-1) <= 30).sum())

    assert count((0x2E, 0x7D, 0x32)) > 200  # the green "completed" badge
    assert count((0x1F, 0x77, 0xB4)) > 200  # the run's lines on the plot (matplotlib's C0)
    assert count((0xFF, 0xF8, 0xE1)) > 2000  # the best epoch's row
