"""The reporters of this repository import from the core only what it declares for them."""

from __future__ import annotations

import ast
from pathlib import Path

import trainscope.plugin_api as plugin_api

ROOT = Path(__file__).parents[2]
REPORTERS = sorted(ROOT.glob("plugins/*/src/*"))


def core_imports(path: Path) -> list[tuple[str, str]]:
    """``(module, name)`` for every import of the core in ``path``."""
    found: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "trainscope":
            found += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, "") for alias in node.names if alias.name.split(".")[0] == "trainscope"]
    return found


def test_there_are_six_reporters() -> None:
    assert [path.name for path in REPORTERS] == [
        "trainscope_arch",
        "trainscope_jsonl",
        "trainscope_mlflow",
        "trainscope_summary",
        "trainscope_tensorboard",
        "trainscope_tqdm",
    ]


def test_reporters_import_the_core_through_the_plugin_api_only() -> None:
    stray = [
        f"{path.relative_to(ROOT)}: {module} {name}".strip()
        for reporter in REPORTERS
        for path in sorted(reporter.rglob("*.py"))
        for module, name in core_imports(path)
        if module != "trainscope.plugin_api" or name not in plugin_api.__all__
    ]
    assert not stray, "import these through trainscope.plugin_api (or declare them):\n" + "\n".join(stray)


def test_everything_declared_is_there() -> None:
    for name in plugin_api.__all__:
        assert hasattr(plugin_api, name), name
