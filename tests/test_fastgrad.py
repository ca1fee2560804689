"""Fast reduced gradients (issue 8): special functions, gradients and derivations.

Every expected value here is *independent* of the evaluator under test:

* the special functions F, G, K against their defining integrals by mpmath (30 digits);
* the gradients against hand-written 30-digit mpmath integrals of the definitions
  (∇KL(q‖p*) = ∫∇q log(q/p*), ∇KL(P‖q) = −∫P ∇q/q — not the reduced form), on seeded
  points of the issue-8 boxes and on edge points; and, cheaply on many points, against the
  kink-aware quadrature route (:mod:`symforget.numeric.quadrature`, a different method on the
  unreduced integrands);
* a mutant reduction (Stein factor dropped) must be caught by the same comparison.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp

from symforget import model
from symforget.errors import SymforgetError
from symforget.numeric import fastgrad as fg
from symforget.numeric.compile import compile_spec
from symforget.numeric.quadrature import expect
from symforget.symbolic import fastgrad as sf
from symforget.symbolic import mixture
from symforget.symbolic.functions import Sigmoid, Softplus
from symforget.symbolic.symbols import FKL_ARGS, RKL_ARGS, t

DPS = 30
TOL = 1e-10


def worst_rel(got: np.ndarray, ref: np.ndarray) -> float:
    """Componentwise relative error, floor 1e-3·‖ref‖∞ per point (components that cancel)."""
    got, ref = np.atleast_2d(got), np.atleast_2d(ref)
    floor = 1e-3 * np.abs(ref).max(axis=-1, keepdims=True)
    return float(np.max(np.abs(got - ref) / np.maximum(np.abs(ref), floor)))


# ------------------------------------------------------------------ independent references


def _mp_special(A: float, B: float) -> tuple[mpmath.mpf, ...]:
    """F, G, K by mpmath quadrature of the defining integrals, split at the kink."""
    with mpmath.workdps(DPS):
        A_, B_ = mpmath.mpf(A), mpmath.mpf(B)
        pts = {mpmath.mpf(0)}
        if A_ != 0:
            t0 = -B_ / A_
            pts |= {t0 + g / abs(A_) for g in (0, 1, -1, 4, -4, 16, -16) if abs(t0) < 60}
        pts = [mpmath.ninf, *sorted(pts), mpmath.inf]
        phi = lambda t: mpmath.exp(-t * t / 2) / mpmath.sqrt(2 * mpmath.pi)  # noqa: E731

        def sp_(z):
            return z + mpmath.log1p(mpmath.exp(-z)) if z > 0 else mpmath.log1p(mpmath.exp(z))

        def sg(z):
            return 1 / (1 + mpmath.exp(-z))

        return tuple(mpmath.quad(lambda t, f=f: f(A_ * t + B_) * phi(t), pts)
                     for f in (sp_, sg, lambda z: sg(z) * sg(-z)))


def _breaks(means, kinks, sigma):
    """Split points in x: the means, each transition x_t and x_t ± {1, 4}σ²/|slope|."""
    pts = set(means)
    for x_t, width in kinks:
        if abs(x_t) < 200:
            pts |= {x_t + g * width for g in (0, 1, -1, 4, -4)}
    return [mpmath.ninf, *sorted(pts), mpmath.inf]


def _quad_vec(vec, pts, k):
    """∫ vec(x)_i dx for i < k: one memoised evaluation of the vector per node (mpmath's
    tanh-sinh nodes are the same for every component on the same intervals)."""
    memo: dict = {}

    def comp(i):
        def f(x):
            v = memo.get(x)
            if v is None:
                v = memo[x] = vec(x)
            return v[i]
        return f

    return [mpmath.quad(comp(i), pts) for i in range(k)]


def _transition(weight, m1, m2, sigma):
    """x where weight·φ(x; m1) = (1 − weight)·φ(x; m2) and the switch width σ²/|m1 − m2|."""
    if m1 == m2:
        return None
    d = (m1 - m2) / sigma**2
    x_t = (m1 + m2) / 2 - mpmath.log(weight / (1 - weight)) / d
    return x_t, 1 / abs(d)


def _log_mix(x, weight, m1, m2, sigma):
    a = mpmath.log(weight) - (x - m1) ** 2 / (2 * sigma**2)
    b = mpmath.log(1 - weight) - (x - m2) ** 2 / (2 * sigma**2)
    hi = max(a, b)
    return hi + mpmath.log(mpmath.exp(a - hi) + mpmath.exp(b - hi)) - mpmath.log(
        mpmath.sqrt(2 * mpmath.pi) * sigma)


def mp_rkl_grad(w, mo, mn, al, to, tn, sigma=1.0) -> np.ndarray:
    """∫ ∇_θ q · log(q/p*) dx with ∇q = (φo − φn, wφo(x−μo)/σ², (1−w)φn(x−μn)/σ²)."""
    with mpmath.workdps(DPS):
        w, mo, mn, al, to, tn, s = (mpmath.mpf(v) for v in (w, mo, mn, al, to, tn, sigma))
        kinks = [k for k in (_transition(w, mo, mn, s), _transition(al, to, tn, s)) if k]
        pts = _breaks([mo, mn], kinks, s)
        norm = 1 / (mpmath.sqrt(2 * mpmath.pi) * s)

        def h(x):
            return _log_mix(x, w, mo, mn, s) - _log_mix(x, al, to, tn, s)

        def po(x):
            return norm * mpmath.exp(-(x - mo) ** 2 / (2 * s**2))

        def pn(x):
            return norm * mpmath.exp(-(x - mn) ** 2 / (2 * s**2))

        def vec(x):
            hx, a_, b_ = h(x), po(x), pn(x)
            return ((a_ - b_) * hx, w * a_ * (x - mo) / s**2 * hx,
                    (1 - w) * b_ * (x - mn) / s**2 * hx)

        return np.array([float(v) for v in _quad_vec(vec, pts, 3)])


def mp_fkl_grad(w, mo, mn, md, mr=0.0, rho=0.0, sigma=1.0) -> np.ndarray:
    """−∫ P(x) ∇q/q dx, P = (1−ρ)N(m_d, σ²) + ρN(m_r, σ²), responsibilities in log space."""
    with mpmath.workdps(DPS):
        w, mo, mn, md, mr, rho, s = (mpmath.mpf(v) for v in (w, mo, mn, md, mr, rho, sigma))
        kinks = [k for k in (_transition(w, mo, mn, s),) if k]
        norm = 1 / (mpmath.sqrt(2 * mpmath.pi) * s)
        total = [mpmath.mpf(0)] * 3
        for pi_j, m in ((1 - rho, md), (rho, mr)):
            if pi_j == 0:
                continue
            pts = _breaks([m], kinks, s)

            def r_o(x):
                z = (mpmath.log(w) - (x - mo) ** 2 / (2 * s**2)
                     - mpmath.log(1 - w) + (x - mn) ** 2 / (2 * s**2))
                return 1 / (1 + mpmath.exp(-z))

            def dens(x, m=m):
                return norm * mpmath.exp(-(x - m) ** 2 / (2 * s**2))

            def vec(x, dens=dens, r_o=r_o):
                d, r = dens(x), r_o(x)
                return (d * (r / w - (1 - r) / (1 - w)), d * r * (x - mo) / s**2,
                        d * (1 - r) * (x - mn) / s**2)

            for i, v in enumerate(_quad_vec(vec, pts, 3)):
                total[i] -= pi_j * v
        return np.array([float(v) for v in total])


# ------------------------------------------------------------------ points


def _box(name: str, n: int, seed: int) -> np.ndarray:
    """(n, 8) rows w, μo, μn, α, νo, νn, m_d, σ=1 of issue-8 box A or the separated box B."""
    u = np.random.default_rng(seed).uniform(size=(n, 8))
    if name == "A":
        mo, mn, to, tn, md = (-6 + 12 * u[:, j] for j in (1, 2, 4, 5, 6))
    else:
        c = -3 + 6 * u[:, 1]
        d = (4 + 8 * u[:, 2]) * np.where(u[:, 7] < 0.5, -1, 1)
        mo, mn = c - d / 2, c + d / 2
        to, tn, md = mo - 1 + 2 * u[:, 4], mn - 1 + 2 * u[:, 5], mn - 1.5 + 3 * u[:, 6]
    w, al = 0.05 + 0.9 * u[:, 0], 0.05 + 0.9 * u[:, 3]
    return np.stack([w, mo, mn, al, to, tn, md, np.ones(n)], axis=1)


#: edge points: (w, μo, μn, α, νo, νn, m_d, σ)
EDGES = [
    (1e-6, -1.0, 2.0, 0.3, -0.5, 2.5, 1.0, 1.0),  # w → 0
    (1 - 1e-6, -1.0, 2.0, 0.3, -0.5, 2.5, 1.0, 1.0),  # w → 1
    (0.4, 1.5, 1.5, 0.6, 0.0, 3.0, 2.0, 1.0),  # Δ = 0 (student)
    (0.4, -1.0, 3.0, 0.6, 2.0, 2.0, 0.5, 1.0),  # Δ = 0 (target)
    (0.3, -6.0, 6.0, 0.7, -5.0, 5.5, 5.0, 1.0),  # Δ = 12
    (0.6, 4.0, -2.0, 0.5, 3.0, -1.0, -2.5, 1.0),  # μn < μo
    (0.35, -1.0, 0.8, 0.45, -0.2, 1.7, 0.5, 0.37),  # σ < 1 (Δ ≈ 4.9)
    (0.55, -3.0, 4.0, 0.25, 1.0, 6.0, 2.0, 2.5),  # σ > 1 (Δ = 2.8)
    (0.2, 0.0, 1.0, 0.5, 0.0, 1.0, 0.0, 1.0),  # Δ = 1 (Hermite regime), near a student ≈ target
    (0.5, 0.0, 1.2, 0.5, 0.1, 1.25, 1.0, 1.0),  # near the optimum: small gradient
]

# ------------------------------------------------------------------ special functions


#: (A, B): Δ = 0, both Hermite tiers and their edges, the split regime, far kinks, both signs
SPECIAL_POINTS = [(0.0, 0.3), (0.5, 40.0), (0.70001, -3.0), (1.3, -0.5), (1.30001, -0.5),
                  (-2.5, 3.0), (9.0, -60.0), (-12.0, -1.0)]


@pytest.mark.parametrize("A, B", SPECIAL_POINTS)
def test_special_functions_against_mpmath(A, B):
    got = fg.gauss_specials(np.array([A]), np.array([B]))[:, 0]
    with mpmath.workdps(DPS):
        F, G, K = _mp_special(A, B)
        # softplus(−z) = softplus(z) − z and sigmoid(−z) = 1 − sigmoid(z), in 30 digits
        Fn, Gn = float(F - B), float(1 - G)
    F, G, K = float(F), float(G), float(K)
    assert abs(got[0] - F) <= 2e-14 * max(1.0, abs(B))
    assert abs(got[3] - Fn) <= 2e-14 * max(1.0, abs(B))
    assert abs(got[1] - G) <= 1e-14 and abs(got[4] - Gn) <= 1e-14
    assert abs(got[2] - K) <= 1e-14
    # the check can fail: a value off by 1e-12 is rejected
    assert abs(got[2] + 1e-12 - K) > 1e-14


def test_special_functions_vectorised_equals_pointwise():
    rng = np.random.default_rng(5)
    A, B = rng.uniform(-12, 12, 300), rng.uniform(-80, 80, 300)
    A[::7] = rng.uniform(-1.3, 1.3, A[::7].size)  # mix regimes in one call
    batch = fg.gauss_specials(A, B)
    single = np.stack([fg.gauss_specials(A[i:i + 1], B[i:i + 1])[:, 0] for i in range(0, 300, 37)],
                      axis=1)
    # the batched path uses coarser rules for wider Gaussians (s > 2.2): same to rounding
    np.testing.assert_allclose(batch[:, ::37], single, rtol=1e-12, atol=2e-15)


@pytest.mark.parametrize("A, B", [(2.5, -28.0), (1.7, -30.0), (4.0, 25.0), (0.5, -30.0)])
def test_small_tails_are_relatively_accurate(A, B):
    """G, G(−A,−B), K far in the tail to 1e-13 *relative* (exponential tilting): needed by
    ∂L_F/∂w = (w − E r_o)/(w(1−w)) as w → 0 (claim fkl.mass_forgetting)."""
    for n in (1, 40):  # few-point and batched paths
        got = fg.gauss_specials(np.full(n, A), np.full(n, B))[:, 0]
        with mpmath.workdps(DPS):
            _, G, K = _mp_special(A, B)
            Gn = 1 - G
        small = (got[1], G) if B < 0 else (got[4], Gn)
        assert abs(small[0] / float(small[1]) - 1) <= 1e-13
        assert abs(got[2] / float(K) - 1) <= 1e-13


# ------------------------------------------------------------------ gradients vs mpmath


def _rkl_rows(rows):
    return [(r[0], r[1], r[2], r[3], r[4], r[5], r[7]) for r in rows]


def _fkl_rows(rows):
    return [(r[0], r[1], r[2], r[6], r[6], 0.0, r[7]) for r in rows]


#: quick run: the edge points of the issue (w → 0, 1; Δ = 0; Δ = 12; μn < μo; σ ≠ 1)
QUICK = EDGES[:8]
#: slow run (--run-slow): seeded points of both boxes and the remaining edges
SLOW = [tuple(r) for r in _box("A", 3, 11)] + [tuple(r) for r in _box("B", 3, 12)] + EDGES[8:]


def _refs(points):
    rkl = np.array([mp_rkl_grad(*p) for p in _rkl_rows(points)])
    fkl = np.array([mp_fkl_grad(w, mo, mn, md, sigma=sg) for w, mo, mn, md, _, _, sg
                    in _fkl_rows(points)])
    return rkl, fkl


@pytest.fixture(scope="module")
def mp_quick():
    return _refs(QUICK)


def _check_points(points, refs):
    P = np.array(_rkl_rows(points)).T
    got = model.rkl_grad(P[0], P[1], P[2], alpha=P[3], target_old=P[4], target_new=P[5],
                         sigma=P[6])
    assert worst_rel(got, refs[0]) <= TOL
    # single calls take the scalar path: same accuracy
    for i in range(0, len(points), 3):
        one = model.rkl_grad(*P[:3, i], alpha=P[3, i], target_old=P[4, i], target_new=P[5, i],
                             sigma=P[6, i])
        assert worst_rel(one, refs[0][i]) <= TOL
    P = np.array(_fkl_rows(points)).T
    got = model.fkl_grad(P[0], P[1], P[2], data_mean=P[3], sigma=P[6])
    assert worst_rel(got, refs[1]) <= TOL
    one = model.fkl_grad(*P[:3, 0], data_mean=P[3, 0], sigma=P[6, 0])
    assert worst_rel(one, refs[1][0]) <= TOL


def test_gradients_against_mpmath_at_edges(mp_quick):
    _check_points(QUICK, mp_quick)


@pytest.mark.slow
def test_gradients_against_mpmath_on_boxes():
    _check_points(SLOW, _refs(SLOW))


@pytest.mark.slow
def test_fkl_replay_against_mpmath():
    pts = [(0.3, -2.0, 3.0, 2.5, -1.5, 0.2, 1.0), (0.7, 4.0, -5.0, -4.0, 3.0, 0.9, 0.6),
           (1e-6, 0.0, 8.0, 7.0, 0.5, 0.05, 1.3)]
    P = np.array(pts).T
    got = model.fkl_grad(P[0], P[1], P[2], data_mean=P[3], replay_mean=P[4], replay=P[5],
                         sigma=P[6])
    ref = np.array([mp_fkl_grad(*p) for p in pts])
    assert worst_rel(got, ref) <= TOL


# ------------------------------------------------------------------ many points, second route


@pytest.mark.parametrize("box", ["A", "B"])
def test_gradients_agree_with_quadrature_route(box):
    rows = _box(box, 300, 21 if box == "A" else 22)
    rkl_p = [np.asarray(c) for c in np.array(_rkl_rows(rows)).T]
    quad = expect(compile_spec(mixture.rkl_grad_spec()), rkl_p)
    assert worst_rel(fg.rkl_grad(rkl_p), quad) <= TOL
    fkl_p = [np.asarray(c) for c in np.array(_fkl_rows(rows)).T]
    quad = expect(compile_spec(mixture.fkl_grad_spec()), fkl_p)
    assert worst_rel(fg.fkl_grad(fkl_p), quad) <= TOL


# ------------------------------------------------------------------ mutants


def _mutant_plan(exprs, args):
    """Stein's factor A dropped: E[t f(At+B)] taken as E[f'(At+B)] (every G/K term ÷ A)."""
    def drop(cls):
        return lambda A, B: cls(A, B) / A

    bad = tuple(e.replace(sf.GaussSigmoid, drop(sf.GaussSigmoid))
                .replace(sf.GaussSigmoidVar, drop(sf.GaussSigmoidVar)) for e in exprs)
    return fg.build_plan(bad, args)


#: quick points with Δ ≠ 0 for student and target (the mutant divides by A)
_NONZERO = [0, 1, 4, 5, 6, 7]


def test_mutant_stein_factor_is_rejected(mp_quick):
    pts = [QUICK[i] for i in _NONZERO]
    P = [np.asarray(c) for c in np.array(_rkl_rows(pts)).T]
    good = fg.evaluate_plan(fg.build_plan(sf.rkl_grad_reduced(), RKL_ARGS), P)
    assert worst_rel(good, mp_quick[0][_NONZERO]) <= TOL  # same points, correct reduction
    bad = fg.evaluate_plan(_mutant_plan(sf.rkl_grad_reduced(), RKL_ARGS), P)
    assert worst_rel(bad, mp_quick[0][_NONZERO]) > 1e-3
    P = [np.asarray(c) for c in np.array(_fkl_rows(pts)).T]
    bad = fg.evaluate_plan(_mutant_plan(sf.fkl_grad_reduced(), FKL_ARGS), P)
    assert worst_rel(bad, mp_quick[1][_NONZERO]) > 1e-3


def test_mutant_anchor_sign_is_rejected(mp_quick):
    """A sign error in the re-anchored log-ratio (softplus(−z) ↦ softplus(z)) is caught."""
    exprs = tuple(e.replace(sf.GaussSoftplus, lambda A, B: sf.GaussSoftplus(-A, -B))
                  for e in sf.rkl_grad_reduced())
    P = [np.asarray(c) for c in np.array(_rkl_rows(QUICK)).T]
    bad = fg.evaluate_plan(fg.build_plan(exprs, RKL_ARGS), P)
    assert worst_rel(bad, mp_quick[0]) > 1e-3


# ------------------------------------------------------------------ symbolic reductions


def test_derivations_check():
    for name, der in sf.derivations().items():
        checks = der.check()
        assert all(c.ok for c in checks), (name, [c for c in checks if not c.ok])


def test_gauss_expectation_rules():
    A, B = sp.symbols("A B", real=True)
    assert sf.gauss_expectation(t**2 + 3) == 4
    assert sf.gauss_expectation(t * Softplus(A * t + B)) == A * sf.GaussSigmoid(A, B)
    # Stein twice: E[t² sigmoid] = E[sigmoid] + E[t·∂sigmoid] = G + A²·E[∂(σ − σ²)]
    got = sp.expand(sf.gauss_expectation(t * Sigmoid(A * t + B)))
    assert got == sp.expand(A * sf.GaussSigmoidVar(A, B))
    with pytest.raises(ValueError):
        sf.gauss_expectation(Softplus(A * t**2 + B))


def test_no_silent_nan():
    with pytest.raises(SymforgetError):
        fg.rkl_grad([np.array([np.nan]), 0.0, 1.0, 0.5, 0.0, 1.0, 1.0])


# ------------------------------------------------------------------ the w-entry at small w
# Formerly a known defect (strict xfail in tests/test_known_defects.py): (w − E r_o)/(w(1−w))
# cancels as w → 0 with the data on the new mode (4e-7 relative at w = 1e-10, 1.8e-5 at 1e-12).


def _dw_reference(w, mu_o, mu_n, m, sigma, replay=0.0, m_r=0.0):
    """∂L_F/∂w = −E_P[(φo − φn)/q] by 40-digit quadrature of the definition (no symforget
    code); P = (1−ρ)N(m, σ²) + ρN(m_r, σ²)."""
    with mpmath.workdps(40):
        W, s = mpmath.mpf(w), mpmath.mpf(sigma)

        def f(x):
            po, pn = mpmath.npdf(x, mu_o, s), mpmath.npdf(x, mu_n, s)
            p = (1 - replay) * mpmath.npdf(x, m, s) + replay * mpmath.npdf(x, m_r, s)
            return -(po - pn) / (W * po + (1 - W) * pn) * p

        pts = sorted({mu_o, mu_n, m, m_r, (mu_o + mu_n) / 2})
        pts = [-mpmath.inf, *[mpmath.mpf(v) for v in pts], mpmath.inf]
        return float(mpmath.quad(f, pts))


def test_dw_reference_is_the_chi_square_law():
    """The reference itself: ∂L_F/∂w ≈ χ²·w as w → 0, χ² = e^{Δ²/σ²} − 1 (data on μn)."""
    assert _dw_reference(1e-9, -1.0, 1.0, 1.0, 1.0) == pytest.approx(
        float(mpmath.e**4 - 1) * 1e-9, rel=1e-6)


_SMALL_W_CASES = [  # (μo, μn, m_d, σ, ρ, m_r)
    (-1.0, 1.0, 1.0, 1.0, 0.0, 0.0),  # data on the new mode: the cancelling case
    (0.0, 3.0, 3.0, 0.7, 0.0, 0.0),
    (0.0, 0.1, 0.1, 1.0, 0.0, 0.0),   # small separation
    (-1.0, 1.0, 0.5, 1.0, 0.0, 0.0),  # data between the modes
    (-2.0, 2.0, -1.0, 1.5, 0.0, 0.0),
    (-2.0, 2.0, 2.0, 1.0, 0.1, -2.0),  # replay of the old mode
]


@pytest.mark.parametrize("case", _SMALL_W_CASES)
@pytest.mark.parametrize("w", [1e-12, 1e-10, 1e-8, 1e-4, 0.3])
def test_fkl_w_entry_relative_accuracy_at_small_w(case, w):
    mu_o, mu_n, m, sigma, rho, m_r = case
    got = float(model.fkl_grad(w, mu_o, mu_n, data_mean=m, sigma=sigma, replay=rho,
                               replay_mean=m_r)[0])
    ref = _dw_reference(w, mu_o, mu_n, m, sigma, rho, m_r)
    assert abs(got - ref) <= 1e-12 * abs(ref), (got, ref)


def test_fkl_w_entry_vectorised_equals_pointwise():
    ws = np.array([1e-12, 1e-9, 1e-6, 1e-3, 0.2, 0.7])
    vec = model.fkl_grad(ws, -1.0, 1.0, data_mean=1.0)[:, 0]
    one = np.array([model.fkl_grad(float(w), -1.0, 1.0, data_mean=1.0)[0] for w in ws])
    np.testing.assert_allclose(vec, one, rtol=1e-14, atol=0)


def test_fkl_w_entry_mutant_tilt_is_rejected():
    """The second form with the tilt e^{2A²} taken as e^{A²} (a wrong exponential-tilting
    constant) misses the reference by far more than the bar above."""
    w, mu_o, mu_n, m, s = 1e-10, -1.0, 1.0, 1.0, 1.0
    A, B0 = (mu_o - mu_n) / s, (mu_n - mu_o) * (mu_n + mu_o - 2 * m) / (2 * s * s)
    ell = np.log(w) - np.log1p(-w)
    G = fg.gauss_specials(np.array([A]), np.array([-(ell + B0 + A * A)]), "gk")[1, 0]
    wrong = (-w - np.expm1(B0 + A * A / 2)) / (1 - w) ** 2 + w / (1 - w) ** 3 * np.exp(
        2 * B0 + A * A) * G
    ref = _dw_reference(w, mu_o, mu_n, m, s)
    assert abs(wrong - ref) > 1e-3 * abs(ref)
    right = float(fg.fkl_dw_small(w, mu_o, mu_n, m, s))
    assert abs(right - ref) <= 1e-13 * abs(ref)


def test_fkl_weight_flow_follows_the_chi_square_law_to_tiny_w():
    """With the means on the data the raw w-flow ends in ẇ = −χ²w (χ² = e⁴ − 1): the slope of
    log w over the last steps is −χ² (before the fix the flow stalled near w ≈ 1e-9)."""
    from symforget import dynamics

    traj = dynamics.gradient_flow(dynamics.fkl_objective(1.0), (0.4, -1.0, 1.0), 1.3,
                                  free=(True, False, False))
    w, t_ = traj.theta[:, 0], traj.t
    assert w[-1] < 1e-12
    slope = (np.log(w[-1]) - np.log(w[-3])) / (t_[-1] - t_[-3])
    assert slope == pytest.approx(-float(mpmath.e**4 - 1), rel=1e-3)
