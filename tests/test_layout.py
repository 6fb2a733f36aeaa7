"""The package layout: light imports, no module reaching back up, modules of a readable size."""
import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "fieldsolve"


def test_library_use_does_not_load_configs_files_or_plots():
    code = ("import sys, numba; had_yaml = 'yaml' in sys.modules\n"  # numba itself reads a YAML config
            "import fieldsolve as fs\n"
            "fs.deposit, fs.PoissonSolver, fs.make_filter, fs.pm.ParticleMesh, fs.power_spectrum, fs.les\n"
            "bad = [m for m in ('pydantic', 'h5py', 'matplotlib', 'tqdm') if m in sys.modules]\n"
            "bad += ['yaml'] if 'yaml' in sys.modules and not had_yaml else []\n"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", out.stdout


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            yield node


def test_no_module_imports_the_package_root():
    """``from . import x`` / ``from .. import x`` must name submodules, never a name that the
    package root re-exports (that closes an import cycle with fieldsolve/__init__.py)."""
    bad = []
    for path in PKG.rglob("*.py"):
        if path.name == "__init__.py" and path.parent == PKG:
            continue
        depth = len(path.relative_to(PKG).parts) - 1  # 0 for fieldsolve/x.py
        for node in _imports(path):
            if node.module is None and node.level == depth + 1:  # from <package root> import ...
                for alias in node.names:
                    if not ((PKG / f"{alias.name}.py").exists() or (PKG / alias.name).is_dir()):
                        bad.append(f"{path.relative_to(PKG)}: from {'.' * node.level} import {alias.name}")
    assert not bad, bad


def test_modules_stay_readable():
    """No module beyond about 500 lines (one concept per module)."""
    long = {str(p.relative_to(PKG)): n for p in PKG.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 520}
    assert not long, long


def test_moved_modules_answer_under_their_old_names_with_a_warning():
    """``fieldsolve.green``, ``.windows`` and ``.runner`` (before the kernels restructure) are
    the modules they moved to, with a DeprecationWarning naming the new place."""
    import importlib

    import pytest

    import fieldsolve

    for old, new in (("green", "kernels"), ("windows", "kernels.windows"), ("runner", "runs")):
        with pytest.warns(DeprecationWarning, match=f"fieldsolve.{old} moved to fieldsolve.{new}"):
            module = getattr(fieldsolve, old)
        assert module is importlib.import_module(f"fieldsolve.{new}")
