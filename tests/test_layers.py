"""Import direction of the layers (DESIGN.md "Flow and layers"), checked on the sources.

symbolic (SymPy only) → compile (the only lambdify caller) → evaluate (quadrature, precise,
model, dynamics) → claims → runners/cli. A module may import its own layer or lower ones.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import symforget

PKG = Path(symforget.__file__).parent
SOURCES = sorted(PKG.rglob("*.py"))

#: layer rank of each known top-level module (lower may not import higher); modules not
#: listed (added by later issues) are checked only for the symbolic and lambdify rules
RANK = {
    "errors": 0, "validate": 0, "progress": 0,
    "symbolic": 1,
    "compile": 2,
    "quadrature": 3, "precise": 3, "fastgrad": 3, "frame": 3, "precise_drift": 3,
    "misassign": 3,
    "model": 4, "strategies": 4, "general": 4, "kmix": 4,
    "multivariate": 4,
    "dynamics": 5, "methods": 5,
    "claims": 6,
    "sweep": 7, "cli": 7, "cli_methods": 7, "cli_sweep": 7, "cli_args": 7,
}


def _module_parts(path: Path) -> tuple[str, ...]:
    rel = path.relative_to(PKG).with_suffix("")
    parts = rel.parts
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imports(path: Path) -> list[str]:
    """Absolute dotted names imported by the file at ``path``."""
    return _imports_of(path.read_text(encoding="utf-8"), _module_parts(path),
                       path.name == "__init__.py")


def _imports_of(source: str, parts: tuple[str, ...], is_package: bool = False) -> list[str]:
    """Absolute dotted names imported by ``source`` living at symforget.<parts> (relative
    imports resolved)."""
    tree = ast.parse(source)
    own = ("symforget", *parts)
    package = own if is_package else own[:-1]
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                stem = ".".join(package[: len(package) - node.level + 1])
                if node.module is None:  # from . import a, b → the submodules
                    out.extend(f"{stem}.{alias.name}" for alias in node.names)
                    continue
                mod = f"{stem}.{node.module}"
            else:
                mod = node.module or ""
            out.append(mod)
    return out


def _upward(parts: tuple[str, ...], names: list[str]) -> list[str]:
    """Imports in ``names`` that point to a higher layer than the module ``parts``."""
    mine = RANK[parts[0]]
    return [n for n in names if _top(n) in RANK and RANK[_top(n)] > mine]


def _top(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if parts[0] == "symforget" and len(parts) > 1 else None


def test_sources_found():
    names = {p.name for p in SOURCES}
    assert {"compile.py", "model.py", "quadrature.py", "precise.py"} <= names
    assert len(list((PKG / "symbolic").glob("*.py"))) >= 6


@pytest.mark.parametrize("path", sorted((PKG / "symbolic").glob("*.py")), ids=lambda p: p.name)
def test_symbolic_imports_no_numpy_scipy_or_other_layers(path):
    for name in _imports(path):
        root = name.split(".")[0]
        assert root not in {"numpy", "scipy"}, f"{path.name} imports {name}"
        top = _top(name)
        if top is not None:
            assert top in {"symbolic", "errors"}, f"{path.name} imports another layer: {name}"


def test_lambdify_is_called_only_from_compile():
    users = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            hit = (isinstance(node, ast.Name) and node.id == "lambdify") or (
                isinstance(node, ast.Attribute) and node.attr == "lambdify") or (
                isinstance(node, ast.ImportFrom) and any(a.name == "lambdify" for a in node.names))
            if hit:
                users.append(str(path.relative_to(PKG)))
    assert users and set(users) == {"compile.py"}, users


RANKED = [p for p in SOURCES if _module_parts(p) and _module_parts(p)[0] in RANK]


@pytest.mark.parametrize("path", RANKED, ids=lambda p: str(p.relative_to(PKG)))
def test_no_import_points_up_the_layers(path):
    assert _upward(_module_parts(path), _imports(path)) == []


def test_layer_checker_can_fail():
    """Synthetic sources: upward imports (relative and absolute) are flagged, others not."""
    bad = "from .model import fkl_grad\nimport symforget.claims\nfrom . import quadrature\n"
    assert _upward(("compile",), _imports_of(bad, ("compile",))) == [
        "symforget.model", "symforget.claims", "symforget.quadrature"]
    inside = "from ..compile import compile_exprs\nfrom .functions import Sigmoid\n"
    assert _upward(("symbolic", "mixture"), _imports_of(inside, ("symbolic", "mixture"))) == [
        "symforget.compile"]
    ok = "from . import validate as V\nfrom .compile import compile_spec\nimport numpy\n"
    assert _upward(("model",), _imports_of(ok, ("model",))) == []


def test_import_symforget_is_light_and_fast():
    code = (
        "import sys, time\n"
        "t = time.perf_counter()\n"
        "import symforget\n"
        "from symforget import ParameterError, SymforgetError\n"
        "dt = time.perf_counter() - t\n"
        "heavy = sorted(m for m in ('sympy', 'scipy', 'numpy', 'mpmath') if m in sys.modules)\n"
        "print(json.dumps([dt, heavy]))\n"
    )
    out = subprocess.run([sys.executable, "-c", "import json\n" + code], capture_output=True,
                         text=True, check=True, timeout=60)
    dt, heavy = json.loads(out.stdout)
    assert heavy == [], f"import symforget pulled in {heavy}"
    assert dt < 0.5, f"import symforget took {dt:.3f} s"


def test_symbolic_package_runs_without_numpy():
    code = (
        "import sys\n"
        "import symforget.symbolic.mixture, symforget.symbolic.gauss\n"
        "import symforget.symbolic.derivation, symforget.symbolic.expectation\n"
        "print('numpy' in sys.modules, 'scipy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         timeout=60)
    assert out.stdout.split() == ["False", "False"]
