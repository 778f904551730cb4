"""Griffe extension for the API reference: Sphinx cross-reference roles become links.

The docstrings use Sphinx fields (``:param x:``), which mkdocstrings understands, and
Sphinx roles (``:class:`ModelTrainer```, ``:func:`~trainscope_jsonl.read_run```), which
Markdown would print as they are. This turns each role into a link to the object's entry
in the reference, resolved like a Python name from where the docstring is; a name that
has no entry (a private constant, say) is shown as code without a link.

Loaded by ``mkdocs.yml`` (``handlers.python.options.extensions``); the site is built from
the repository root, where that path is relative to.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|data|const|exc|obj|type):`(~?)([\w.]+)(\(\))?`")
"""A Sphinx role: ``:class:`Name```, ``:meth:`~pkg.Class.method```, ``:func:`name()```."""


def resolve(obj: griffe.Object, name: str) -> str:
    """The full path of ``name`` seen from ``obj``'s scope; ``name`` itself when unknown."""
    first, dot, rest = name.partition(".")
    try:
        path = obj.resolve(first)
    except griffe.NameResolutionError:
        return name
    return f"{path}{dot}{rest}"


def replace_roles(text: str, obj: griffe.Object) -> str:
    """``text`` with every Sphinx role replaced by an optional cross-reference.

    mkdocs-autorefs turns ``<autoref optional>`` into a link when the identifier has an
    entry in the site, and into the plain title otherwise, without a warning.
    """

    def link(match: re.Match[str]) -> str:
        short, name, call = match.groups()
        title = (name.rpartition(".")[2] if short else name) + (call or "")
        identifier = html.escape(resolve(obj, name), quote=True)
        return f'<autoref identifier="{identifier}" optional><code>{html.escape(title)}</code></autoref>'

    return ROLE.sub(link, text)


class SphinxRoles(griffe.Extension):
    """Rewrite the Sphinx roles of every docstring of a package once it is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Visit every object the package defines (not what it imports)."""
        pending: list[griffe.Object] = [pkg]
        while pending:
            obj = pending.pop()
            if obj.docstring is not None and ":" in obj.docstring.value:
                obj.docstring.value = replace_roles(obj.docstring.value, obj)
            pending.extend(member for member in obj.members.values() if not member.is_alias)
