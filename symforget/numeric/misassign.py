r"""Double-precision misassignment probability :math:`m(w,\Delta)` and its logarithm.

.. math:: m(w,\Delta) = \mathbb E_{x\sim\varphi_0}[r_n(x)]
          = \int\varphi(x)\operatorname{sigmoid}(\Delta(x - x_0))\,dx,\qquad
          x_0 = \frac\Delta2 + \frac c\Delta,\ c = \log\frac{w}{1-w}

(σ = 1, μo = 0, μn = Δ; CLAIMS.md §3, claims ``rkl.drift_bc_bound`` and
``rkl.drift_asymptotics``). Every formula is compiled from
:mod:`symforget.symbolic.drift`; only the numerical methods below are written by hand.

Method (regime switching, everything in log space; measured in ``benchmarks/``):

* Δ = 0: :math:`m = 1 - w` exactly.
* 0 < Δ ≤ 1: Gauss–Hermite (20 nodes for Δ ≤ ½, else 40) for
  :math:`\mathbb E_{\varphi_0}[1/(1+e^{z_q(x)})]`: the responsibility is analytic in the strip
  :math:`|\Im x| < \pi/\Delta`, so the rule is at the rounding level for every c.
* Δ > 1: reduce c to the fundamental domain :math:`|c| \le \Delta^2/2` with the exact
  reflection :math:`m(c) = e^{-c}(1 - m(c-\Delta^2))` (never cancels: :math:`m \le \tfrac12`
  there), then either

  - the λ-resummed asymptotic series (16 terms for 20 ≤ Δ < 30, 10 beyond) when
    :math:`\lambda = 2|c|/\Delta^2 \le 0.2` — a polynomial, no special functions; or
  - the s-frame cosh form :math:`m = \frac{\varphi(x_0)}{\Delta}\int e^{-2s(s+c)/\Delta^2}
    \operatorname{sech}s\,ds` by a double-exponential trapezoidal rule
    (:math:`s = A\sinh\tau`, 42–65 nodes chosen by the band of (Δ, λ), sech weights
    precomputed: one exp per node).

Accuracy (tests/test_misassignment.py and tests/test_domain.py, against 30–50-digit mpmath):
relative error of ``m`` ≤ 1e-12 for Δ ∈ [0, 60], w ∈ [1e-9, 1 − 1e-9] (measured ~1e-13 worst,
set by rounding of Δ²/8); relative error of ``log m`` a few ulps for Δ up to 1e150 (its
absolute error therefore grows like 1e-16·Δ²/8: use :func:`log_misassignment_excess` for ratios).
Negative Δ is allowed: :math:`m(w,-\Delta) = m(w,\Delta)` (reflect x → −x).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import sympy as sp

from ..errors import ParameterError, PrecisionError
from ..symbolic import drift as sd
from . import validate as val
from .compile import compile_exprs

__all__ = ["misassignment", "log_misassignment", "log_misassignment_excess", "regime", "REGIMES"]

#: Gauss–Hermite orders for 0 < Δ ≤ _GH_MAX: (Δ_hi, nodes); the responsibility's poles sit
#: at distance π/Δ from the real axis (measured worst 4e-15 with these orders)
_GH_TIERS = ((0.5, 20), (1.0, 40))
_GH_MAX = 1.0
#: double-exponential trapezoidal rules s = A sinh(τ), τ = j·h ∈ [lo, hi], one per band of
#: (Δ, λ = 2|c|/Δ²) in the fundamental domain |λ| ≤ 1: (Δ_lo, Δ_hi, λ_lo, λ_hi, A, h, lo, hi).
#: Tuned against 25-digit references (worst error 2.5e-14 at the tuning optimum), then
#: shipped one notch safer (h smaller by 0.01–0.02, τ-range wider by ≥ 0.25; the
#: discretisation error falls like e^{-2πd/h}, d ≈ 0.9, so each notch is a factor ≥ 5).
_DE_BANDS: tuple[tuple[float, ...], ...] = (
    (1.0, 2.5, 0.0, 1.01, 2.0, 0.12, -2.5, 2.5),
    (2.5, 6.0, 0.0, 1.01, 1.5, 0.14, -3.75, 3.25),
    (6.0, 12.0, 0.0, 0.35, 1.5, 0.18, -4.0, 3.75),
    (6.0, 12.0, 0.35, 1.01, 2.0, 0.14, -4.0, 3.25),
    (12.0, 30.0, 0.0, 0.35, 1.5, 0.20, -4.25, 4.0),
    (12.0, 30.0, 0.35, 1.01, 2.0, 0.14, -5.0, 3.25),
    (30.0, np.inf, 0.0, 1.01, 2.0, 0.14, -5.5, 3.5),  # λ > 0.2 only: w < 1e-19
)
#: asymptotic regime: Δ ≥ _ASYM_MIN and |λ| ≤ _ASYM_LAMBDA; terms by tier (Δ_lo, Δ_hi, N)
#: (measured worst error 2e-13, the rounding floor of Δ²/8, with 2 spare terms per tier)
_ASYM_MIN = 20.0
_ASYM_LAMBDA = 0.2
_ASYM_TIERS = ((20.0, 30.0, 16), (30.0, np.inf, 10))
#: reflections evaluated exactly; beyond, the remainder is < e^{-Δ²(K²−1)/2} ≤ e^{-40} (Δ > 1)
_K_MAX = 9
#: rows per block (keeps the node matrices in cache)
_BLOCK = 2048
#: beyond this |Δ| the logarithm −Δ²/8 itself overflows double precision
_DELTA_MAX = 1e150

REGIMES = ("zero", "hermite", "de", "asymptotic")


# ------------------------------------------------------------------ compiled formulas


def _horner(polys: tuple[sp.Expr, ...]) -> sp.Expr:
    """Σ_j u^j Q_j(T2) as a nested Horner scheme in u and T2 with float coefficients.

    The same polynomial as :func:`symforget.symbolic.drift.resummed_series`, rearranged for
    evaluation (about two array operations per monomial).
    """
    acc = sp.Integer(0)
    for q in reversed(polys):
        coeffs = sp.Poly(q, sd.T2).all_coeffs()  # highest degree first
        inner = sp.Integer(0)
        for cf in coeffs:
            inner = inner * sd.T2 + sp.Float(sp.N(cf, 20), 20)
        acc = acc * sd.u + inner
    return acc


@cache
def _compiled() -> dict[str, Any]:
    """Compile every formula once (SymPy → NumPy through :mod:`symforget.numeric.compile`)."""
    c, D = sd.c, sd.D
    A, B = sd.gh_kink()
    poly = sp.Poly(sd.cosh_exponent_s(), sd.s)
    q2, q1 = poly.coeff_monomial(sd.s**2), poly.coeff_monomial(sd.s)
    if sp.simplify(poly.as_expr() - q2 * sd.s**2 - q1 * sd.s) != 0:  # pragma: no cover
        raise AssertionError("the s-frame exponent must be a quadratic without constant term")
    lam_half = sp.pi * c / D**2  # πλ/2 with λ = 2c/Δ²
    asym, asym_scaled = [], []
    for _, _, n_terms in _ASYM_TIERS:
        series = _horner(sd.resummed_polynomials(n_terms)).subs(
            {sd.u: 1 / D**2, sd.T2: sp.tan(lam_half) ** 2})
        # evaluate=False: SymPy's log() would otherwise query assumptions on the polynomial
        asym.append(compile_exprs(
            sp.Add(sd.asymptotic_log_prefactor() - c**2 / (2 * D**2),
                   -sp.log(sp.cos(lam_half)), sp.log(series, evaluate=False)), (c, D)))
        # log m + Δ²/8 with the Δ²/8 cancelled symbolically (no huge intermediate)
        asym_scaled.append(compile_exprs(
            sp.Add(sp.expand(sd.asymptotic_log_prefactor() + D**2 / 8) - c**2 / (2 * D**2),
                   -sp.log(sp.cos(lam_half)), sp.log(series, evaluate=False)), (c, D)))
    return {
        "gh": compile_exprs([A, B], (c, D)),
        "de_coeffs": compile_exprs([q2, q1], (c, D)),
        "de_pref": compile_exprs(sd.cosh_log_prefactor_s(), (c, D)),
        "asym": tuple(asym),
        "asym_scaled": tuple(asym_scaled),
    }


@cache
def _gh_rule(n: int) -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = np.polynomial.hermite_e.hermegauss(n)
    return nodes, weights / np.sqrt(2.0 * np.pi)


@cache
def _de_rule(A: float, h: float, lo: float, hi: float) -> np.ndarray:
    """Rows (s², s, log weight) of the trapezoidal rule in τ for ∫ f(s) sech(s) ds."""
    tau = np.arange(np.ceil(lo / h - 1e-9), np.floor(hi / h + 1e-9) + 1) * h
    s = A * np.sinh(tau)
    abs_s = np.abs(s)
    log_sech = np.log(2.0) - abs_s - np.log1p(np.exp(-2.0 * abs_s))
    log_w = np.log(A * h * np.cosh(tau)) + log_sech
    return np.ascontiguousarray(np.stack([s * s, s, log_w]))


# ------------------------------------------------------------------ kernels (1-D arrays)


def _log_m_hermite(c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """0 < Δ ≤ 1: Gauss–Hermite for E_{φ0}[1/(1 + e^{A + Bx})]."""
    small = d <= _GH_TIERS[0][0]
    if small.all() or not small.any():
        return _log_m_hermite_n(c, d, _GH_TIERS[0][1] if small.all() else _GH_TIERS[1][1])
    out = np.empty_like(c)
    out[small] = _log_m_hermite_n(c[small], d[small], _GH_TIERS[0][1])
    out[~small] = _log_m_hermite_n(c[~small], d[~small], _GH_TIERS[1][1])
    return out


def _log_m_hermite_n(c: np.ndarray, d: np.ndarray, n: int) -> np.ndarray:
    x, wts = _gh_rule(n)
    A, B = _compiled()["gh"](c, d)
    out = np.empty_like(c)
    with np.errstate(over="ignore"):
        for i in range(0, c.size, _BLOCK):
            sl = slice(i, i + _BLOCK)
            z = np.multiply.outer(np.broadcast_to(B, c.shape)[sl], x)
            z += np.broadcast_to(A, c.shape)[sl, None]
            np.exp(z, out=z)
            z += 1.0
            np.reciprocal(z, out=z)
            out[sl] = np.log(z @ wts)
    return out


def _log_m_de(c: np.ndarray, d: np.ndarray, band: tuple[float, ...]) -> np.ndarray:
    """Fundamental domain |c| ≤ Δ²/2, Δ > 1: DE trapezoid for the s-frame cosh form."""
    rule = _de_rule(*band[4:])
    ones = np.ones(rule.shape[1])
    q2, q1 = _compiled()["de_coeffs"](np.abs(c), d)
    q2 = np.broadcast_to(q2, c.shape)
    q1 = np.broadcast_to(q1, c.shape)
    lhs = np.empty((c.size, 3))
    lhs[:, 0], lhs[:, 1], lhs[:, 2] = q2, q1, 1.0
    out = np.empty_like(c)
    for i in range(0, c.size, _BLOCK):
        sl = slice(i, i + _BLOCK)
        z = lhs[sl] @ rule  # −2s(s+|c|)/Δ² + log(weight · sech s)
        np.exp(z, out=z)
        out[sl] = np.log(z @ ones)
    return out + _compiled()["de_pref"](c, d)


def _chunked(fn: Any, c: np.ndarray, d: np.ndarray, block: int = 8192) -> np.ndarray:
    """Evaluate an elementwise compiled formula block by block (operands stay in cache)."""
    if c.size <= block:
        return np.asarray(fn(c, d), dtype=np.float64)
    out = np.empty_like(c)
    for i in range(0, c.size, block):
        out[i:i + block] = fn(c[i:i + block], d[i:i + block])
    return out


_BAND_EDGES = np.array([2.5, 6.0, 12.0, 30.0])


def _log_m_fundamental(c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """log m for |c| ≤ Δ²/2 (any sign of c), Δ > 1."""
    out = np.empty_like(c)
    lam = 2.0 * np.abs(c) / (d * d)
    # group key: asymptotic tiers −1, −2; DE band = index into _DE_BANDS
    key = np.searchsorted(_BAND_EDGES, d)  # 0: Δ ≤ 2.5, 1: ≤ 6, 2: ≤ 12, 3: ≤ 30, 4: > 30
    key = np.take(np.array([0, 1, 2, 4, 6]), key) + ((key == 2) | (key == 3)) * (lam >= 0.35)
    asym = lam <= _ASYM_LAMBDA
    key[asym & (d >= _ASYM_TIERS[0][0])] = -1
    key[asym & (d >= _ASYM_TIERS[1][0])] = -2
    fns = _compiled()["asym"]
    for k in np.unique(key):
        idx = np.flatnonzero(key == k)
        if k < 0:
            out[idx] = _chunked(fns[-k - 1], c[idx], d[idx])
        else:
            out[idx] = _log_m_de(c[idx], d[idx], _DE_BANDS[k])
    return out


def _log_m_separated(c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Δ > 1, any c: reflect into the fundamental domain, evaluate, unwind the reflections."""
    a = np.abs(c)
    d2 = d * d
    K = np.where(a > d2 / 2, np.ceil(a / d2 - 0.5), 0.0)
    direct = K == 0
    if direct.all():
        return _log_m_fundamental(c, d)
    out = np.empty_like(c)
    if direct.any():
        out[direct] = _log_m_fundamental(c[direct], d[direct])
    r = ~direct
    ar, d2r, Kr = a[r], d2[r], K[r]
    cK = ar - Kr * d2r  # ∈ (−Δ²/2, Δ²/2]
    exact = Kr <= _K_MAX
    v = np.zeros_like(ar)  # v = m(c_j) at the current level j
    if exact.any():
        v[exact] = np.exp(_log_m_fundamental(cK[exact], d[r][exact]))
    level = np.minimum(Kr, _K_MAX)
    with np.errstate(under="ignore", over="ignore"):  # inactive lanes are discarded
        for j in range(_K_MAX - 1, 0, -1):
            act = j < level
            if act.any():
                v = np.where(act, np.exp(-(ar - j * d2r)) * (1.0 - v), v)
    # m(c) = e^{−c} m(−c) = e^{−(a + c)/2 ... }: log m = −(a + c)/2 + log(1 − v)
    out[r] = -(ar + c[r]) / 2 + np.log1p(-v)
    return out


def _log_m(w: np.ndarray, d: np.ndarray) -> np.ndarray:
    """log m on flat arrays (w ∈ (0,1), d ≥ 0 finite)."""
    c = np.log(w / (1.0 - w))  # |error| ≤ 2 ulp(1): 1 − w is exact for w ≥ ½, else 1 ± ε
    out = np.empty_like(w)
    sep = d > _GH_MAX
    if sep.all():
        return _log_m_separated(c, d)
    zero = d == 0
    gh = ~sep & ~zero
    if zero.any():
        out[zero] = np.log1p(-w[zero])
    if gh.any():
        out[gh] = _log_m_hermite(c[gh], d[gh])
    if sep.any():
        out[sep] = _log_m_separated(c[sep], d[sep])
    return out


# ------------------------------------------------------------------ public API


def _params(w: Any, delta: Any) -> tuple[np.ndarray, np.ndarray]:
    w_ = val.open_unit("w", w)
    d_ = val.finite("delta", delta)
    w_, d_ = val.broadcast(w=w_, delta=d_)
    return w_, np.abs(d_)


#: scale ratios r = σn/σo accepted by the unequal-scale misassignment (measured against the
#: independent 30-digit reference: worst relative error 2.5e-14 on r ∈ [0.01, 100], Δ ≤ 30)
RATIO_RANGE = (1e-2, 1e2)


def _ratio(ratio: Any) -> np.ndarray | None:
    """The validated ratio, or None when every entry is 1 (the equal-scale methods)."""
    if isinstance(ratio, (int, float)) and not isinstance(ratio, bool) and ratio == 1.0:
        return None
    r_ = val.positive("ratio", ratio)
    lo, hi = RATIO_RANGE
    bad = ~((r_ >= lo) & (r_ <= hi))
    if np.any(bad):
        raise PrecisionError(f"ratio={float(r_[bad].ravel()[0])!r}: the unequal-scale "
                             f"misassignment is verified for ratio in [{lo:g}, {hi:g}]")
    return None if np.all(r_ == 1.0) else r_


def _m_general(w_: np.ndarray, d_: np.ndarray, r_: np.ndarray) -> np.ndarray:
    """m(w, Δ, r) by the kink-aware quadrature with both switch points split (any r)."""
    from ..symbolic import beyond
    from .compile import compile_spec
    from .quadrature import expect

    w_, d_, r_ = val.broadcast(w=w_, delta=d_, ratio=r_)
    return expect(compile_spec(beyond.misassignment_spec()), [w_, np.abs(d_), r_])[..., 0]


def log_misassignment(w: Any, delta: Any, *, ratio: Any = 1.0) -> np.ndarray:
    r"""Logarithm of the misassignment probability, :math:`\log m(w,\Delta)`.

    .. math:: m(w,\Delta) = \mathbb E_{x\sim\mathcal N(0,1)}\big[r_n(x)\big],\quad
              r_n = \frac{(1-w)\varphi_\Delta}{w\varphi_0 + (1-w)\varphi_\Delta}
              = \operatorname{sigmoid}\big(\Delta(x - \tfrac\Delta2) - c\big),
              \ c = \log\tfrac{w}{1-w},

    the probability that an old-mode sample is assigned to the new component (whitened units:
    Δ is the Mahalanobis separation of the student's means); :math:`\log m \approx
    -\Delta^2/8 - \log\Delta + \log(\sqrt{\pi/2}\sqrt{(1-w)/w})` for large Δ
    (claim ``rkl.drift_asymptotics``; ``m`` itself underflows near Δ ≈ 77).

    With ``ratio`` ≠ 1 (r = σn/σo): the logarithm of :func:`misassignment` (same domain), for
    m ≥ 1e-300 (``PrecisionError`` beyond — use :func:`symforget.precise.misassignment`).

    **Domain and accuracy.** w ∈ (0, 1), \|Δ\| ≤ 1e150. Relative error of ``log m`` ≤ 4e-16·max(1,
    …) — a few ulps of the value — measured against 30-digit mpmath (``precise.misassignment``)
    for Δ up to 1e150 (``tests/test_domain.py``); for \|log m\| < 1 (Δ ≲ 1.5, w not tiny) the
    absolute error is ≤ 1e-13. Because ``log m`` ≈ −Δ²/8 is huge for large Δ, its absolute error
    grows like 1e-16·Δ²/8 (16 at Δ = 1e9): a ratio of two tiny quantities must not be formed by
    subtracting such logarithms — :func:`log_misassignment_excess` gives
    :math:`\log m + \Delta^2/8` with the common term removed analytically.

    Parameters
    ----------
    w : array_like
        Old weight, every entry in (0, 1).
    delta : array_like
        Separation Δ (finite; negative values use :math:`m(w,-\Delta) = m(w,\Delta)`).

    Returns
    -------
    numpy.ndarray
        ``log m`` with the broadcast shape of ``w`` and ``delta``; always finite.

    Raises
    ------
    ParameterError
        If ``w`` ∉ (0, 1), ``delta`` is not finite or \|Δ\| > 1e150 (where −Δ²/8 overflows),
        or the shapes do not broadcast.

    Examples
    --------
    >>> round(float(log_misassignment(0.3, 0.0)), 12)  # m(w, 0) = 1 − w
    -0.356674943939
    >>> round(float(log_misassignment(0.5, 1000.0)), 4)  # ≈ −Δ²/8 − log Δ + log √(π/2)
    -125006.682
    """
    w_, d_ = _params(w, delta)
    r_ = _ratio(ratio)
    if r_ is not None:
        m = _m_general(w_, d_, r_)
        if np.any(m < 1e-300):
            raise PrecisionError("log_misassignment with ratio != 1 is evaluated from m itself, "
                                 "which is below 1e-300 here; use precise.misassignment(w, "
                                 "delta, ratio=...) for such separations")
        return np.log(m)
    _check_log_domain(d_)
    out = _log_m(w_.ravel(), d_.ravel()).reshape(w_.shape)
    return out


def log_misassignment_excess(w: Any, delta: Any) -> np.ndarray:
    r""":math:`\log m(w,\Delta) + \Delta^2/8`, with the :math:`\Delta^2/8` removed analytically.

    The Bhattacharyya-gated part of :math:`\log m` is the common factor :math:`e^{-\Delta^2/8}`;
    what remains, :math:`-\tfrac c2 + \log\sqrt{\pi/2} - \log\Delta + O(\Delta^{-2})`, is
    O(log Δ). For Δ ≥ 20 (the asymptotic regime) the compiled expression has the Δ²/8 cancelled
    symbolically, so the result is accurate to a few ulps of its own (small) value for every
    \|Δ\| ≤ 1e150; below it is formed as ``log_misassignment(w, Δ) + Δ²/8`` (absolute error
    ≤ 1e-13, Δ²/8 ≤ 50). Ratios such as :math:`m/(\tfrac12\sqrt{(1-w)/w}\,e^{-\Delta^2/8})`
    (claim ``rkl.drift_bc_bound``) are formed from it without catastrophic cancellation.

    Same domain and errors as :func:`log_misassignment`.

    Examples
    --------
    >>> round(float(log_misassignment_excess(0.5, 1e9)), 6)  # ≈ log √(π/2) − log Δ
    -20.497474
    """
    w_, d_ = _params(w, delta)
    _check_log_domain(d_)
    flat_w, flat_d = w_.ravel(), d_.ravel()
    out = np.empty_like(flat_w)
    c = np.log(flat_w / (1.0 - flat_w))
    # asymptotic regime of _log_m_fundamental: Δ ≥ 20 and λ = 2|c|/Δ² ≤ 0.2 (no reflection
    # needed there: |c| ≤ 0.1 Δ² < Δ²/2)
    big = (flat_d >= _ASYM_MIN) & (2.0 * np.abs(c) <= _ASYM_LAMBDA * flat_d * flat_d)
    small = ~big
    if small.any():
        out[small] = _log_m(flat_w[small], flat_d[small]) + flat_d[small] ** 2 / 8.0
    if big.any():
        fns = _compiled()["asym_scaled"]
        cb, db = c[big], flat_d[big]
        tier = db >= _ASYM_TIERS[1][0]
        vals = np.empty_like(cb)
        for k, sel in enumerate((~tier, tier)):
            if sel.any():
                vals[sel] = _chunked(fns[k], cb[sel], db[sel])
        out[big] = vals
    return out.reshape(w_.shape)


def _check_log_domain(d_: np.ndarray) -> None:
    if np.any(d_ > _DELTA_MAX):
        bad = float(d_[d_ > _DELTA_MAX].ravel()[0])
        raise ParameterError(f"delta={bad!r} must satisfy |delta| <= {_DELTA_MAX:g} "
                             "(log m = −Δ²/8 + … overflows double precision beyond)")


def misassignment(w: Any, delta: Any, *, ratio: Any = 1.0) -> np.ndarray:
    r"""Misassignment probability :math:`m(w,\Delta) = \mathbb E_{\varphi_{\mu_o}}[r_n^q]`.

    Exact integral (no approximation beyond rounding): relative error ≤ 1e-12 for
    Δ ∈ [0, 60], w ∈ [1e-9, 1 − 1e-9]; satisfies :math:`m \le \tfrac12\sqrt{(1-w)/w}\,
    e^{-\Delta^2/8}` (claim ``rkl.drift_bc_bound``), :math:`w\,m(w,\Delta) = (1-w)\,
    m(1-w,\Delta)`, :math:`m(w,0) = 1 - w`, and is strictly decreasing in \|Δ\|. Underflows to 0
    for Δ ≳ 77 — use :func:`log_misassignment` there.

    Parameters
    ----------
    w : array_like
        Old weight in (0, 1).
    delta : array_like
        Separation Δ (any finite real; m is even in Δ).

    Returns
    -------
    numpy.ndarray
        m with the broadcast shape of the inputs, in [0, 1).

    With ``ratio`` = r = σn/σo ≠ 1 (the new component N(Δ, r²) in the old one's units), the
    log-odds is quadratic in x and the responsibility switches at up to two points; m is then
    computed by the kink-aware quadrature split at both (:mod:`symforget.symbolic.beyond`),
    relative error ≤ 1e-12 for r ∈ [0.01, 100] (``PrecisionError`` outside), Δ ≤ 30 measured
    against an independent 30-digit reference (2.5e-14 worst); it satisfies the bound
    :math:`m \le \tfrac12\sqrt{(1-w)/w}\,\mathrm{BC}(\Delta, r)` (claim ``beyond.any_family``).

    Examples
    --------
    >>> float(misassignment(0.5, 0.0))
    0.5
    >>> bool(misassignment(0.2, 3.0) <= 0.5 * (0.8 / 0.2) ** 0.5 * float(np.exp(-9 / 8)))
    True
    >>> import symforget as sf
    >>> round(float(sf.misassignment(0.3, 4.0)), 12)  # mpmath.quad, 40 digits: 0.0515942347016
    0.051594234702
    """
    w_, d_ = _params(w, delta)
    r_ = _ratio(ratio)
    if r_ is not None:
        return _m_general(w_, d_, r_)
    flat_w, flat_d = w_.ravel(), d_.ravel()
    ok = flat_d <= _DELTA_MAX  # beyond, m underflows to 0 exactly
    with np.errstate(under="ignore"):
        if ok.all():
            out = np.exp(_log_m(flat_w, flat_d))
        else:
            out = np.zeros_like(flat_w)
            out[ok] = np.exp(_log_m(flat_w[ok], flat_d[ok]))
    zero = flat_d == 0
    if zero.any():
        out[zero] = 1.0 - flat_w[zero]  # exact (rounded once), not exp(log1p(−w))
    return out.reshape(w_.shape)


def regime(w: Any, delta: Any) -> np.ndarray:
    """Which method :func:`misassignment` uses at each point (one of :data:`REGIMES`).

    For diagnostics and benchmarks; the reflection step is not a separate regime.
    """
    w_, d_ = _params(w, delta)
    c = np.log(w_) - np.log1p(-w_)
    a = np.abs(c)
    d2 = d_ * d_
    with np.errstate(divide="ignore", invalid="ignore"):
        K = np.where((d_ > 0) & (a > d2 / 2), np.ceil(a / d2 - 0.5), 0.0)
        aF = np.abs(a - K * d2)
        lam = np.where(d_ > 0, 2 * aF / d2, 0.0)
    out = np.full(w_.shape, "de", dtype=object)
    out[(d_ >= _ASYM_MIN) & (lam <= _ASYM_LAMBDA)] = "asymptotic"
    out[(d_ > 0) & (d_ <= _GH_MAX)] = "hermite"
    out[d_ == 0] = "zero"
    return out
