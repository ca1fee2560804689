r"""Certified high-precision misassignment probability (mpmath), CLAIMS.md §3.

:func:`misassignment` returns :math:`m(w,\Delta)` to ``dps`` digits with an error estimate,
from three representations of the same integral, all compiled from
:mod:`symforget.symbolic.drift`:

1. **series** (the value): the cosh form expanded termwise,
   :math:`m = \tfrac12\sum_k(-1)^k\big[e^{E_k^-}\operatorname{erfc}\tfrac{\beta_k-b}{\sqrt2}
   + e^{E_k^+}\operatorname{erfc}\tfrac{\beta_k+b}{\sqrt2}\big]`, summed with the
   Cohen–Rodriguez Villegas–Zagier acceleration. The terms form a moment sequence, so the
   truncation error after n terms is *rigorously* at most :math:`m/d_n`,
   :math:`d_n \ge (3+\sqrt8)^n/2`; n is chosen so that this is below :math:`10^{-dps-5}`.
2. **cosh**: the CLAIMS.md cosh form :math:`\varphi(x_0)\int e^{-t^2/2-(c/\Delta)t}
   /(2\cosh(\Delta t/2))dt` by tanh-sinh quadrature, split at t = 0 on the scale 2/Δ and at
   the Gaussian bump on the scale 1.
3. **direct**: the defining integral :math:`\int\varphi(x)\operatorname{sigmoid}(\Delta(x-x_0))
   dx`, split at the transition :math:`x_0 + j/\Delta` (j = 0, ±1, ±4, ±16, ±64) and at the
   integrand's peak on the scale 1.

Both quadratures integrate a *rescaled* integrand (divided by its value at the peak):
``mpmath.quad`` stops on an absolute tolerance, so an integrand of size 1e-89 is "converged"
before it is resolved — the root cause of the silently wrong naive integral in CLAIMS.md's
pitfalls. With ``cross_check=True`` (default) the three must agree within the tolerance and each
quadrature's own error estimate must be within it, else :class:`~symforget.errors.PrecisionError`.
"""

from __future__ import annotations

from fractions import Fraction
from functools import cache
from typing import Any

import mpmath

from ..errors import ParameterError, PrecisionError
from ..symbolic import drift as sd
from ..symbolic.symbols import t as _t
from ..symbolic.symbols import x as _x
from .compile import compile_exprs
from .validate import real_scalar

__all__ = ["misassignment", "certify", "series", "cosh_quad", "direct_quad",
           "DEFAULT_DPS"]

DEFAULT_DPS = 50


@cache
def _fns() -> dict[str, Any]:
    c, D, k = sd.c, sd.D, sd.k
    minus, plus = sd.series_terms_scaled()
    return {
        "terms": compile_exprs([minus, plus], (k, c, D), "mpmath"),
        "log_phi_x0": compile_exprs(sd.log_phi_x0(), (c, D), "mpmath"),
        "cosh": compile_exprs(sd.cosh_integrand_t(), (_t, c, D), "mpmath"),
        "direct": compile_exprs(sd.misassignment_integrand(), (_x, c, D), "mpmath"),
    }


@cache
def _cvz_weights(n: int, dps: int) -> tuple[tuple[mpmath.mpf, ...], mpmath.mpf]:
    """Weights ω_k (|ω_k| ≤ 1) with S ≈ Σ_k ω_k a_k for S = Σ(−1)^k a_k, and d_n."""
    with mpmath.workdps(dps):
        d = (3 + mpmath.sqrt(8)) ** n
        d = (d + 1 / d) / 2
        b, cc = mpmath.mpf(-1), -d
        out = []
        for j in range(n):
            cc = b - cc
            out.append(cc / d)
            b = (j + n) * (j - n) * b / ((j + mpmath.mpf(1) / 2) * (j + 1))
        return tuple(out), d


def _validate(w: Any, delta: Any) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(w, |Δ|) as mpf values (validate.real_scalar): floats exactly, Fraction/Decimal rounded
    at 1100 digits (beyond every supported ``dps``); strings, None, booleans refused."""
    w_r, d_r = real_scalar("w", w), real_scalar("delta", delta)

    def mpf(v: float | Fraction) -> mpmath.mpf:
        if isinstance(v, float):
            return mpmath.mpf(v)
        with mpmath.workdps(1100):
            return mpmath.mpf(v.numerator) / v.denominator

    w_, d_ = mpf(w_r), mpf(d_r)
    if not 0 < w_ < 1:
        raise ParameterError(f"w={w!r} must lie in the open interval (0, 1)")
    return w_, abs(d_)


def _guard(c: mpmath.mpf, D: mpmath.mpf) -> int:
    """Extra digits for the cancellations in exponents and erfc arguments (~log10 size)."""
    size = 1 + 100 * abs(c) + 6000 * D * D + ((c / D) ** 2 if D > 0 else 0)
    return 15 + int(mpmath.log10(size))


def certify(value: mpmath.mpf, error: mpmath.mpf, dps: int, what: str = "value",
            rtol: mpmath.mpf | None = None) -> mpmath.mpf:
    """Return ``value`` if ``error ≤ rtol·|value|`` (default rtol = 10^-dps), else refuse.

    Raises
    ------
    PrecisionError
        With the value, the estimate and the tolerance in the message.
    """
    tol = mpmath.mpf(10) ** (-dps) if rtol is None else mpmath.mpf(rtol)
    if not (mpmath.isfinite(value) and mpmath.isfinite(error)) or error > tol * abs(value):
        raise PrecisionError(
            f"{what}: error estimate {mpmath.nstr(error, 3)} exceeds {mpmath.nstr(tol, 3)} × "
            f"|value| = {mpmath.nstr(tol * abs(value), 3)} (value {mpmath.nstr(value, 12)}); "
            "refusing to return it")
    return value


def _setup(w: Any, delta: Any, dps: int) -> tuple[mpmath.mpf, mpmath.mpf, int]:
    """Validated (w, Δ) and the working precision: ``dps`` plus guard digits for the
    cancellation in log φ(x0) − c/2 at large |c| or Δ (see :func:`_guard`)."""
    w_, D = _validate(w, delta)
    if D == 0:
        return w_, D, dps
    with mpmath.workdps(dps + 15):
        c0 = mpmath.log(w_ / (1 - w_))
    return w_, D, dps + _guard(c0, D)


def series(w: Any, delta: Any, dps: int = DEFAULT_DPS) -> tuple[mpmath.mpf, mpmath.mpf]:
    r"""m(w, Δ) from the accelerated termwise series: (value, rigorous-ish error bound).

    The truncation bound :math:`m/d_n` is rigorous (moment sequence); rounding is bounded by
    n·10^{-(working digits)}·Σ|terms| with 15+ guard digits. Δ = 0 gives 1 − w exactly.
    """
    w_, D, work = _setup(w, delta, dps)
    if D == 0:
        return +(1 - w_), mpmath.mpf(0)
    n = int((dps + 5) * mpmath.log(10) / mpmath.log(3 + mpmath.sqrt(8))) + 2
    weights, d_n = _cvz_weights(n, work)
    terms = _fns()["terms"]
    with mpmath.workdps(work):
        c = mpmath.log(w_ / (1 - w_))
        total = mpmath.mpf(0)
        absolute = mpmath.mpf(0)
        for j, om in enumerate(weights):
            tm, tp = terms(mpmath.mpf(j), c, D)
            total += om * (tm + tp)
            absolute += abs(om) * (tm + tp)
        err = abs(total) / d_n * 2 + absolute * n * mpmath.mpf(10) ** (-(work - 2))
        return +total, err


def _scaled_quad(f, peak, points, work: int) -> tuple[mpmath.mpf, mpmath.mpf]:
    """∫ f = f(peak)·∫ f/f(peak), with mpmath's error estimate scaled back."""
    with mpmath.workdps(work):
        scale = f(peak)
        if not scale > 0:
            raise PrecisionError("integrand vanishes at its peak; cannot rescale")
        pts = sorted(set(points))
        val, err = mpmath.quad(lambda z: f(z) / scale, [mpmath.ninf, *pts, mpmath.inf],
                               error=True)
        return val * scale, err * scale


def cosh_quad(w: Any, delta: Any, dps: int = DEFAULT_DPS) -> tuple[mpmath.mpf, mpmath.mpf]:
    r"""m(w, Δ) from the cosh form (CLAIMS.md) by rescaled tanh-sinh quadrature."""
    w_, D, work = _setup(w, delta, dps)
    if D == 0:
        return +(1 - w_), mpmath.mpf(0)
    fn, lp = _fns()["cosh"], _fns()["log_phi_x0"]
    with mpmath.workdps(work):
        c = mpmath.log(w_ / (1 - w_))
        b = c / D
        # log-integrand ≈ −t²/2 − bt − Δ|t|/2: peak at t* = −sign(b)(|b| − Δ/2)₊
        tstar = -mpmath.sign(b) * max(abs(b) - D / 2, mpmath.mpf(0))
        width = 2 / D
        pts = [mpmath.mpf(0), tstar, -b]
        pts += [j * width for j in (-64, -16, -4, -1, 1, 4, 16, 64)]
        pts += [tstar + j for j in (-16, -4, -1, 1, 4, 16)]
        phi = mpmath.exp(lp(c, D))
        val, err = _scaled_quad(lambda tt: fn(tt, c, D), tstar, pts, work)
        return phi * val, phi * err


def direct_quad(w: Any, delta: Any, dps: int = DEFAULT_DPS) -> tuple[mpmath.mpf, mpmath.mpf]:
    r"""m(w, Δ) from the defining integral, split at :math:`x_0 + j/\Delta`."""
    w_, D, work = _setup(w, delta, dps)
    if D == 0:
        return +(1 - w_), mpmath.mpf(0)
    fn = _fns()["direct"]
    with mpmath.workdps(work):
        c = mpmath.log(w_ / (1 - w_))
        x0 = D / 2 + c / D
        xstar = min(max(x0, mpmath.mpf(0)), D)  # peak of φ(x)·sigmoid(Δ(x − x0))
        pts = [x0 + mpmath.mpf(j) / D for j in (-64, -16, -4, -1, 0, 1, 4, 16, 64)]
        pts += [xstar + j for j in (-16, -4, -1, 0, 1, 4, 16)]
        return _scaled_quad(lambda xx: fn(xx, c, D), xstar, pts, work)


def misassignment(w: Any, delta: Any, dps: int = DEFAULT_DPS, *, cross_check: bool = True,
                  rtol: Any = None, ratio: Any = 1.0) -> tuple[mpmath.mpf, mpmath.mpf]:
    r"""Certified :math:`m(w,\Delta)` to ``dps`` digits: ``(value, error_estimate)`` (mpf).

    .. math:: m(w,\Delta) = \mathbb E_{x\sim\varphi_0}[r_n(x)]
              = \int\varphi(x)\operatorname{sigmoid}(\Delta(x-x_0))dx,\quad
              x_0 = \frac\Delta2 + \frac1\Delta\log\frac{w}{1-w}.

    Parameters
    ----------
    w : float or mpf
        Old weight in (0, 1) (a float is taken exactly).
    delta : float or mpf
        Separation Δ (finite; m is even in Δ; Δ = 0 gives 1 − w exactly).
    dps : int
        Decimal digits required (the work runs with 15+ guard digits).
    cross_check : bool
        Also evaluate the cosh-form and direct quadratures and require agreement (default);
        ``False`` returns the certified series alone (~50× faster).
    rtol : optional
        Refuse if the error estimate exceeds ``rtol·|value|`` (default ``10**-dps``).
    ratio : real, optional
        r = σn/σo (the new component N(Δ, r²) in the old one's units); r ≠ 1 uses
        :func:`misassignment_unequal` (two representations, both switch points split).

    Returns
    -------
    (mpf, mpf)
        The value (rounded to ``dps`` digits) and the error estimate of that returned value:
        the largest of the series bound and, when cross-checking, the quadratures' own
        estimates and their differences from the series, plus the rounding to ``dps`` digits.

    Raises
    ------
    PrecisionError
        If any estimate exceeds the tolerance or the representations disagree.
    """
    if not isinstance(dps, int) or dps < 5:
        raise ParameterError(f"dps={dps!r} must be an integer >= 5")
    r_ = real_scalar("ratio", ratio)
    if r_ != 1:
        return misassignment_unequal(w, delta, r_, dps, rtol=rtol)
    value, err = series(w, delta, dps)
    tol = mpmath.mpf(10) ** (-dps) if rtol is None else mpmath.mpf(rtol)
    with mpmath.workdps(dps + 15):
        certify(value, err, dps, "series", tol)
        if cross_check and mpmath.mpf(delta) != 0:
            for name, fn in (("cosh form", cosh_quad), ("direct integral", direct_quad)):
                v2, e2 = fn(w, delta, dps)
                certify(v2, e2, dps, name, tol)
                diff = abs(v2 - value)
                if diff > tol * abs(value):
                    raise PrecisionError(
                        f"m(w={w!r}, delta={delta!r}): {name} {mpmath.nstr(v2, 20)} disagrees "
                        f"with the series {mpmath.nstr(value, 20)} (relative "
                        f"{mpmath.nstr(diff / abs(value), 3)} > {mpmath.nstr(tol, 3)})")
                err = max(err, e2, diff)
    return _rounded(value, err, dps)


def _rounded(value: mpmath.mpf, err: mpmath.mpf, dps: int) -> tuple[mpmath.mpf, mpmath.mpf]:
    """``value`` rounded to ``dps`` digits and ``err`` plus that rounding (the estimate covers
    the returned number, not the guard-digit one), rounded up."""
    with mpmath.workdps(dps):
        out = +value
    with mpmath.workdps(dps + 15):
        total = err + abs(value - out)
    with mpmath.workdps(dps):
        return out, mpmath.mpf(total) * (1 + mpmath.mpf(10) ** (1 - dps))


def _switch_points(w_: mpmath.mpf, D: mpmath.mpf, r_: mpmath.mpf) -> list[mpmath.mpf]:
    """Real roots of the log-odds z(x) = log((1−w)/w) − log r − (x−Δ)²/(2r²) + x²/2 and the
    graded points around them (scale 1/|z'| and the Gaussian tail scale 1/(|x|+1))."""
    a2 = (1 - 1 / r_**2) / 2
    a1 = D / r_**2
    a0 = mpmath.log((1 - w_) / w_) - mpmath.log(r_) - D**2 / (2 * r_**2)
    roots = []
    if a2 == 0:
        roots = [-a0 / a1] if a1 != 0 else []
    else:
        disc = a1**2 - 4 * a2 * a0
        if disc >= 0:
            sq = mpmath.sqrt(disc)
            roots = [(-a1 + sq) / (2 * a2), (-a1 - sq) / (2 * a2)]
    pts = [mpmath.mpf(0), D]
    for t in roots:
        slope = abs(2 * a2 * t + a1)
        for g in (0, 1, -1, 4, -4):
            if slope > 0:
                pts.append(t + g / slope)
        for g in (1, -1, 4, -4, 16, -16):
            pts.append(t + g / (abs(t) + 1))
    return sorted(set(pts))


def misassignment_unequal(w: Any, delta: Any, ratio: Any, dps: int = DEFAULT_DPS, *,
                          rtol: Any = None) -> tuple[mpmath.mpf, mpmath.mpf]:
    r"""Certified m(w, Δ, r) for unequal scales, r = σn/σo: ``(value, error_estimate)``.

    Two representations of the same number must agree (``PrecisionError`` otherwise):

    * :math:`m = \mathbb E_{x\sim\mathcal N(0,1)}[r_n(x)]`, and
    * :math:`m = \frac{1-w}{w}\,\mathbb E_{x\sim\mathcal N(\Delta, r^2)}[r_o(x)]`
      (:math:`\varphi_0 r_n = \frac{1-w}{w}\varphi_\Delta r_o`, pointwise),

    each by tanh-sinh quadrature split at both switch points of the quadratic log-odds (and
    graded around them); the responsibilities are evaluated in log space. The error estimate is
    the larger of the quadratures' own estimates and the two representations' difference.
    """
    w_, D = _validate(w, delta)
    r_ = real_scalar("ratio", ratio)
    with mpmath.workdps(1100):
        rr = mpmath.mpf(r_) if isinstance(r_, float) else mpmath.mpf(r_.numerator) / r_.denominator
    if not rr > 0:
        raise ParameterError(f"ratio={ratio!r} must be > 0")
    work = dps + 20
    with mpmath.workdps(work):
        w_, D, rr = +w_, +D, +rr
        c = mpmath.log((1 - w_) / w_) - mpmath.log(rr)

        def z(x):  # log-odds of the new component against the old
            return c - (x - D) ** 2 / (2 * rr**2) + x**2 / 2

        def sig(u):
            return 1 / (1 + mpmath.exp(-u)) if u > 0 else mpmath.exp(u) / (1 + mpmath.exp(u))

        pts = _switch_points(w_, D, rr)
        lo = min(pts) - 40 * max(1, rr)
        hi = max(pts) + 40 * max(1, rr)
        grid = [lo, *pts, hi]
        def f1(x):
            return mpmath.npdf(x) * sig(z(x))

        def f2(x):
            return mpmath.npdf(x, D, rr) * sig(-z(x)) * (1 - w_) / w_

        def scaled_quad(f):  # mpmath's tolerance is absolute: integrate f / its peak size
            peak = max(abs(f(p)) for p in grid) or mpmath.mpf(1)
            val, est = mpmath.quad(lambda x: f(x) / peak, grid, error=True)
            return val * peak, est * peak

        one, e1 = scaled_quad(f1)
        two, e2 = scaled_quad(f2)
        err = max(e1, e2, abs(one - two))
        tol = mpmath.mpf(10) ** (-dps) if rtol is None else mpmath.mpf(rtol)
        certify(one, err, dps, f"m(w={w!r}, delta={delta!r}, ratio={ratio!r})", tol)
    return _rounded(one, err, dps)
