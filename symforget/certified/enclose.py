r"""Ball-arithmetic building blocks of the prover: rational cells, Gaussian panel sums.

Every function returns an Arb ball (``flint.arb``) that *contains* the exact value (or, for a
cell, the exact range over the cell). The two integrals the margins need are

* :func:`gauss_expect` — :math:`\mathbb E_{Z\sim\mathcal N(0,1)}[h(Z)]` for an integrand whose
  range over a Z-interval (and over the parameter cell, folded into the balls) can be enclosed:
  the sum over panels :math:`J` of :math:`P(Z\in J)\cdot h(J)` with
  :math:`P(Z\in J) = \tfrac12(\operatorname{erf}(b/\sqrt2) - \operatorname{erf}(a/\sqrt2))`
  (Arb's erf), plus a proved tail bound for :math:`|Z| > T`. Rigorous because
  :math:`\int_J \varphi h \in P(J)\cdot[\inf_J h, \sup_J h]` (mean value theorem for integrals,
  φ ≥ 0) and Arb's evaluation of ``h`` on the ball of ``J`` encloses that range.
* :func:`sech_expect` — :math:`\mathbb E_Z[K(Z)\operatorname{sech}((c-\Delta Z)/2)]` for a
  polynomial K of degree ≤ 2; the panel sum above for small Δ, and for Δ ≥ 6 the substitution
  u = ΔZ − c, where the sech factor is integrated exactly,
  :math:`\int_a^b \operatorname{sech}(u/2)\,du = 2(\operatorname{gd}(b/2) -
  \operatorname{gd}(a/2))`, :math:`\operatorname{gd}(x) = 2\arctan\tanh(x/2)`, and the slowly
  varying factor :math:`\varphi((u+c)/\Delta)K/\Delta` is enclosed per panel. Tails:
  :math:`\operatorname{sech}(u/2) \le 2e^{-|u|/2}` and
  :math:`\sup_z \varphi(z)(k_0 + k_1|z| + k_2z^2) \le (k_0 + k_1e^{-1/2} + 2k_2/e)/\sqrt{2\pi}`.

Cells are boxes with exact rational end points (:class:`fractions.Fraction`); a cell's ball is
the Arb union of the (rounded-outward) balls of its end points, so it contains the whole cell.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from functools import lru_cache

from flint import arb, fmpq

__all__ = ["rational", "interval", "Cell", "panels_z", "panels_u", "gauss_expect",
           "sech_expect", "gauss_bounds", "normal_tail", "exp_range", "sech_range",
           "gauss_range", "Sum", "PREC"]

#: working precision (bits) of every enclosure; the margins need a few digits, not 50
PREC = 64

Cell = dict[str, tuple[Fraction, Fraction]]


def rational(q: Fraction | int) -> arb:
    """The ball of an exact rational (exact, or rounded outward by Arb)."""
    q = Fraction(q)
    return arb(fmpq(q.numerator, q.denominator))


def interval(lo: Fraction | int, hi: Fraction | int) -> arb:
    """A ball containing the closed interval [lo, hi] (lo ≤ hi, exact rationals)."""
    a, b = rational(lo), rational(hi)
    return a if lo == hi else a.union(b)


class Sum:
    """A sum of balls kept as separate lower and upper sums.

    Arb's mid-radius addition of a wide ball (say [0, 1e18]) rounds the midpoint at 64 bits,
    which would blur a small lower bound; adding the lower end points and the upper end points
    separately keeps each side's rounding relative to its own magnitude."""

    def __init__(self) -> None:
        self.lo = arb(0)
        self.hi = arb(0)

    def add(self, x: arb) -> None:
        self.lo += arb(x.lower())
        self.hi += arb(x.upper())

    def ball(self) -> arb:
        return arb(self.lo.lower()).union(arb(self.hi.upper()))


def exp_range(x: arb) -> arb:
    """Ball containing exp over the ball x, from its end points (exp is increasing; tighter
    than Arb's mid-radius exp for wide balls)."""
    lo, hi = arb(x.lower()), arb(x.upper())
    return lo.exp().union(hi.exp())


def sech_range(v: arb) -> arb:
    """Ball containing sech over the ball v (sech is even and decreasing in |v|)."""
    return arb(v.abs_upper()).sech().union(arb(v.abs_lower()).sech())


def gauss_range(z: arb) -> arb:
    """Ball containing exp(−z²/2) over the ball z (decreasing in |z|)."""
    a, b = arb(z.abs_lower()), arb(z.abs_upper())
    return (-(b * b) / 2).exp().union((-(a * a) / 2).exp())


def normal_tail(t: arb) -> arb:
    r""":math:`P(|Z| > t) = \operatorname{erfc}(t/\sqrt2)` for t ≥ 0."""
    return (t / arb(2).sqrt()).erfc()


@lru_cache(maxsize=64)
def panels_z(T: int, n: int) -> tuple[tuple[arb, ...], tuple[arb, ...]]:
    """Panels of [−T, T] (n equal ones): their balls and their N(0,1) probabilities.

    P(a < Z < b) = (erfc(a/√2) − erfc(b/√2))/2 on the positive side and its mirror image on the
    negative side (a difference of erf values would lose every digit in the far tails)."""
    s2 = arb(2).sqrt()
    zs = [Fraction(-T) + Fraction(2 * T * k, n) for k in range(n + 1)]
    balls = tuple(rational(zs[k]).union(rational(zs[k + 1])) for k in range(n))
    probs = []
    for k in range(n):
        a, b = zs[k], zs[k + 1]
        if a >= 0:
            p = ((rational(a) / s2).erfc() - (rational(b) / s2).erfc()) / 2
        elif b <= 0:
            p = ((rational(-b) / s2).erfc() - (rational(-a) / s2).erfc()) / 2
        else:
            p = ((rational(a) / s2).erf() - (rational(b) / s2).erf()) / -2
        probs.append(p.nonnegative_part())
    return balls, tuple(probs)


def _gd(x: arb) -> arb:
    """The Gudermannian gd(x) = 2 arctan(tanh(x/2)) (gd' = sech)."""
    return 2 * (x / 2).tanh().atan()


@lru_cache(maxsize=64)
def panels_u(U: int, n: int) -> tuple[tuple[arb, ...], tuple[arb, ...]]:
    r"""Panels of [−U, U] (n equal ones): balls and the exact masses
    :math:`\int_J \operatorname{sech}(u/2)\,du`."""
    us = [arb(-U) + arb(2 * U) * k / n for k in range(n + 1)]
    g = [_gd(u / 2) for u in us]
    masses = tuple(2 * (g[k + 1] - g[k]) for k in range(n))
    balls = tuple(us[k].union(us[k + 1]) for k in range(n))
    return balls, masses


def gauss_bounds(h: Callable[[arb], arb | tuple[arb, arb]], tail: arb, T: int = 8,
                 n: int = 64) -> tuple[arb, arb]:
    r"""Lower and upper bounds (as balls whose lower / upper end points count) of
    :math:`\mathbb E_{Z\sim\mathcal N(0,1)}[h(Z)]`.

    Parameters
    ----------
    h
        Maps the ball of a Z-panel to a ball containing the range of the integrand over the
        panel (and over the parameter cell captured in ``h``), or to a pair (lower, upper) of
        balls bounding it (for ranges like [1e-3, 1e20] that one mid-radius ball cannot hold
        without losing the lower end).
    tail
        A ball containing :math:`\mathbb E[h(Z); |Z| > T]` (the caller proves it).
    T, n
        The panels: n equal ones on [−T, T].
    """
    balls, probs = panels_z(T, n)
    total = Sum()
    for J, p in zip(balls, probs, strict=True):
        val = h(J)
        if isinstance(val, tuple):
            total.lo += arb((p * val[0]).lower())
            total.hi += arb((p * val[1]).upper())
        else:
            total.add(p * val)
    total.add(tail)
    return total.lo, total.hi


def gauss_expect(h: Callable[[arb], arb | tuple[arb, arb]], tail: arb, T: int = 8,
                 n: int = 64) -> arb:
    r"""Enclosure (one ball) of :math:`\mathbb E_{Z\sim\mathcal N(0,1)}[h(Z)]`; see
    :func:`gauss_bounds`."""
    lo, hi = gauss_bounds(h, tail, T, n)
    return arb(lo.lower()).union(arb(hi.upper()))


#: Δ from which :func:`sech_expect` integrates in u = ΔZ − c (below: in Z)
U_FORM_FROM = 6


def sech_expect(C: arb, D: arb, coeffs: Sequence[arb], n_z: int | None = None,
                n_u: int = 192) -> arb:
    r"""Enclosure of :math:`E(c,\Delta) = \mathbb E_{Z}[K(Z)\operatorname{sech}((c-\Delta Z)/2)]`
    over every (c, Δ) in the balls C, D (Δ ≥ 0).

    ``coeffs`` is ``(k0, k1, k2)`` with :math:`K(Z) = k_0 + k_1 Z + k_2 Z^2` (balls that may
    depend on C and D, not on Z). See the module docstring for the two forms and their tails;
    for D ≥ 6 the u-form (n_u panels of [−48, 48]), otherwise the Z-form with
    32·⌈max(2, Δ_hi)⌉ panels of [−8, 8] (so the sech argument moves ≲ ¼ per panel).
    """
    import math

    zero = arb(0)
    if n_z is None:
        n_z = 32 * math.ceil(max(2.0, float(D.upper())))
    if D.lower() >= U_FORM_FROM:
        U = 48
        k0, k1, k2 = coeffs
        balls, masses = panels_u(U, n_u)
        acc = Sum()
        for J, s in zip(balls, masses, strict=True):
            z = (J + C) / D
            acc.add(s * gauss_range(z) * (k0 + k1 * z + k2 * z * z))
        kmax = abs(k0) + abs(k1) * arb(-0.5).exp() + 2 * abs(k2) * arb(-1).exp()
        tail = kmax * 8 * arb(-U / 2).exp()
        acc.add(zero.union(tail).union(-tail))
        return acc.ball() / ((2 * arb.pi()).sqrt() * D)
    T = 8
    k0, k1, k2 = coeffs
    Tb = arb(T)
    phiT = (-(Tb * Tb) / 2).exp() / (2 * arb.pi()).sqrt()
    # E[|K|; |Z|>T] ≤ |k0| P + |k1| E|Z| + |k2| E Z², with E[|Z|; |Z|>T] = 2φ(T),
    # E[Z²; |Z|>T] = 2Tφ(T) + P(|Z|>T); and |sech| ≤ 1
    P = normal_tail(Tb)
    bound = abs(k0) * P + abs(k1) * 2 * phiT + abs(k2) * (2 * Tb * phiT + P)
    tail = zero.union(bound).union(-bound)

    def h(J: arb) -> arb:
        return (k0 + k1 * J + k2 * J * J) * sech_range((C - D * J) / 2)

    return gauss_expect(h, tail, T, n_z)
