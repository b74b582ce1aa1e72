"""The layers of the code base and how they install (README "Repository layout").

mfpde (the solvers, folder ``mfpde/``) < mfpde.particles (``particles/``) < mfpde.verification
(``verification/``) < mfpde.cli (``cli/``, the one piece that knows every kind of run): a layer
imports only the layers below it. The folders install inside the ``mfpde`` namespace, never as
the top-level modules ``particles`` (PyPI's sequential Monte Carlo library), ``verification`` or
``cli``; a venv with PyPI's ``particles`` keeps it importable and working after mfpde is added.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Folder → its installed name, in the order of the layers (each may import those before it).
LAYERS = {
    "mfpde": "mfpde",
    "particles": "mfpde.particles",
    "verification": "mfpde.verification",
    "cli": "mfpde.cli",
}


def _imports(path: Path) -> set[str]:
    """Every module named by an import statement of the file (absolute imports only)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _layer_of(module: str) -> int | None:
    """The index in :data:`LAYERS` of an mfpde module's layer (the longest matching prefix)."""
    best = None
    for k, name in enumerate(LAYERS.values()):
        if module == name or module.startswith(name + "."):
            best = k
    return best


@pytest.mark.parametrize("folder", list(LAYERS))
def test_a_layer_imports_only_the_layers_below(folder):
    own = list(LAYERS).index(folder)
    for path in sorted((ROOT / folder).rglob("*.py")):
        for module in _imports(path):
            top = module.split(".")[0]
            assert top not in ("particles", "verification", "cli"), f"{path}: imports {module}"
            layer = _layer_of(module)
            assert layer is None or layer <= own, f"{path} ({folder}) imports {module}"


def test_import_mfpde_loads_neither_particles_nor_verification():
    code = (
        "import sys, mfpde, mfpde.fem, mfpde.games\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('particles', 'verification', 'cli')"
        " or m.startswith(('mfpde.particles', 'mfpde.verification', 'mfpde.cli'))]\n"
        "assert not bad, bad\n"
        "import mfpde.cli, mfpde.verification.studies, mfpde.particles.config\n"
        "assert 'particles' not in sys.modules and 'verification' not in sys.modules\n"
    )
    # -I: no current directory on sys.path, so the repository's folders cannot be imported by
    # their folder names; only what is installed is seen.
    subprocess.run([sys.executable, "-I", "-c", code], cwd="/", check=True)


def _wheel(tmp_path: Path) -> Path:
    """Build mfpde's wheel from a copy of the tracked files (setuptools writes build/ there)."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    source = tmp_path / "source"
    for name in files:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
        + ["-w", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
    )
    return next(tmp_path.glob("mfpde-*.whl"))


@pytest.mark.slow
def test_pip_install_keeps_pypi_particles_importable_and_working(tmp_path):
    """A fresh venv with PyPI's ``particles`` (and its numpy < 2), then mfpde's wheel.

    The wheel has only ``mfpde/`` at top level; after installing it ``import particles`` is
    still PyPI's and runs a bootstrap filter, and ``mfpde.particles`` is ours. (The two
    packages' numpy pins differ, so mfpde goes in with ``--no-deps``: this checks names, not
    the dependency solver.)
    """
    wheel = _wheel(tmp_path / "wheel")
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"mfpde"}
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["particles==0.4"], check=True, capture_output=True)
    subprocess.run(pip + ["--no-deps", str(wheel)], check=True, capture_output=True)
    code = (
        "import particles\n"
        "import particles.state_space_models as ssm\n"
        "model = ssm.StochVol(); x, y = model.simulate(30)\n"
        "smc = particles.SMC(fk=ssm.Bootstrap(ssm=model, data=y), N=200)\n"
        "smc.run()\n"
        "import math; assert math.isfinite(smc.logLt)\n"
        "assert 'site-packages/particles/' in particles.__file__, particles.__file__\n"
        "from importlib.metadata import files\n"
        "ours = {str(f).split('/')[0] for f in files('mfpde')} - {'..'}  # ..: bin/mfpde\n"
        "assert {t for t in ours if not t.endswith('.dist-info')} == {'mfpde'}, ours\n"
        "assert any(str(f) == 'mfpde/particles/__init__.py' for f in files('mfpde'))\n"
    )
    subprocess.run([str(venv / "bin" / "python"), "-I", "-c", code], cwd="/", check=True)


def test_every_package_folder_is_installed():
    """pyproject.toml lists the packages (package-dir maps the folders): none may be missing."""
    import tomllib

    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = set()
    for folder, name in LAYERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((name, *parts)))
    assert found == listed
