"""The documentation site, built once per test session, and a parser for its pages."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@dataclass
class Page:
    """What the checks need from one built HTML page."""

    path: Path
    ids: set[str] = field(default_factory=set)
    links: list[tuple[str, str, str]] = field(default_factory=list)
    """``(tag, attribute, value)`` for every ``href``, ``src`` and ``srcset``."""
    classes: set[str] = field(default_factory=set)
    text: str = ""


class _PageParser(HTMLParser):
    def __init__(self, page: Page) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "id":
                self.page.ids.add(value)
            elif name == "class":
                self.page.classes.update(value.split())
            elif name in ("href", "src", "srcset", "data"):
                self.page.links.append((tag, name, value))

    def handle_data(self, data: str) -> None:
        self._text.append(data)

    def close(self) -> None:
        super().close()
        self.page.text = "".join(self._text)


def parse_page(path: Path) -> Page:
    """Parse one built page."""
    page = Page(path)
    parser = _PageParser(page)
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return page


@dataclass
class Site:
    """A built site: its folder and its pages, by path relative to the folder."""

    root: Path
    pages: dict[str, Page]


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """``mkdocs build --strict`` of the repository's site, into a temporary folder.

    Skipped where the documentation tools are not installed (the plain test sessions);
    the ``docs`` nox session and the hatch environment have them.
    """
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        pytest.importorskip(module, reason="the documentation tools are not installed")
    out = tmp_path_factory.mktemp("site")
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(out)]
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"`mkdocs build --strict` failed:\n{result.stdout}\n{result.stderr}"
    pages = {path.relative_to(out).as_posix(): parse_page(path) for path in sorted(out.rglob("*.html"))}
    return Site(out, pages)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that read the built site are slow: the build trains a model for its picture."""
    here = Path(__file__).parent
    for item in items:
        if "site" in getattr(item, "fixturenames", ()) and here in item.path.parents:
            item.add_marker(pytest.mark.slow)
