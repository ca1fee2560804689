r"""Certified values: rigorous enclosures of the misassignment probability at a point.

:func:`misassignment` returns exact decimal end points (lo, hi) with lo ≤ m(w, Δ) ≤ hi, from
Arb's rigorous integration (``acb.integral``, Petras' algorithm with error bounds from the
integrand's analytic continuation) of the sech representation

.. math:: m(w,\Delta) = \tfrac12\sqrt{(1-w)/w}\,e^{-\Delta^2/8}\,R(c,\Delta),\qquad
          R = \mathbb E_Z[\operatorname{sech}((c-\Delta Z)/2)],\ c = \log\frac{w}{1-w},

integrated in Z on [−T, T] for Δ ≤ 1 (tail ≤ P(|Z| > T), as sech ≤ 1) and in u = ΔZ − c
for Δ > 1, :math:`R = \frac1{\Delta}\int\varphi((u+c)/\Delta)\operatorname{sech}(u/2)\,du`:
by Arb on [−8, 8] (the poles of sech(u/2) stay at distance π from the real axis) and beyond
in closed form, termwise from the alternating series of sech with a rigorous truncation
bound (:func:`_sech_tail`); at Δ = 0, R = sech(c/2) exactly. The
enclosed tails are added as balls; the working precision (and with it the Z-range and the number
of sech tail terms) grows until the relative width is at most 10^−digits.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

from ..errors import ParameterError, PrecisionError

__all__ = ["misassignment"]

#: the middle |u| ≤ _U0 is integrated by Arb; beyond it sech(u/2)'s series converges like
#: e^{−_U0 k}
_U0 = 8


def _sech_tail(c, D, u0, K: int):
    r"""Ball containing
    :math:`\int_{u_0}^\infty e^{-(u+c)^2/(2\Delta^2)}\operatorname{sech}(u/2)\,du`.

    With :math:`\operatorname{sech}(u/2) = 2\sum_{k\ge0}(-1)^k e^{-\beta_k u}`,
    :math:`\beta_k = k + \tfrac12` (u > 0) and, completing the square,

    .. math:: I_k = \int_{u_0}^\infty e^{-(u+c)^2/(2\Delta^2) - \beta_k u}\,du
              = e^{\beta_k c + \beta_k^2\Delta^2/2}\,\Delta\sqrt{\pi/2}\,
                \operatorname{erfc}\Big(\frac{u_0 + c + \beta_k\Delta^2}{\Delta\sqrt2}\Big).

    The partial sums of the alternating series bracket sech pointwise (its terms decrease in
    k), and the Gaussian factor is positive, so the integral lies within
    :math:`2I_K \le 2e^{-\beta_K u_0}/\beta_K` of :math:`2\sum_{k<K}(-1)^kI_k`.
    """
    from flint import arb

    half_pi = (arb.pi() / 2).sqrt()
    root2 = arb(2).sqrt()
    total = arb(0)
    for k in range(K):
        b = arb(2 * k + 1) / 2
        term = (b * c + b * b * D * D / 2).exp() * D * half_pi * (
            (u0 + c + b * D * D) / (D * root2)).erfc()
        total += term if k % 2 == 0 else -term
    bK = arb(2 * K + 1) / 2
    bound = 2 * (-bK * u0).exp() / bK
    return 2 * total + arb(0).union(bound).union(-bound)


def _exact(x: float | str | Fraction, name: str) -> Fraction:
    try:
        q = Fraction(x)
    except (ValueError, TypeError, ZeroDivisionError):
        raise ParameterError(f"{name}={x!r} must be a real number") from None
    if isinstance(x, float) and not math.isfinite(x):
        raise ParameterError(f"{name}={x!r} must be finite")
    return q


def misassignment(w: float | str | Fraction, delta: float | str | Fraction, digits: int = 50
                  ) -> tuple[Decimal, Decimal]:
    r"""Rigorous enclosure of m(w, Δ) (claims ``rkl.drift_bc_bound``, ``rkl.drift_asymptotics``).

    Parameters
    ----------
    w
        Old weight in (0, 1); a float is taken as its exact binary value, a string or Fraction
        exactly (``"0.1"`` is 1/10).
    delta
        Separation Δ ≥ 0 (same conventions).
    digits
        Requested relative accuracy: (hi − lo) ≤ 10^−digits · lo.

    Returns
    -------
    (lo, hi) : tuple of decimal.Decimal
        Exact decimal numbers with lo ≤ m(w, Δ) ≤ hi.

    Examples
    --------
    >>> lo, hi = misassignment(0.5, 0, digits=20)     # m(½, 0) = ½ exactly
    >>> lo <= Decimal("0.5") <= hi
    True

    Coincident means give m(w, 0) = E[r_n] = 1 − w; the enclosure is at most 10^−digits wide
    relative to the value, and contains the float64 evaluator's result:

    >>> import symforget as sf
    >>> lo, hi = misassignment("0.3", 0, digits=30)
    >>> lo <= Decimal("0.7") <= hi, (hi - lo) <= Decimal("1e-30") * lo
    (True, True)
    >>> lo, hi = misassignment(0.3, 3.0, digits=30)
    >>> m = float(sf.misassignment(0.3, 3.0))
    >>> float(lo) * (1 - 1e-15) <= m <= float(hi) * (1 + 1e-15)
    True
    """
    from flint import acb, arb, ctx, fmpq

    if isinstance(digits, bool) or not isinstance(digits, int) or not 1 <= digits <= 10_000:
        raise ParameterError(f"digits={digits!r} must be an integer in [1, 10000]")
    wq, dq = _exact(w, "w"), _exact(delta, "delta")
    if not 0 < wq < 1:
        raise ParameterError(f"w={w!r} must lie in (0, 1)")
    if dq < 0:
        raise ParameterError(f"delta={delta!r} must be >= 0")
    need = digits * math.log2(10)
    for attempt in range(6):
        prec = int(need) + 16 + 32 * attempt
        with ctx.workprec(prec):
            W = arb(fmpq(wq.numerator, wq.denominator))
            D = arb(fmpq(dq.numerator, dq.denominator))
            c = (W / (1 - W)).log()
            s2pi = (2 * arb.pi()).sqrt()
            # magnitude of R (only sets the integrator's absolute tolerance; the enclosure is
            # rigorous whatever it is): the peak of −z²/2 − |c − Δz|/2 over z
            cf, df = abs(float(c.mid())), float(dq)
            log_peak = (-cf / 2 + df * df / 8) if cf > df * df / 2 else -cf * cf / (
                2 * df * df) if df > 0 else 0.0
            tol = arb(2) ** int(log_peak / math.log(2) - prec - 20 - max(0.0, math.log2(
                max(df, 1.0))))
            if dq == 0:
                R = (c / 2).sech()
            elif dq <= 1:
                T = arb(int(math.sqrt(2 * (need + abs(float(c))) * math.log(2))) + 8
                        + 8 * attempt)
                C, DD = acb(c), acb(D)
                val = acb.integral(lambda z, _a, C=C, DD=DD: (-(z * z) / 2).exp()
                                   * ((C - DD * z) / 2).sech(), -T, T, abs_tol=tol)
                tail = (T / arb(2).sqrt()).erfc()
                R = val.real / s2pi + arb(0).union(tail)
            else:
                # middle |u| ≤ u0 by acb.integral, the two tails |u| > u0 in closed form from
                # sech(u/2) = 2 Σ_k (−1)^k e^{−β_k|u|}, β_k = k + ½ (alternating, decreasing
                # in k pointwise, so the truncation error is at most the next term)
                u0 = arb(_U0)
                C, inv = acb(c), acb(1 / D)
                val = acb.integral(lambda u, _a, C=C, inv=inv: (-(((u + C) * inv) ** 2) / 2)
                                   .exp() * (u / 2).sech(), -u0, u0, abs_tol=tol * D).real
                goal = -math.log(float(tol.mid()) * df)  # tail terms below tol·Δ
                K = max(1, math.ceil(goal / _U0))
                val += _sech_tail(c, D, u0, K) + _sech_tail(-c, D, u0, K)
                R = val / (s2pi * D)
            m = ((1 - W) / W).sqrt() / 2 * (-(D * D) / 8).exp() * R
            if m.is_finite() and m.rel_accuracy_bits() >= need + 4:
                mid, rad, exp = m.mid_rad_10exp(digits + 10)
                return (Decimal(f"{mid - rad}E{exp}"), Decimal(f"{mid + rad}E{exp}"))
    raise PrecisionError(f"misassignment(w={w!r}, delta={delta!r}): no enclosure with "
                         f"{digits} digits within the precision budget")
