"""Closed-form tilts (symforget.symbolic.tilt): derivations check themselves, the closed forms
agree with independent numerical integration, wrong leads are rejected."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp
from scipy import integrate

from symforget.numeric.compile import compile_exprs
from symforget.symbolic import tilt as T
from symforget.symbolic.derivation import Step


def _quad_quadratic(mu, s, m, kap, r0, tau):
    """log Z, mean, var of N(mu, s²) e^{(−κ(x−m)²/2 + r0)/τ} by scipy quad (test's own route)."""
    def f(x, n):
        return x**n * np.exp(-(x - mu) ** 2 / (2 * s * s) + (-kap * (x - m) ** 2 / 2 + r0) / tau) \
            / np.sqrt(2 * np.pi * s * s)
    lo, hi = min(mu, m) - 15 * s, max(mu, m) + 15 * s
    pts = np.linspace(lo, hi, 41)
    z = [integrate.quad(f, lo, hi, args=(n,), points=pts, limit=400, epsabs=0, epsrel=1e-12)[0]
         for n in range(3)]
    mean = z[1] / z[0]
    return np.log(z[0]), mean, z[2] / z[0] - mean**2


@pytest.fixture(scope="module")
def quad_fn():
    return compile_exprs(T.quadratic_tilt().as_tuple(), T.QUAD_ARGS)


def test_quadratic_tilt_matches_quadrature(quad_fn) -> None:
    rng = np.random.default_rng(3)
    worst = 0.0
    for _ in range(25):
        mu, m, r0 = rng.uniform(-3, 3, 3)
        s, kap, tau = rng.uniform(0.3, 2.5, 3)
        got = np.array(quad_fn(mu, s, m, kap, r0, tau), dtype=float)
        ref = np.array(_quad_quadratic(mu, s, m, kap, r0, tau))
        worst = max(worst, float(np.max(np.abs(got - ref) / np.maximum(1, np.abs(ref)))))
    assert worst < 1e-8, worst


def test_quadratic_tilt_mpmath_high_precision() -> None:
    """One point at 40 digits by mpmath (a second quadrature engine)."""
    mu, s, m, kap, r0, tau = (mpmath.mpf("0.3"), mpmath.mpf("0.7"), mpmath.mpf("2.5"),
                              mpmath.mpf("1.3"), mpmath.mpf("-0.4"), mpmath.mpf("0.6"))
    with mpmath.workdps(40):
        def f(x, n):
            return x**n * mpmath.npdf(x, mu, s) * mpmath.exp((-kap * (x - m) ** 2 / 2 + r0) / tau)
        pts = [mpmath.ninf, mu, m, mpmath.inf]
        z = [mpmath.quad(lambda x, n=n: f(x, n), pts) for n in range(3)]
        ref = [mpmath.log(z[0]), z[1] / z[0], z[2] / z[0] - (z[1] / z[0]) ** 2]
        exprs = T.quadratic_tilt().as_tuple()
        vals = {T.mu: mu, T.s: s, T.m: m, T.kappa: kap, T.r0: r0, T.tau: tau}
        for e, r in zip(exprs, ref, strict=True):
            got = mpmath.mpf(str(sp.N(e.subs(vals), 40)))
            assert abs(got - r) < mpmath.mpf(10) ** -30


def test_linear_tilt_matches_quadrature() -> None:
    fn = compile_exprs(T.linear_tilt().as_tuple(), T.LIN_ARGS)
    def f(x, n, mu, s, k, tau):
        dens = np.exp(-(x - mu) ** 2 / (2 * s * s)) / np.sqrt(2 * np.pi * s * s)
        return x**n * dens * np.exp(k * x / tau)

    for mu, s, k, tau in [(0.2, 1.0, 0.5, 1.0), (-1.0, 0.4, -2.0, 0.7), (2.0, 1.7, 0.3, 3.0)]:
        c = mu + k * s * s / tau  # integration window around the (shifted) mode
        z = [integrate.quad(f, c - 20 * s, c + 20 * s, args=(n, mu, s, k, tau), epsabs=0,
                            epsrel=1e-12)[0] for n in range(3)]
        mean = z[1] / z[0]
        got = np.array(fn(mu, s, k, tau), dtype=float)
        np.testing.assert_allclose(got, [np.log(z[0]), mean, z[2] / z[0] - mean**2], rtol=1e-9)


def test_claims_leads_for_kappa_one() -> None:
    """CLAIMS.md §5 leads, restated here independently of the module (κ = 1, r₀ = 0)."""
    mu, s, m, tau = T.mu, T.s, T.m, T.tau
    q = T.quadratic_tilt()
    sub = {T.kappa: 1, T.r0: 0}
    assert sp.simplify(q.mean.subs(sub) - (mu / s**2 + m / tau) / (1 / s**2 + 1 / tau)) == 0
    assert sp.simplify(q.var.subs(sub) - 1 / (1 / s**2 + 1 / tau)) == 0
    lead = sp.sqrt(tau / (tau + s**2)) * sp.exp(-(mu - m) ** 2 / (2 * (tau + s**2)))
    assert sp.simplify(sp.exp(q.log_factor.subs(sub)) - lead) == 0


def test_wrong_lead_step_is_rejected() -> None:
    q = T.quadratic_tilt()
    sub = {T.kappa: 1, T.r0: 0}
    wrong = sp.sqrt(T.tau / (T.tau + T.s**2)) * sp.exp(-(T.mu - T.m) ** 2 / (2 * T.tau))
    res = Step(sp.exp(q.log_factor.subs(sub)), wrong, "lead", "wrong", numeric_only=True).check()
    assert not res.ok and res.method == "numeric-50"


@pytest.mark.parametrize("name", ["odds", "composition", "blend", "window", "interpolation",
                                  "odds_limit"])
def test_fast_derivations_check(name: str) -> None:
    d = {"odds": T.odds_derivation, "composition": T.composition_derivation,
         "blend": T.blend_derivation, "window": T.window_derivation,
         "interpolation": T.interpolation_derivation,
         "odds_limit": T.odds_limit_derivation}[name]()
    results = d.check()
    assert results and all(c.ok for c in results), [c.detail for c in results]


def test_integration_derivations_check_and_raw_results_agree() -> None:
    """The SymPy integration route (slow once, ~20 s): every step checks, and the raw
    integration results equal the tidy closed forms at random points."""
    for d in T.tilt_derivations().values():
        results = d.check()
        bad = [(s.rule, c.detail) for s, c in zip(d.steps, results, strict=True) if not c.ok]
        assert not bad, bad
        assert sum(s.kind == "cas" for s in d.steps) == 3  # the three SymPy integrals
    for raw, tidy, args in ((T.quadratic_tilt(derived=True), T.quadratic_tilt(), T.QUAD_ARGS),
                            (T.linear_tilt(derived=True), T.linear_tilt(), T.LIN_ARGS)):
        f_raw = compile_exprs(raw.as_tuple(), args)
        f_tidy = compile_exprs(tidy.as_tuple(), args)
        rng = np.random.default_rng(5)
        for _ in range(10):
            vals = [rng.uniform(0.3, 2.0) if a.is_positive else rng.uniform(-2, 2) for a in args]
            np.testing.assert_allclose(np.array(f_raw(*vals), float),
                                       np.array(f_tidy(*vals), float), rtol=1e-10, atol=1e-12)


def test_composition_numerically() -> None:
    """k tilts at τ = one tilt at τ/k (numbers, not SymPy)."""
    f = compile_exprs(T.quadratic_tilt().as_tuple(), T.QUAD_ARGS)
    mu, s, m, kap, r0, tau = 0.4, 1.2, 3.0, 0.8, -0.3, 1.7
    lz_total, cur_mu, cur_s = 0.0, mu, s
    for _ in range(5):
        lz, cur_mu, var = (float(v) for v in f(cur_mu, cur_s, m, kap, r0, tau))
        lz_total += lz
        cur_s = np.sqrt(var)
    lz1, mu1, var1 = (float(v) for v in f(mu, s, m, kap, r0, tau / 5))
    np.testing.assert_allclose([lz_total, cur_mu, cur_s**2], [lz1, mu1, var1], rtol=1e-12)


def test_geometric_interpolation_numerically() -> None:
    """Integrate the geometric mean of two weighted Gaussians by quadrature."""
    f = compile_exprs(T.geometric_interpolation().as_tuple(), T.INTERP_ARGS)
    la, ma, sa, lb, mb, sb, eta = -0.3, 0.5, 0.9, -1.2, 2.0, 0.6, 0.35

    def g(x, n):
        pa = np.exp(la - (x - ma) ** 2 / (2 * sa**2)) / np.sqrt(2 * np.pi * sa**2)
        pb = np.exp(lb - (x - mb) ** 2 / (2 * sb**2)) / np.sqrt(2 * np.pi * sb**2)
        return x**n * pa ** (1 - eta) * pb**eta
    z = [integrate.quad(g, -15, 15, args=(n,), epsabs=0, epsrel=1e-12)[0] for n in range(3)]
    mean = z[1] / z[0]
    np.testing.assert_allclose(np.array(f(la, ma, sa, lb, mb, sb, eta), float),
                               [np.log(z[0]), mean, z[2] / z[0] - mean**2], rtol=1e-10)
