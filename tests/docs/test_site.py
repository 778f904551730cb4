"""The built site works offline, its links resolve, every page is in the nav."""

from __future__ import annotations

import importlib.util
import re
from types import ModuleType
from urllib.parse import unquote, urlsplit

import pytest

from .conftest import ROOT, Site

DOCS = ROOT / "docs"
_EXTERNAL = re.compile(r"^([a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
_CSS_URL = re.compile(r"""(?:url\(\s*|@import\s+)["']?([^"')\s]+)""")


def _external(url: str) -> bool:
    """True for a URL on another host: ``https://...``, ``//host/...``."""
    return bool(_EXTERNAL.match(url.strip()))


def test_every_page_is_built(site: Site) -> None:
    sources = {path.relative_to(DOCS).with_suffix(".html").as_posix() for path in DOCS.rglob("*.md")}
    assert sources <= set(site.pages)
    assert "reference/trainscope.html" in site.pages


def test_pages_load_nothing_from_another_host(site: Site) -> None:
    fetched = [
        f"{name}: <{tag} {attribute}={value!r}>"
        for name, page in site.pages.items()
        for tag, attribute, value in page.links
        if tag != "a" and any(_external(url.split()[0]) for url in value.split(",") if url.strip())
    ]
    assert not fetched, "the site must work offline; external resources:\n" + "\n".join(fetched)


def test_stylesheets_and_pictures_load_nothing_from_another_host(site: Site) -> None:
    fetched = [
        f"{path.relative_to(site.root)}: {url}"
        for path in [*site.root.rglob("*.css"), *site.root.rglob("*.svg")]
        for url in _CSS_URL.findall(path.read_text(encoding="utf-8"))
        if _external(url)
    ]
    assert not fetched, "\n".join(fetched)


def test_every_page_has_the_stylesheet_that_fits_terminal_output(site: Site) -> None:
    missing = [
        name
        for name, page in site.pages.items()
        if not any(
            value.endswith("assets/stylesheets/extra.css") for tag, _, value in page.links if tag == "link"
        )
    ]
    assert not missing
    css = (site.root / "assets" / "stylesheets" / "extra.css").read_text(encoding="utf-8")
    assert ".language-text.highlight code" in css


def test_no_diagram_that_the_theme_would_fetch_a_library_for(site: Site) -> None:
    # Material loads mermaid.js from a CDN when a page has a mermaid diagram.
    assert not [name for name, page in site.pages.items() if "mermaid" in page.classes]


def test_the_web_worker_shim_is_bundled(site: Site) -> None:
    # The offline plugin adds a CDN copy of this shim unless mkdocs.yml lists a local one.
    scripts = {value for tag, _, value in site.pages["index.html"].links if tag == "script"}
    assert "assets/javascripts/iframe-worker-shim.js" in scripts
    assert (site.root / "assets/javascripts/iframe-worker-shim.js").is_file()


def test_code_is_highlighted_at_build_time(site: Site) -> None:
    page = site.pages["session.html"]
    assert "highlight" in page.classes
    assert {"kn", "nn"} <= page.classes  # Pygments' token classes: `from trainscope import ...`


def test_internal_links_resolve(site: Site) -> None:
    broken = []
    for name, page in site.pages.items():
        if name == "404.html":  # served at any depth: its links are absolute on purpose
            continue
        for tag, attribute, value in page.links:
            if attribute != "href" or tag != "a" or _external(value) or value.startswith(("mailto:", "#")):
                continue
            parts = urlsplit(value)
            target = (page.path.parent / unquote(parts.path)).resolve()
            if not target.is_relative_to(site.root.resolve()) or not target.exists():
                broken.append(f"{name}: {value} (no such file)")
            elif parts.fragment and target.suffix == ".html":
                target_page = site.pages[target.relative_to(site.root.resolve()).as_posix()]
                if unquote(parts.fragment) not in target_page.ids:
                    broken.append(f"{name}: {value} (no such anchor)")
    assert not broken, "\n".join(broken)


def test_every_page_is_in_the_nav() -> None:
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    in_nav = set(re.findall(r"[\w./-]+\.md", str(config["nav"])))
    pages = {path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md")}
    assert not sorted(pages - in_nav), "pages missing from mkdocs.yml's nav"
    assert not sorted(in_nav - pages), "pages in mkdocs.yml's nav that do not exist"


def _capture_script() -> ModuleType:
    pytest.importorskip("rich")
    spec = importlib.util.spec_from_file_location("capture_terminal", DOCS / "assets" / "capture_terminal.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_terminal_capture_becomes_an_offline_svg() -> None:
    svg = _capture_script().ansi_to_svg(
        "$ trainscope train\n\x1b[31mEpoch 1/3\x1b[0m (Training): 100%|██| 4/4\n\n\n", title="demo"
    )
    assert svg.startswith("<svg")
    assert "Epoch&#160;1/3" in svg
    assert "(Training):&#160;100%|██|&#160;4/4" in svg
    assert "fill: #" in svg  # the red survives as a style
    assert not [url for url in _CSS_URL.findall(svg) if not url.startswith("#")]
    assert "https://" not in svg


def test_terminal_picture_is_on_the_home_page(site: Site) -> None:
    images = {value for tag, _, value in site.pages["index.html"].links if tag == "img"}
    assert "assets/demo-terminal.svg" in images
    svg = (site.root / "assets" / "demo-terminal.svg").read_text(encoding="utf-8")
    assert not (DOCS / "assets" / "demo-terminal.svg").exists()  # made by each build, never stale
    # a real run of the current code: what today's architecture printer and summary print
    for line in ("Total&#160;mult-adds&#160;(M):", "Epoch&#160;3/3&#160;Summary:", "Throughput&#160;-&#160;"):
        assert line in svg
    assert not [url for url in _CSS_URL.findall(svg) if not url.startswith("#")]


def test_reference_pages_render_the_package_docstring(site: Site) -> None:
    text = site.pages["reference/trainscope.html"].text
    assert "see what a training run is doing while it runs" in text
