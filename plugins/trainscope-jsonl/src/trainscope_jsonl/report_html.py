"""HTML building blocks of ``trainscope report``: one self-contained page.

Styles are inline, there are no scripts, and the page's Content-Security-Policy forbids
loading anything (plots are inline SVG), so it shows the same offline, from an e-mail or a
CI artifact, and can never call out. Every text goes through :func:`text` (or :func:`block`):
control and bidirectional formatting characters become ``?`` (see :func:`trainscope.printable`)
and HTML's special characters are escaped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from trainscope.plugin_api import printable

CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
"""Nothing is fetched at view time: no scripts, no fonts, no images but ``data:`` ones."""

STYLE = """
:root { color-scheme: light; --line: #d9dde3; --muted: #5f6b7a; --accent: #0b57d0; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #1d232b; background: #f6f7f9; }
header, main { max-width: 1320px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 24px; }
h1 { margin: 0 0 4px; font-size: 26px; }
h2 { margin: 0 0 12px; font-size: 19px; }
nav { margin: 12px 0 20px; }
nav a { margin-right: 14px; color: var(--accent); text-decoration: none; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px;
          padding: 16px 20px; margin-bottom: 18px; overflow-x: auto; }
.muted, .note { color: var(--muted); }
.note { font-style: italic; }
.status { display: inline-block; padding: 2px 10px; border-radius: 12px; font-weight: 600;
          color: #fff; background: #6b7280; }
.status.completed { background: #2e7d32; }
.status.failed, .status.abandoned { background: #c62828; }
.status.interrupted, .status.incomplete { background: #b26a00; }
.error { font-family: ui-monospace, Menlo, Consolas, monospace; color: #b71c1c; white-space: pre-wrap; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 12px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th { background: #eef1f5; }
td:first-child, th:first-child { text-align: left; }
table.pairs th, table.pairs td { text-align: left; }
table.pairs td { white-space: normal; word-break: break-word; }
.columns { display: flex; flex-wrap: wrap; gap: 16px 40px; align-items: flex-start; }
table.pairs td:first-child { font-weight: 600; white-space: nowrap; }
tr.best td { background: #fff8e1; }
pre { margin: 0; font: 13px/1.4 ui-monospace, Menlo, Consolas, monospace; white-space: pre; }
svg { max-width: 100%; height: auto; }
"""


def text(value: object) -> str:
    """``value`` as HTML text on one line: control characters as ``?``, special characters escaped."""
    return html.escape(printable(value))


def block(value: object) -> str:
    """``value`` as HTML text keeping its line breaks and tabs (for a ``<pre>``)."""
    return html.escape(printable(value, one_line=False))


@dataclass(frozen=True)
class Section:
    """A part of the page: its anchor, its title and its HTML."""

    anchor: str
    title: str
    body: str


def paragraph(content: str, css_class: str | None = None) -> str:
    """A ``<p>`` of HTML ``content`` (already escaped)."""
    attribute = f' class="{css_class}"' if css_class else ""
    return f"<p{attribute}>{content}</p>"


def columns(*parts: str) -> str:
    """HTML ``parts`` side by side, wrapping when the page is narrow."""
    return '<div class="columns">' + "".join(f"<div>{part}</div>" for part in parts) + "</div>"


def note(message: str) -> str:
    """A remark in muted italics; ``message`` is escaped."""
    return paragraph(text(message), "note")


def bullets(items: Sequence[str]) -> str:
    """A list of texts, every one escaped."""
    return "<ul>" + "".join(f"<li>{text(item)}</li>" for item in items) + "</ul>"


def preformatted(value: object) -> str:
    """``value`` in a ``<pre>``, escaped, its lines kept."""
    return f"<pre>{block(value)}</pre>"


def table(
    headings: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    css_class: str | None = None,
    marked: int | None = None,
) -> str:
    """A table of text cells, every one escaped; the row at index ``marked`` has class ``best``."""
    attribute = f' class="{css_class}"' if css_class else ""
    head = "".join(f"<th>{text(heading)}</th>" for heading in headings)
    body = "".join(
        ('<tr class="best">' if index == marked else "<tr>")
        + "".join(f"<td>{text(value)}</td>" for value in row)
        + "</tr>"
        for index, row in enumerate(rows)
    )
    return f"<table{attribute}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def pairs(items: Sequence[tuple[str, str]], *, empty: str) -> str:
    """A two-column table of names and values, or the note ``empty`` when there are none."""
    if not items:
        return note(empty)
    return table(("Name", "Value"), [list(item) for item in items], css_class="pairs")


def page(title: str, header: str, sections: Sequence[Section], footer: str) -> str:
    """The whole document: ``title`` (escaped) in the tab, the HTML ``header`` at the top, a
    link to each section, the sections, and the HTML ``footer``."""
    links = "".join(f'<a href="#{section.anchor}">{text(section.title)}</a>' for section in sections)
    parts = "\n".join(
        f'<section id="{section.anchor}"><h2>{text(section.title)}</h2>\n{section.body}\n</section>'
        for section in sections
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{text(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<header>{header}<nav>{links}</nav></header>\n<main>\n{parts}\n"
        f'<p class="muted">{footer}</p>\n</main>\n</body>\n</html>\n'
    )
