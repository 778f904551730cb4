"""Sphinx roles in docstrings become links in the API reference, not literal text."""

from __future__ import annotations

import importlib.util
import re
from types import ModuleType

import pytest

from .conftest import ROOT, Site

griffe = pytest.importorskip("griffe", reason="the documentation tools are not installed")


def _extension() -> ModuleType:
    path = ROOT / "docs" / "assets" / "griffe_sphinx_roles.py"
    spec = importlib.util.spec_from_file_location("griffe_sphinx_roles", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _autoref(identifier: str, title: str) -> str:
    return f'<autoref identifier="{identifier}" optional><code>{title}</code></autoref>'


def test_roles_resolve_from_where_the_docstring_is() -> None:
    modules = {
        "trainer.py": "class ModelTrainer:\n    def fit(self) -> None: ...\n",
        "config.py": (
            "from pkg.trainer import ModelTrainer\n"
            "LIMIT = 3\n"
            "class Config:\n"
            '    """For a :class:`ModelTrainer`, see :meth:`ModelTrainer.fit` and :meth:`~pkg.Other.run`.\n\n'
            '    At most :data:`LIMIT`; :func:`helper()` and :attr:`missing` stay code."""\n'
            "    def check(self) -> None:\n"
            '        """Like :class:`Config`."""\n'
        ),
    }
    extensions = griffe.load_extensions(_extension().SphinxRoles())
    with griffe.temporary_visited_package("pkg", modules, extensions=extensions) as package:
        config = package["config.Config"]
        docstring = config.docstring.value
        method_docstring = config["check"].docstring.value
    assert _autoref("pkg.trainer.ModelTrainer", "ModelTrainer") in docstring
    assert _autoref("pkg.trainer.ModelTrainer.fit", "ModelTrainer.fit") in docstring
    assert _autoref("pkg.Other.run", "run") in docstring
    assert _autoref("pkg.config.LIMIT", "LIMIT") in docstring
    assert _autoref("helper", "helper()") in docstring
    assert _autoref("missing", "missing") in docstring
    assert _autoref("pkg.config.Config", "Config") in method_docstring
    assert ":class:" not in docstring + method_docstring


def test_no_sphinx_role_is_printed_in_the_reference(site: Site) -> None:
    literal = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|data|const|exc|obj):`?\w")
    printed = [
        f"{name}: …{page.text[max(0, match.start() - 40) : match.end() + 40]}…"
        for name, page in site.pages.items()
        if name.startswith("reference/")
        for match in literal.finditer(page.text)
    ]
    assert not printed, "\n".join(printed)
