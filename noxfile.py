"""CI sessions: tests (oldest and newest jax), lint, typecheck, wheels, docs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import nox

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["tests", "lint", "typecheck", "wheels", "docs"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).parent
PACKAGES = sorted(path.parent for path in ROOT.glob("packages/*/pyproject.toml")) + sorted(
    path.parent for path in ROOT.glob("plugins/*/pyproject.toml")
)
JAX_VERSIONS = {
    # 0.5.0 is the newest jax that jax-metal 0.1.1 runs with; optax 0.2.6+ needs jax 0.5.3;
    # flax 0.10.5+ needs jax 0.5.1 (equinox 0.13 still supports jax 0.4.38+).
    "0.5.0": ["jax==0.5.0", "jaxlib==0.5.0", "optax<0.2.6", "flax==0.10.4", "equinox>=0.13"],
    "newest": ["jax", "jaxlib", "optax", "flax", "equinox"],
}
TEST_TOOLS = [
    "pytest>=8",
    "numpy>=1.24",
    # the real tools the reporters are tested against: TensorBoard's reader, an MLflow server, matplotlib
    "tensorboard>=2.16",
    "mlflow>=2.10",
    "matplotlib>=3.7",
    "rich>=13",
    # a terminal emulator, to compare what `trainscope watch` draws with what the run drew
    "pyte>=0.8",
]


def _install_workspace(session: nox.Session, *extra: str) -> None:
    """Install every package of the repository editable, plus ``extra`` requirements."""
    editable = [arg for path in PACKAGES for arg in ("-e", str(path))]
    session.install(*editable, *extra)


def _declared_entry_points() -> dict[str, str]:
    """Entry-point name -> distribution, for every package of the repository."""
    found: dict[str, str] = {}
    for path in PACKAGES:
        project = tomllib.loads((path / "pyproject.toml").read_text())["project"]
        for name in project.get("entry-points", {}).get("trainscope", {}):
            found[name] = project["name"]
    return found


@nox.session
@nox.parametrize("jax", list(JAX_VERSIONS))
def tests(session: nox.Session, jax: str) -> None:
    """The test suite against one jax version."""
    _install_workspace(session, *TEST_TOOLS, *JAX_VERSIONS[jax])
    session.run(
        "python",
        "-c",
        "import jax, optax, flax, equinox; print('jax', jax.__version__, 'optax', optax.__version__, "
        "'flax', flax.__version__, 'equinox', equinox.__version__)",
    )
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and format check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy on every package."""
    _install_workspace(session, "mypy>=1.10", *TEST_TOOLS)
    session.run("mypy")


@nox.session
def wheels(session: nox.Session) -> None:
    """Build every wheel, install them outside the checkout, check every entry point is found."""
    session.install("build", "uv")
    dist = Path(tempfile.mkdtemp(prefix="trainscope-wheels-"))
    for path in PACKAGES:
        session.run("python", "-m", "build", "--installer", "uv", "--wheel", "--outdir", str(dist), str(path))
    built = sorted(dist.glob("*.whl"))
    if len(built) != len(PACKAGES):
        session.error(f"expected {len(PACKAGES)} wheels in {dist}, found {[w.name for w in built]}")

    python = _fresh_env(session, built)
    listed = _listed_plugins(session, python)
    for name, distribution in _declared_entry_points().items():
        entry = listed.get(name)
        if entry is None or not entry["enabled"] or entry["distribution"] != distribution:
            session.error(f"entry point {name!r} of {distribution} not found enabled: {entry}")
    session.log(f"every entry point found: {sorted(listed)}")
    session.run(
        str(python),
        "-c",
        "import trainscope_jax as t; "
        "assert 'site-packages' in t.__file__, t.__file__; "
        "train, val = t.load_digits(); print('embedded digits from the wheel:', len(train), len(val))",
        external=True,
    )

    core = next(wheel for wheel in built if wheel.name.startswith("trainscope-"))
    for plugin in (wheel for wheel in built if wheel != core and "jax" not in wheel.name):
        python = _fresh_env(session, [core, plugin])
        alone = _listed_plugins(session, python)
        if [entry["enabled"] for entry in alone.values()] != [True]:
            session.error(f"{plugin.name} installed alone with the core: {alone}")
        (name,) = alone
        _plain_run(session, python, name)
        session.log(f"{plugin.name} works alone, with no configuration: {sorted(alone)}")


WRITERS = ("jsonl", "tensorboard", "mlflow")
"""Reporters that write files: each says where in ``run.artifacts``."""

PLAIN_RUN = """
import json, sys
import trainscope
with trainscope.TrainingSession("Plain", 2, 5, 2) as session:
    for epoch in (1, 2):
        session.start_epoch(epoch)
        for step in range(1, 6):
            session.update_training_progress(step, 1.0 / step, 0.1 * step)
        session.start_validation()
        for step in (1, 2):
            session.update_validation_progress(step, 0.5, 0.75)
        session.print_epoch_summary()
print(json.dumps({"run_id": session.run.run_id, "artifacts": session.run.artifacts}))
"""
"""A short run of the seed API, as a first run after ``pip install`` is."""

MLFLOW_READ_BACK = """
import json, sys
from mlflow import MlflowClient
run_id = json.loads(sys.argv[1])["run_id"]
client = MlflowClient()  # MLflow's default store, as `mlflow ui` in this folder opens it
experiments = [e.experiment_id for e in client.search_experiments()]
(found,) = client.search_runs(experiments, filter_string=f"tags.`trainscope.run_id` = '{run_id}'")
losses = client.get_metric_history(found.info.run_id, "train/loss")
assert found.info.status == "FINISHED", found.info.status
assert sorted(m.step for m in losses) == list(range(1, 11)), losses
print("MLflow's default store has the run:", client.tracking_uri, found.info.run_id)
"""
"""Reads the run back from MLflow's default store with MLflow's own client."""


def _plain_run(session: nox.Session, python: Path, name: str) -> None:
    """A short run in a fresh folder with no trainscope or MLflow variable set: it must pass, print
    nothing foreign, and (for mlflow) land in MLflow's default store."""
    folder = Path(tempfile.mkdtemp(prefix=f"trainscope-plain-{name}-"))
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TRAINSCOPE_", "MLFLOW_"))}
    done = subprocess.run(
        [str(python), "-c", PLAIN_RUN], cwd=folder, env=env, capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        session.error(f"a plain run with only {name} installed failed:\n{done.stdout}{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    foreign = [line for line in done.stderr.splitlines() if " INFO " in line or "WARNING" in line]
    if foreign:
        session.error(f"a plain run with only {name} installed printed foreign lines: {foreign}")
    if name in WRITERS and name not in result["artifacts"]:
        session.error(f"a plain run with only {name} did not say where it wrote: {result['artifacts']}")
    if name == "mlflow":
        read = subprocess.run(
            [str(python), "-c", MLFLOW_READ_BACK, json.dumps(result)],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
        )
        if read.returncode != 0:
            session.error(f"the plain run is not in MLflow's default store:\n{read.stdout}{read.stderr}")
        session.log(read.stdout.strip())


def _fresh_env(session: nox.Session, wheels: list[Path]) -> Path:
    """A new virtual environment outside the checkout with ``wheels`` installed; its python."""
    env = Path(tempfile.mkdtemp(prefix="trainscope-env-")) / "venv"
    session.run("uv", "venv", "--quiet", "--python", sys.executable, str(env))
    python = env / "bin" / "python"
    session.run("uv", "pip", "install", "--quiet", "--python", str(python), *map(str, wheels))
    return python


def _listed_plugins(session: nox.Session, python: Path) -> dict[str, dict[str, Any]]:
    """``trainscope plugins --json``, run from outside the checkout, by plugin name."""
    session.chdir(python.parents[2])
    output = session.run(str(python.parent / "trainscope"), "plugins", "--json", silent=True, external=True)
    session.chdir(ROOT)
    return {entry["name"]: entry for entry in json.loads(str(output or "[]"))}


@nox.session
def docs(session: nox.Session) -> None:
    """Strict documentation build, then tests/docs: offline site, full API reference, links."""
    site_tools = ["mkdocs>=1.6", "mkdocs-material>=9.5", "mkdocstrings[python]>=0.26", "ruff>=0.6"]
    # The reference is read from the sources; the home page's terminal picture is a real run of
    # `trainscope train`, so the workspace and JAX are installed. ruff formats the signatures,
    # rich draws the picture.
    _install_workspace(session, *site_tools, "rich", "pytest>=8", *JAX_VERSIONS["newest"])
    site = Path(tempfile.mkdtemp()) / "site"
    session.run("mkdocs", "build", "--strict", "--site-dir", str(site), env={"NO_MKDOCS_2_WARNING": "1"})
    session.run("pytest", "tests/docs", *session.posargs)
