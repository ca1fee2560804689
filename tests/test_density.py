"""symforget.symbolic.density: the one definition of a mixture's log-density, checked against
the plain sum of Gaussian densities (independent: scipy.stats), and used by every model."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from scipy import stats

import symforget
from symforget.symbolic import density
from symforget.symbolic.functions import LogSumExp1, Softplus
from symforget.symbolic.symbols import x

RNG = np.random.default_rng(20261204)


def _numeric(expr: sp.Expr, subs: dict) -> float:
    e = expr.subs(subs).replace(Softplus, lambda z: sp.log(1 + sp.exp(z)))
    e = e.replace(LogSumExp1, lambda *z: sp.log(1 + sp.Add(*(sp.exp(v) for v in z))))
    return float(sp.N(e, 30))


@pytest.mark.parametrize("K", [2, 3, 4])
def test_log_mixture_ref_is_the_log_of_the_plain_mixture(K):
    pis = sp.symbols(f"p0:{K}", positive=True)
    comps = tuple((sp.Symbol(f"m{k}", real=True), sp.Symbol(f"s{k}", positive=True))
                  for k in range(K))
    for ref in range(K):
        lw, comp, z = density.log_mixture_ref(pis, comps, ref)
        expr = lw + sp.log(sp.exp(-(x - comp[0]) ** 2 / (2 * comp[1] ** 2))
                           / (comp[1] * sp.sqrt(2 * sp.pi))) + density.lse1(*z)
        for _ in range(3):
            wv = RNG.dirichlet(np.ones(K))
            mv, sv = RNG.uniform(-4, 4, K), RNG.uniform(0.3, 3, K)
            xv = RNG.uniform(-5, 5)
            subs = {x: xv, **dict(zip(pis, wv, strict=True))}
            subs.update({c[0]: m for c, m in zip(comps, mv, strict=True)})
            subs.update({c[1]: s for c, s in zip(comps, sv, strict=True)})
            truth = np.log(sum(wv[k] * stats.norm.pdf(xv, mv[k], sv[k]) for k in range(K)))
            assert _numeric(expr, subs) == pytest.approx(truth, rel=1e-12, abs=1e-12)


def test_log_ratio_ref_of_two_mixtures_and_a_wrong_variant_differs():
    pis, tau = sp.symbols("a b", positive=True)
    f = ((pis, 1 - pis), ((sp.Integer(-1), sp.Integer(1)), (sp.Integer(2), sp.Rational(1, 2))))
    g = ((tau, 1 - tau), ((sp.Integer(0), sp.Integer(2)), (sp.Integer(3), sp.Integer(1))))
    subs = {pis: 0.3, tau: 0.6, x: 0.7}
    truth = np.log((0.3 * stats.norm.pdf(0.7, -1, 1) + 0.7 * stats.norm.pdf(0.7, 2, 0.5))
                   / (0.6 * stats.norm.pdf(0.7, 0, 2) + 0.4 * stats.norm.pdf(0.7, 3, 1)))
    for a in (0, 1):
        for b in (0, 1):
            got = _numeric(density.log_ratio_ref(f, a, g, b), subs)
            assert got == pytest.approx(truth, rel=1e-12)
    # a definition with the scale normaliser dropped is off by log(s_b/s_a)
    wrong = density.log_ratio_ref(f, 1, g, 0) - (sp.log(2) - sp.log(sp.Rational(1, 2)))
    assert abs(_numeric(wrong, subs) - truth) > 1e-3


def test_every_mixture_model_builds_on_the_one_definition():
    pkg = Path(symforget.__file__).parent / "symbolic"
    for name in ("mixture.py", "general.py", "kmix.py"):
        tree = ast.parse((pkg / name).read_text(encoding="utf-8"))
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                    and n.level == 1 and n.module is None for a in n.names}
        assert "density" in imported, name
