"""Turn a terminal capture (text with ANSI colours) into the SVG picture shown in the docs.

``demo-terminal.svg`` is a real run of the demo in a 120-column tmux terminal, from a
shell where the hatch environment is active (``source "$(hatch env find)/bin/activate"``)::

    tmux new-session -d -s demo -x 120 -y 50
    tmux send-keys -t demo "PS1='$ '; clear" Enter
    tmux send-keys -t demo "trainscope train --epochs 3" Enter
    # once the run has finished:
    tmux capture-pane -t demo -e -p -S - > demo.ansi
    tmux kill-session -t demo
    python docs/assets/capture_terminal.py demo.ansi docs/assets/demo-terminal.svg --width 120

Needs only ``rich``, which the test environment has. The SVG loads nothing from the
network: rich's web-font links are left out, and the text uses the reader's monospace font.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

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
