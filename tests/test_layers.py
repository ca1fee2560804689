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

#: layer rank of each module or folder (lower may not import higher); the longest matching
#: prefix decides, so ``numeric.compile`` ranks below the rest of ``numeric``. Modules not
#: listed (added by later issues) are checked only for the symbolic and lambdify rules.
RANK = {
    "errors": 0, "numeric.validate": 0, "numeric.progress": 0, "numeric.files": 0,
    "symbolic": 1,
    "numeric.compile": 2,
    "numeric": 3,
    "model": 4, "equal": 4, "strategies": 4, "general": 4, "kmix": 4, "multivariate": 4,
    "precise": 4, "certified": 4,
    "dynamics": 5, "methods": 5, "training": 5,
    "claims": 6,
    "runners": 7,
    "cli": 8,
}


def _rank(parts: tuple[str, ...]) -> int | None:
    """Rank of the module ``symforget.<parts>`` (longest listed prefix), None if unlisted."""
    for n in range(len(parts), 0, -1):
        key = ".".join(parts[:n])
        if key in RANK:
            return RANK[key]
    return None


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
    mine = _rank(parts)
    out = []
    for n in names:
        target = n.split(".")
        if target[0] != "symforget" or len(target) < 2:
            continue
        theirs = _rank(tuple(target[1:]))
        if theirs is not None and theirs > mine:
            out.append(n)
    return out


def _top(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if parts[0] == "symforget" and len(parts) > 1 else None


def test_sources_found():
    names = {str(p.relative_to(PKG)) for p in SOURCES}
    assert {"numeric/compile.py", "model.py", "numeric/quadrature.py", "precise.py"} <= names
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
    assert users and set(users) == {"numeric/compile.py"}, users


RANKED = [p for p in SOURCES if _module_parts(p) and _rank(_module_parts(p)) is not None]


@pytest.mark.parametrize("path", RANKED, ids=lambda p: str(p.relative_to(PKG)))
def test_no_import_points_up_the_layers(path):
    assert _upward(_module_parts(path), _imports(path)) == []


def test_layer_checker_can_fail():
    """Synthetic sources: upward imports (relative and absolute) are flagged, others not."""
    here = ("numeric", "compile")
    bad = "from ..model import fkl_grad\nimport symforget.claims\nfrom . import quadrature\n"
    assert _upward(here, _imports_of(bad, here)) == [
        "symforget.model", "symforget.claims", "symforget.numeric.quadrature"]
    inside = "from ..numeric.compile import compile_exprs\nfrom .functions import Sigmoid\n"
    assert _upward(("symbolic", "mixture"), _imports_of(inside, ("symbolic", "mixture"))) == [
        "symforget.numeric.compile"]
    ok = "from .numeric import validate as V\nfrom .numeric.compile import compile_spec\n"
    assert _upward(("model",), _imports_of(ok, ("model",))) == []
    up = "from ..cli import main\n"
    assert _upward(("runners", "sweep"), _imports_of(up, ("runners", "sweep"))) == [
        "symforget.cli"]


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


def _module_graph() -> dict[str, set[str]]:
    """Module → the package modules it imports (module level and inside functions)."""
    modules = {".".join(("symforget", *_module_parts(p))): p for p in SOURCES}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in _imports(path):
            while imported and imported not in modules:  # `from pkg.mod import func` → pkg.mod
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                targets.add(imported)
        graph[name] = targets
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for u in graph.get(v, ()):
            if u not in index:
                visit(u)
                low[v] = min(low[v], low[u])
            elif u in on:
                low[v] = min(low[v], index[u])
        if low[v] == index[v]:
            comp = []
            while True:
                u = stack.pop()
                on.discard(u)
                comp.append(u)
                if u == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    """No two modules import each other, directly or around a loop (function-local imports
    count: they are a cycle deferred, not removed). Package ``__init__`` re-exports are part of
    the graph too."""
    assert _cycles(_module_graph()) == []


def test_cycle_finder_can_fail():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
