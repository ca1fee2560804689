"""The documentation: doctests of the public modules, and (slow) the Sphinx site builds.

The ``Examples`` sections of the public evaluators are run here as doctests, so the examples a
reader copies from the API reference (docs/api) cannot go stale; their expected outputs were
checked independently (closed forms, or QUADPACK/mpmath integrals of the definitions, as each
example says). The site build (``sphinx-build -W``, warnings are errors, the tutorial executed)
needs the ``docs`` extra and is marked slow.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: modules whose docstring examples are doctested (the public modules documented in docs/api
#: whose examples this suite owns)
DOCTEST_MODULES = (
    "symforget.errors",
    "symforget.model",
    "symforget.precise",
    "symforget.kmix",
    "symforget.numeric.misassign",
    "symforget.multivariate",
    "symforget.dynamics",
    "symforget.training.stepping",
    "symforget.training.kstate",
    "symforget.methods",
    "symforget.claims",
    "symforget.claims.base",
    "symforget.strategies",
    "symforget.certified",
    "symforget.certified.values",
    "symforget.certified.prover",
    "symforget.certified.check",
)


@pytest.mark.parametrize("name", DOCTEST_MODULES)
def test_doctests(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             verbose=False, report=True)
    assert result.attempted > 0, f"{name} has no doctest"
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctests of {name} failed"


#: the modules of the API reference (docs/conf.py API_MODULES) whose public names must each
#: carry an Examples section
API_MODULES = ("symforget", "symforget.precise", "symforget.certified", "symforget.kmix",
               "symforget.dynamics", "symforget.methods", "symforget.claims",
               "symforget.strategies")


def test_every_public_callable_has_examples() -> None:
    """Every function and class in the ``__all__`` of a documented module has an ``Examples``
    section (numpydoc), so each page of the API reference shows a doctested use."""
    import inspect

    missing = []
    for name in API_MODULES:
        module = importlib.import_module(name)
        for attr in module.__all__:
            obj = getattr(module, attr)
            if inspect.ismodule(obj) or not callable(obj):
                continue
            if "Examples\n" not in (obj.__doc__ or ""):
                missing.append(f"{name}.{attr}")
    assert not missing, f"no Examples section: {missing}"


def test_main_evaluators_have_examples() -> None:
    """Every main public evaluator carries an ``Examples`` section (rendered by numpydoc)."""
    import symforget as sf
    from symforget import precise

    names = ["bhattacharyya", "kl_gauss", "chi2_gauss", "hellinger2_gauss", "fkl_grad",
             "rkl_grad", "rkl_loss", "fisher", "misassignment", "Mixture", "kl_grad"]
    missing = [n for n in names if "Examples\n" not in (getattr(sf, n).__doc__ or "")]
    missing += [] if "Examples\n" in (precise.misassignment.__doc__ or "") else ["precise"]
    assert not missing, f"no Examples section: {missing}"


def _docs_extra_missing() -> str | None:
    for mod in ("sphinx", "myst_nb", "numpydoc", "pydata_sphinx_theme", "ipykernel"):
        if importlib.util.find_spec(mod) is None:
            return f"the docs extra is not installed ({mod} missing): pip install '.[docs]'"
    return None


@pytest.mark.slow
def test_site_builds(tmp_path: Path) -> None:
    """``sphinx-build -W -b html docs <tmp>``: no warning, the tutorial executes, and the
    generated parts (API pages, derivations, CLI reference, tutorial figures) are there."""
    reason = _docs_extra_missing()
    if reason:
        pytest.skip(reason)
    out = tmp_path / "html"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(ROOT / "docs"), str(out)],
        capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-5000:]
    assert (out / "api" / "generated" / "symforget.rkl_grad.html").is_file()
    assert (out / "api" / "generated" / "symforget.Mixture.html").is_file()
    claims = sorted(p.stem for p in (ROOT / "proofs").glob("*.md"))
    missing = [c for c in claims if not (out / "proofs" / f"{c}.html").is_file()]
    assert not missing, f"derivations missing from the site: {missing}"
    cli = (out / "cli.html").read_text(encoding="utf-8")
    for command in ("symforget verify", "symforget derive", "symforget simulate"):
        assert command in cli
    # every figure of a tutorial is produced by the build (executed cells, none checked in)
    for page, figures in (("paper_in_ten_minutes", 4), ("bring_your_own_setting", 2),
                          ("reproducing_chen2025", 1)):
        html = (out / "tutorials" / f"{page}.html").read_text(encoding="utf-8")
        assert html.count("<img") >= figures, f"the figures of tutorial {page} were not produced"
        source = (ROOT / "docs" / "tutorials" / f"{page}.md").read_text(encoding="utf-8")
        assert "![" not in source and "{image}" not in source and "{figure}" not in source, (
            f"tutorial {page} shows a checked-in image")
    for page in ("install", "model", "evaluators", "methods", "workflows", "precision",
                 "development"):
        assert (out / "guide" / f"{page}.html").is_file(), f"guide page {page} missing"
    shutil.rmtree(out, ignore_errors=True)
