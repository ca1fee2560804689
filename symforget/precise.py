r"""High-precision evaluation with mpmath: every result is a value *and* an error estimate.

:func:`expect` integrates a compiled (mpmath-backend) expectation spec by tanh-sinh quadrature
(``mpmath.quad``) on the real line split at the same kink-aware breakpoints as the double
precision rule, in the standardised variable :math:`y`. The error estimate is the larger of

* mpmath's own quadrature error estimate, and
* the difference between two evaluations at ``dps`` and ``dps + 10`` digits

(agreement between two precisions is the error estimate; STYLE.md). If the estimate exceeds the
requested tolerance the evaluation *refuses* with :class:`~symforget.errors.PrecisionError`
instead of returning a number nobody can trust.

Precision is a scoped resource: ``mpmath.workdps`` only, never a global ``mp.dps = …``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import mpmath

from .errors import PrecisionError
from .numeric.compile import compile_spec
from .symbolic.expectation import ExpectationSpec

__all__ = ["PreciseValue", "expect", "misassignment", "DEFAULT_DPS"]

DEFAULT_DPS = 30


@dataclass(frozen=True)
class PreciseValue:
    """A high-precision vector with a per-entry error estimate.

    Examples
    --------
    It unpacks as ``(value, error)``; :meth:`as_floats` rounds the values:

    >>> from symforget import precise
    >>> from symforget.symbolic import mixture
    >>> v = precise.expect(mixture.rkl_loss_spec(), (0.3, -2.0, 2.0, 0.5, -2.0, 2.0, 1.0), dps=30)
    >>> value, error = v
    >>> v.dps, len(value), bool(error[0] < 1e-25)
    (30, 1, True)
    >>> round(v.as_floats()[0], 12)  # KL(q ‖ p*), QUADPACK: 0.0765705097245
    0.076570509725
    """

    value: tuple[mpmath.mpf, ...]
    error: tuple[mpmath.mpf, ...]
    dps: int

    def __iter__(self):
        return iter((self.value, self.error))

    def as_floats(self) -> list[float]:
        """The values rounded to float64."""
        return [float(v) for v in self.value]

    def __str__(self) -> str:
        vals = ", ".join(f"{mpmath.nstr(v, 15)} ± {mpmath.nstr(e, 2)}"
                         for v, e in zip(self.value, self.error, strict=True))
        return f"[{vals}] ({self.dps} digits)"


def _breakpoints_mp(kinks: Sequence[tuple], m, s) -> list:
    pts = {mpmath.mpf(0)}
    for a_, b_ in kinks:
        kappa = a_ * s
        if kappa == 0:
            continue
        t = -(a_ * m + b_) / kappa
        width = 1 / abs(kappa)
        for g in (0, 1, -1, 4, -4):
            if abs(t + g * width) < 80:
                pts.add(t + g * width)
    return [mpmath.ninf, *sorted(pts), mpmath.inf]


def _expect_once(spec: ExpectationSpec, params: Sequence, dps: int):
    cs = compile_spec(spec, "mpmath")
    with mpmath.workdps(dps):
        p = [mpmath.mpf(v) for v in params]
        weights, means, scales = cs.weights(*p), cs.means(*p), cs.scales(*p)
        if cs.kinks is not None:
            coeffs = cs.kinks(*p)
            kinks = list(zip(coeffs[0::2], coeffs[1::2], strict=True))
        else:
            kinks = []
        total = [mpmath.mpf(0)] * spec.size
        errs = [mpmath.mpf(0)] * spec.size
        norm = 1 / mpmath.sqrt(2 * mpmath.pi)
        for c, f in enumerate(cs.integrands):
            pi_c = mpmath.mpf(weights[c])
            if pi_c == 0:
                continue
            m, s = mpmath.mpf(means[c]), mpmath.mpf(scales[c])
            pts = _breakpoints_mp(kinks, m, s)
            memo: dict = {}

            def vec(y, f=f, m=m, s=s, memo=memo):
                key = y
                if key not in memo:
                    vals = f(m + s * y, *p)
                    memo[key] = [mpmath.mpf(v) * mpmath.exp(-y * y / 2) * norm for v in vals]
                return memo[key]

            for i in range(spec.size):
                val, err = mpmath.quad(lambda y, i=i: vec(y)[i], pts, error=True)
                total[i] += pi_c * val
                errs[i] += abs(pi_c) * err
        return total, errs


def expect(
    spec: ExpectationSpec,
    params: Sequence[float],
    dps: int = DEFAULT_DPS,
    rtol: float | None = None,
) -> PreciseValue:
    """Evaluate ``spec`` at one parameter point to ``dps`` digits, with an error estimate.

    Parameters
    ----------
    spec : ExpectationSpec
        The expectation (symbolic; compiled here for mpmath).
    params : sequence of float
        One value per ``spec.params`` entry.
    dps : int
        Working precision in decimal digits.
    rtol : float, optional
        Refuse (``PrecisionError``) if an error estimate exceeds
        ``rtol · max(|value|, 1e-6·scale, 10**(-dps/2))``, where scale is the largest ``|entry|``.
        Default ``rtol = 10**(-dps/2)``.

    Examples
    --------
    The reverse KL, KL(q_θ ‖ p*), at 30 digits (arguments in the order
    of ``spec.params``: w, μo, μn, α, μo*, μn*, σ), against the float64 evaluator:

    >>> import symforget as sf
    >>> from symforget import precise
    >>> from symforget.symbolic import mixture
    >>> spec = mixture.rkl_loss_spec()
    >>> [p.name for p in spec.params]
    ['w', 'mu_o', 'mu_n', 'alpha', 'nu_o', 'nu_n', 'sigma']
    >>> v = precise.expect(spec, (0.3, -2.0, 2.0, 0.5, -2.0, 2.0, 1.0), dps=30)
    >>> f = float(sf.rkl_loss(0.3, -2.0, 2.0, alpha=0.5, target_old=-2.0, target_new=2.0))
    >>> bool(abs(v.as_floats()[0] - f) <= 1e-15 * f), bool(v.error[0] < 1e-25)
    (True, True)
    """
    if len(params) != len(spec.params):
        raise ValueError(f"{spec.name} takes {len(spec.params)} parameters, got {len(params)}")
    lo, lo_err = _expect_once(spec, params, dps)
    hi, _ = _expect_once(spec, params, dps + 10)
    tol = mpmath.mpf(10) ** (-dps / 2) if rtol is None else mpmath.mpf(rtol)
    with mpmath.workdps(dps + 10):
        scale = max(abs(v) for v in hi) if hi else mpmath.mpf(0)
        errs = tuple(max(e1, abs(v1 - v2)) for v1, v2, e1 in zip(lo, hi, lo_err, strict=True))
        for i, (v, e) in enumerate(zip(hi, errs, strict=True)):
            # relative to the value, to the largest entry (a component may cancel to ~0), and an
            # absolute floor of 10^(-dps/2) for values that are exactly zero
            floor = max(abs(v), scale * mpmath.mpf("1e-6"), mpmath.mpf(10) ** (-dps / 2))
            if e > tol * floor:
                where = dict(zip([s.name for s in spec.params], params, strict=True))
                raise PrecisionError(
                    f"{spec.name}[{i}] at {where}: "
                    f"error estimate {mpmath.nstr(e, 3)} exceeds tolerance for value "
                    f"{mpmath.nstr(v, 10)} at {dps} digits; refusing to return it"
                )
    return PreciseValue(tuple(hi), errs, dps)


def misassignment(w: float, delta: float, dps: int = 50, *, ratio: float = 1.0):
    r"""Certified m(w, Δ) at ``dps`` digits: ``(value, error_estimate)`` as mpf.

    Two representations (the cosh form of claim ``rkl.drift_asymptotics`` and the direct
    integral split at the transition :math:`x_0 = \Delta/2 + c/\Delta` on the scale 1/Δ) must
    agree; otherwise :class:`~symforget.errors.PrecisionError`. With ``ratio`` = σn/σo ≠ 1 the
    two representations are :math:`\mathbb E_{\varphi_0}[r_n]` and
    :math:`\frac{1-w}{w}\mathbb E_{\varphi_\Delta}[r_o]`, both split at the two switch points.
    Implemented in :mod:`symforget.numeric.precise_drift`.

    Examples
    --------
    The definition :math:`m = \mathbb E_{\varphi_0}[(1-w)\varphi_\Delta/q]` integrated by
    ``mpmath.quad`` at 40 digits gives 0.05159423470155120 at w = 0.3, Δ = 4:

    >>> import mpmath
    >>> from symforget import precise
    >>> value, error = precise.misassignment(0.3, 4.0)
    >>> mpmath.nstr(value, 15), bool(error < 1e-40)
    ('0.0515942347015512', True)
    """
    from .numeric.precise_drift import misassignment as _impl

    return _impl(w, delta, dps=dps, ratio=ratio)
