"""Every package has an API reference page, and every public name an entry in it."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from trainscope import hookspecs

from .conftest import ROOT, Site

REFERENCE = ROOT / "docs" / "reference"


def _source_dirs() -> list[Path]:
    """Every import package of the repository: ``packages/*/src/*`` and ``plugins/*/src/*``."""
    found = [*ROOT.glob("packages/*/src/*/__init__.py"), *ROOT.glob("plugins/*/src/*/__init__.py")]
    return sorted(path.parent for path in found)


def _exports(package: Path) -> list[str]:
    """The names in the package's ``__all__``, read from its ``__init__.py`` without importing it."""
    init = package / "__init__.py"
    names: list[str] = []
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets
        ):
            names = list(ast.literal_eval(node.value))
        elif isinstance(node, ast.AugAssign) and getattr(node.target, "id", None) == "__all__":
            names += list(ast.literal_eval(node.value))
    if not names:
        raise AssertionError(f"{init.relative_to(ROOT)} has no literal `__all__`: list public names there")
    return names


PACKAGES = {path.name: path for path in _source_dirs()}
PUBLIC_NAMES = [(package, name) for package, path in PACKAGES.items() for name in _exports(path)]


def _mkdocs_config() -> dict[str, object]:
    yaml = pytest.importorskip("yaml")
    config: dict[str, object] = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    return config


def _nav_files(nav: object) -> list[str]:
    """Every page file named in a mkdocs ``nav``, in order."""
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [file for item in nav for file in _nav_files(item)]
    if isinstance(nav, dict):
        return [file for value in nav.values() for file in _nav_files(value)]
    return []


def test_packages_are_found() -> None:
    assert {"trainscope", "trainscope_jax", "trainscope_tqdm", "trainscope_jsonl"} <= set(PACKAGES)


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_package_has_a_reference_page(package: str) -> None:
    page = REFERENCE / f"{package}.md"
    assert page.is_file(), f"no API reference page for `{package}`: add docs/reference/{package}.md"
    assert re.search(rf"^::: {package}$", page.read_text(encoding="utf-8"), re.MULTILINE), (
        f"docs/reference/{package}.md does not render `::: {package}`"
    )


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_reference_page_is_in_the_nav(package: str) -> None:
    assert f"reference/{package}.md" in _nav_files(_mkdocs_config()["nav"]), (
        f"add `reference/{package}.md` to the Reference section of mkdocs.yml's nav"
    )


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_source_folder_is_a_handler_path(package: str) -> None:
    plugins = _mkdocs_config()["plugins"]
    assert isinstance(plugins, list)
    configs = [item["mkdocstrings"] for item in plugins if isinstance(item, dict) and "mkdocstrings" in item]
    assert configs, "mkdocs.yml: the mkdocstrings plugin is not configured"
    handlers = configs[0]["handlers"]
    paths = handlers["python"]["paths"]
    source = PACKAGES[package].parent.relative_to(ROOT).as_posix()
    assert source in paths, f"add `{source}` to the python handler's paths in mkdocs.yml"


@pytest.mark.parametrize(("package", "name"), PUBLIC_NAMES, ids=[f"{p}.{n}" for p, n in PUBLIC_NAMES])
def test_public_name_has_a_reference_entry(site: Site, package: str, name: str) -> None:
    page = site.pages[f"reference/{package}.html"]
    assert f"{package}.{name}" in page.ids, (
        f"`{package}.{name}` is in `__all__` but has no entry in docs/reference/{package}.md"
    )


def test_signatures_show_their_types(site: Site) -> None:
    text = re.sub(r"\s+", " ", site.pages["reference/trainscope.html"].text)
    assert "model_name: str" in text
    assert "refresh_interval: float = 0.1" in text


def _hook_argument_types() -> list[str]:
    """The ``trainscope`` types the hooks receive, from the hook specs' annotations."""
    import trainscope

    names = {
        word
        for hook in hookspecs.HOOK_NAMES
        for parameter in inspect.signature(getattr(hookspecs, hook)).parameters.values()
        for word in re.findall(r"\w+", str(parameter.annotation))
    }
    return sorted(names & set(trainscope.__all__))


def test_hook_types_are_the_expected_ones() -> None:
    assert {"RunInfo", "PhaseInfo", "StepRecords", "EpochSummary"} <= set(_hook_argument_types())


@pytest.mark.parametrize("name", _hook_argument_types())
def test_hooks_page_links_each_argument_type_to_the_reference(site: Site, name: str) -> None:
    links = {value for tag, attribute, value in site.pages["hooks.html"].links if tag == "a"}
    assert f"reference/trainscope.html#trainscope.{name}" in links, (
        f"docs/hooks.md: link `{name}` to the reference with [`{name}`][trainscope.{name}]"
    )


def test_the_core_page_opens_with_the_session_and_shows_no_implementation(site: Site) -> None:
    page = site.pages["reference/trainscope.html"]
    entries = re.findall(r'id="trainscope\.(\w+)"', page.path.read_text(encoding="utf-8"))
    assert entries[0] == "TrainingSession"
    assert entries.index("PEAK_TFLOPS") > entries.index("TrainingSession")
    assert "trainscope.TrainingSession.__enter__" not in page.ids
    assert "uuid.uuid4" not in page.text  # attributes by type and docstring, not their code
