r"""Claims of §1: Gaussian closed forms (``gauss.*``)."""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np
import sympy as sp
from scipy import integrate

from ..numeric.compile import compile_exprs
from ..symbolic import gauss as G
from ..symbolic.symbols import delta
from . import register
from .base import Checks, Claim, Context, Evidence


def _mp_integrals(d: float, dps: int) -> tuple[dict[str, mpmath.mpf], dict[str, mpmath.mpf]]:
    """The four integrals at separation d by mpmath quadrature (σ = 1, a = 0, b = d)."""
    with mpmath.workdps(dps):
        d = mpmath.mpf(d)
        phi = lambda x, m: mpmath.npdf(x, m, 1)  # noqa: E731
        pts = [mpmath.ninf, min(0, d) - 1, 0, d / 2, d, max(0, d) + 1, mpmath.inf]
        vals, errs = {}, {}
        vals["bc"], errs["bc"] = mpmath.quad(lambda x: mpmath.sqrt(phi(x, 0) * phi(x, d)), pts,
                                             error=True)
        vals["kl"], errs["kl"] = mpmath.quad(
            lambda x: phi(x, 0) * (-(x**2) / 2 + (x - d) ** 2 / 2), pts, error=True)
        # χ² = ∫ φa²/φb − 1: the integrand is a Gaussian centred at −d (times e^{d²}).
        pts_chi = [mpmath.ninf, -d - 1, -d, -d + 1, mpmath.inf]
        raw, errs["chi2"] = mpmath.quad(lambda x: phi(x, 0) ** 2 / phi(x, d), pts_chi, error=True)
        vals["chi2"] = raw - 1
        vals["hellinger2"], errs["hellinger2"] = mpmath.quad(
            lambda x: (mpmath.sqrt(phi(x, 0)) - mpmath.sqrt(phi(x, d))) ** 2 / 2, pts, error=True)
    return vals, errs


def _bc_direct_2d(mean_a: np.ndarray, mean_b: np.ndarray, cov: np.ndarray) -> float:
    """∫∫ √(φ_a φ_b) in the original (non-whitened) coordinates by scipy dblquad."""
    inv = np.linalg.inv(cov)
    norm = 1.0 / (2 * np.pi * np.sqrt(np.linalg.det(cov)))

    def f(x2: float, x1: float) -> float:
        v = np.array([x1, x2])
        qa = (v - mean_a) @ inv @ (v - mean_a)
        qb = (v - mean_b) @ inv @ (v - mean_b)
        return norm * np.exp(-(qa + qb) / 4)

    lo = np.minimum(mean_a, mean_b) - 12 * np.sqrt(np.diag(cov))
    hi = np.maximum(mean_a, mean_b) + 12 * np.sqrt(np.diag(cov))
    val, _ = integrate.dblquad(f, lo[0], hi[0], lo[1], hi[1], epsabs=1e-13, epsrel=1e-11)
    return float(val)


def check_closed_forms(ctx: Context, stated: dict[str, sp.Expr] | None = None,
                       **_: Any) -> Evidence:
    """Symbolic: SymPy's integrals equal the stated forms. Numeric: mpmath quadrature of each
    integral (an independent route) matches at several Δ; BC in d = 2, 3 by direct quadrature /
    Monte Carlo with a non-diagonal covariance matches e^{−Δ²/8} with Mahalanobis Δ."""
    forms = dict(G.STATED)
    if stated:
        forms.update(stated)
    chk = Checks()
    derived = G.closed_forms()
    for name in G.CLOSED_FORM_NAMES:
        diff = sp.simplify(derived[name] - forms[name])
        chk.true(f"symbolic_{name}", diff == 0, f"SymPy integral {derived[name]} vs {forms[name]}")
    ladder = [0.0, 0.5, 1.5, 3.0, 6.0] + ([10.0, 14.0] if ctx.full else [])
    worst = 0.0
    for d in ladder:
        vals, errs = _mp_integrals(d, ctx.dps)
        for name in G.CLOSED_FORM_NAMES:
            with mpmath.workdps(ctx.dps):
                expected = sp.N(forms[name].subs(delta, d), ctx.dps)
                ref = mpmath.mpf(str(expected))
                err = abs(vals[name] - ref)
                scale = max(abs(ref), mpmath.mpf(1e-30))
                rel = float(err / scale)
                # the quadrature's own error estimate, relative to the integral it estimates
                # (for χ² that is ∫φa²/φb = χ² + 1, not χ² itself)
                quad_scale = abs(ref) + (1 if name == "chi2" else 0)
                if errs[name] > max(quad_scale, 1e-30) * mpmath.mpf(10) ** (-ctx.dps // 2):
                    chk.true(f"quad_error_{name}_{d}", False, f"mpmath error estimate {errs[name]}")
            worst = max(worst, rel)
    chk.le("max_rel_err_numeric", worst, 1e-12, f"Δ ladder {ladder}, {ctx.dps} digits")
    # d-D: non-diagonal covariance, direct quadrature in 2-D, Monte Carlo in 3-D.
    bc_fn = compile_exprs(forms["bc"], (delta,))
    cov2 = np.array([[1.3, 0.6], [0.6, 0.8]])
    a2, b2 = np.array([0.2, -0.4]), np.array([1.1, 0.9])
    d2 = float(np.sqrt((a2 - b2) @ np.linalg.solve(cov2, a2 - b2)))
    direct = _bc_direct_2d(a2, b2, cov2)
    chk.close("bc_2d_direct", direct, float(bc_fn(d2)), rtol=1e-8)
    rng = ctx.rng(11)
    cov3 = np.array([[1.0, 0.3, -0.2], [0.3, 2.0, 0.5], [-0.2, 0.5, 1.5]])
    a3, b3 = np.zeros(3), np.array([1.0, -0.5, 2.0])
    inv3 = np.linalg.inv(cov3)
    n = ctx.n(200_000, 2_000_000)
    xs = rng.multivariate_normal(a3, cov3, size=n)
    # BC = E_a[√(φ_b/φ_a)]: Monte Carlo with a 5-σ confidence band.
    qa = np.einsum("ni,ij,nj->n", xs - a3, inv3, xs - a3)
    qb = np.einsum("ni,ij,nj->n", xs - b3, inv3, xs - b3)
    ratio = np.exp((qa - qb) / 4)
    est, se = float(ratio.mean()), float(ratio.std(ddof=1) / np.sqrt(n))
    d3 = float(np.sqrt((a3 - b3) @ inv3 @ (a3 - b3)))
    chk.close("bc_3d_monte_carlo", est, float(bc_fn(d3)), rtol=0.0, atol=5 * se,
              detail=f"n={n}, 5σ band ±{5 * se:.2g}")
    chk.metric("delta_2d", d2)
    chk.metric("delta_3d", d3)
    return chk.evidence(f"4 integrals = closed forms (SymPy); numeric max rel err {worst:.1e}; "
                        f"d=2,3 BC ok")


register(Claim(
    id="gauss.closed_forms",
    statement="Equal-covariance Gaussians: BC = e^{-Δ²/8}, KL = Δ²/2, χ² = e^{Δ²} − 1, "
              "H² = 1 − BC (SymPy integration; d-D by whitening)",
    check=check_closed_forms,
    derivations=lambda: [*G.closed_form_derivations().values(), G.whitening_derivation()],
    assumptions=("equal covariance Σ (1-D: σ²)", "Δ is the Mahalanobis separation"),
    mutants={
        "bc_exponent_1/4": {"stated": {"bc": sp.exp(-delta**2 / 4)}},
        "kl_without_half": {"stated": {"kl": delta**2}},
        "chi2_exponent_half": {"stated": {"chi2": sp.exp(delta**2 / 2) - 1}},
        "hellinger_sign": {"stated": {"hellinger2": 1 + sp.exp(-delta**2 / 8)}},
    },
    issue=2,
))
