"""The home page's terminal picture: a real run of ``trainscope train``, made at each docs build.

Registered as a mkdocs hook (``hooks:`` in mkdocs.yml): :func:`on_files` runs
``trainscope train --epochs 3`` on the embedded digits (a few seconds on a CPU), takes
what it printed, every bar at its final state, and adds ``assets/demo-terminal.svg`` to
the site, so the picture always shows what the current code prints. The run writes no
files (the reporters that write are blocked) and its bars are as narrow as on a
120-column terminal.

Also a command, for a capture of your own (text with ANSI colours, e.g. from
``tmux capture-pane -e -p``)::

    python docs/assets/capture_terminal.py demo.ansi demo.svg --width 120

Needs ``rich`` and, for the build, ``trainscope-jax`` with the core reporters installed.
The SVG loads nothing from the network: rich's web-font links are left out, and the text
uses the reader's monospace font.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.cells import cell_len
from rich.console import CONSOLE_SVG_FORMAT, Console
from rich.text import Text

FONT_FAMILY = '"Fira Code", "DejaVu Sans Mono", Menlo, Consolas, monospace'
"""Local fonts only: the SVG is shown offline."""

SVG_FORMAT = (
    re.sub(r"\s*@font-face \{\{.*?\}\}", "", CONSOLE_SVG_FORMAT, flags=re.DOTALL)
    .replace("font-family: Fira Code, monospace;", f"font-family: {FONT_FAMILY};")
    .replace("<!-- Generated with Rich https://www.textualize.io -->", "<!-- Generated with rich -->")
)
"""rich's SVG template without the web fonts it would fetch from a CDN."""


def ansi_to_svg(ansi: str, *, title: str, width: int | None = None) -> str:
    """Render terminal text with ANSI escapes as an SVG terminal window.

    :param ansi: the captured text; trailing blank lines are dropped.
    :param title: the window title.
    :param width: the terminal width in columns; None: the longest line.
    """
    lines = ansi.rstrip().splitlines()
    text = Text("\n").join(Text.from_ansi(line) for line in lines)
    columns = width or max((cell_len(Text.from_ansi(line).plain) for line in lines), default=1)
    console = Console(record=True, width=columns, force_terminal=True, color_system="truecolor", file=_Null())
    console.print(text, crop=False, soft_wrap=True)
    svg = console.export_svg(title=title, code_format=SVG_FORMAT)
    if re.search(r"url\(\s*[\"']?(?!#)|https?://(?!www\.w3\.org/2000/svg)", svg):
        raise ValueError("the SVG refers to an external resource; check rich's SVG template")
    return svg


class _Null:
    """A text stream that discards everything (the console only records)."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


DEMO_COMMAND = ("trainscope", "train", "--epochs", "3")
"""What the picture shows, as the user types it."""
COLUMNS = 120
BAR_WIDTH = 24
"""The bar width the tqdm reporter shrinks to on a 120-column terminal."""
PICTURE = "assets/demo-terminal.svg"


def capture_demo() -> str:
    """Run :data:`DEMO_COMMAND` and return what it printed, led by the command line.

    In a pipe the tqdm reporter writes each bar once, at its final state (the line
    interval is longer than the run), which is the screen a terminal is left with.
    """
    with tempfile.TemporaryDirectory() as folder:
        env = {
            **os.environ,
            "COLUMNS": str(COLUMNS),
            "TRAINSCOPE_TQDM_WIDTH": str(BAR_WIDTH),
            "TRAINSCOPE_TQDM_LINE_INTERVAL": "3600",
            "TRAINSCOPE_PLATFORM": "cpu",
            "TRAINSCOPE_LOG_DIR": folder,
            "TRAINSCOPE_DISABLE_PLUGINS": "jsonl,tensorboard,mlflow",
        }
        env.pop("TRAINSCOPE_PLUGINS", None)
        done = subprocess.run(
            [sys.executable, "-m", "trainscope", *DEMO_COMMAND[1:]],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=folder,
            timeout=600,
            check=False,
        )
    if done.returncode != 0 or "Best epoch" not in done.stdout:
        raise RuntimeError(
            f"the home page's terminal picture needs a real run of {' '.join(DEMO_COMMAND)!r}, which "
            f"failed (exit {done.returncode}); install the workspace (trainscope-jax and the "
            f"reporters), e.g. `hatch run docs`:\n{done.stdout[-2000:]}"
        )
    return f"$ {' '.join(DEMO_COMMAND)}\n{done.stdout}"


def on_files(files: Any, config: Any) -> Any:
    """mkdocs hook: add the picture of a real run to the site's files."""
    from mkdocs.structure.files import File

    svg = ansi_to_svg(capture_demo(), title=" ".join(DEMO_COMMAND), width=COLUMNS)
    files.append(File.generated(config, PICTURE, content=svg))
    return files


def main(argv: Sequence[str] | None = None) -> int:
    """``capture_terminal.py CAPTURE SVG [--title T] [--width N]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture", type=Path, help="text captured with `tmux capture-pane -e -p`")
    parser.add_argument("svg", type=Path, help="the SVG file to write")
    parser.add_argument("--title", default="trainscope train --epochs 3", help="the window title")
    parser.add_argument("--width", type=int, default=None, help="terminal columns (default: longest line)")
    args = parser.parse_args(argv)
    args.svg.write_text(ansi_to_svg(args.capture.read_text(), title=args.title, width=args.width))
    return 0


if __name__ == "__main__":
    sys.exit(main())
