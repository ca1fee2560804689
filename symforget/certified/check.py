r"""Independent re-checker of certificates (``symforget check CERT.json``).

Shares no code with the prover: it imports only python-flint and the standard library (a test
asserts this on the source), and writes every margin out again from its formula. It

1. reads the certificate (claim, box, cells with exact rational end points, local arguments);
2. confirms that the cells cover the box exactly: every cell lies in the box, no two cells
   overlap in more than a face, and the cells' volumes add up to the box's volume (rational
   arithmetic; a closed set of full measure in a box is the box);
3. re-encloses every cell's margin with Arb and requires it to be ≥ 0 (> 0 for a strict claim)
   and to overlap the recorded enclosure; cells covered by a local argument must lie in its
   region, and the argument is re-checked;
4. re-checks the point arguments (sharpness, identities at a point) and the asymptotic closure.

The margins (whitened units, Z ~ N(0,1), c = log(w/(1−w))):

* ``rkl.drift_bc_bound``: 1 − E[sech((c − ΔZ)/2)] (m/bound; see docs/guide/workflows.md).
* ``fkl.mass_forgetting``: H/(1+H), H = E[((L−1)/((1−w)+wL))²], L = exp(−Δ²/2 − ΔZ) (> 0).
* ``rkl.weight_convergence``: ∫(φ(x) − φ(x−Δ))²/(wφ(x) + (1−w)φ(x−Δ)) dx (> 0).
* ``rkl.local_geometry``: min_ij 1 − |E[K_ij(Δ/2+Z) sech((c−ΔZ)/2)]|/√(E K_ij²).
* ``beyond.any_family``: 1 − E[sech(ℓ(X)/2)], X ~ N(Δ/(1+r²), 2r²/(1+r²)), ℓ the log-odds of
  the old component N(0, 1) against N(Δ, r²) (quadratic, coefficients in closed form); a cell
  with r ≤ 1 is enclosed on its image under (w, Δ, r) → (1−w, Δ/r, 1/r), which leaves m/bound
  unchanged (derived in ``_any_family``).

Usage: ``python -m symforget.certified.check CERT.json`` (exit 0 valid, 1 rejected, 2 usage).
"""

from __future__ import annotations

import itertools
import json
import math
import sys
from fractions import Fraction
from typing import Any

from flint import arb, ctx, fmpq

__all__ = ["check_certificate", "CheckResult", "main"]

_PREC = 64
_AXES = {
    "rkl.drift_bc_bound": ("w", "delta"),
    "fkl.mass_forgetting": ("w", "delta"),
    "rkl.weight_convergence": ("w", "alpha", "delta"),
    "rkl.local_geometry": ("alpha", "delta"),
    "beyond.any_family": ("w", "delta", "r"),
}
_STRICT = {"rkl.drift_bc_bound": False, "fkl.mass_forgetting": True,
           "rkl.weight_convergence": True, "rkl.local_geometry": False,
           "beyond.any_family": False}
#: open unit-interval parameters (must stay strictly inside (0, 1)) and closed ones
_OPEN01 = {"rkl.drift_bc_bound": ("w",), "rkl.weight_convergence": ("w", "alpha"),
           "rkl.local_geometry": ("alpha",), "fkl.mass_forgetting": (),
           "beyond.any_family": ("w",)}


class CheckResult:
    """Outcome of a re-check: ``ok``, the problems found, and counts."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.cells = 0
        self.local = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, msg: str) -> None:
        if len(self.problems) < 20:
            self.problems.append(msg)

    def __str__(self) -> str:
        if self.ok:
            return f"certificate valid: {self.cells} cells re-enclosed, {self.local} local " \
                   "arguments re-checked, cover exact"
        return "certificate REJECTED: " + "; ".join(self.problems)


# --------------------------------------------------------------------------- arithmetic

def _q(text: Any) -> Fraction:
    if not isinstance(text, str):
        raise ValueError(f"end point {text!r} must be an exact string")
    return Fraction(text)


def _b(q: Fraction) -> arb:
    return arb(fmpq(q.numerator, q.denominator))


def _iv(lo: Fraction, hi: Fraction) -> arb:
    return _b(lo) if lo == hi else _b(lo).union(_b(hi))


def _logit(lo: Fraction, hi: Fraction) -> arb:
    a = (_b(lo) / _b(1 - lo)).log()
    return a if lo == hi else a.union((_b(hi) / _b(1 - hi)).log())


def _sech_on(v: arb) -> arb:
    # sech decreases in |v|
    return arb(v.abs_upper()).sech().union(arb(v.abs_lower()).sech())


def _exp_neg_half_sq(z: arb) -> arb:
    return (-(arb(z.abs_upper()) ** 2) / 2).exp().union((-(arb(z.abs_lower()) ** 2) / 2).exp())


class _Acc:
    """Lower and upper end points summed apart (a wide term must not blur a small side)."""

    def __init__(self) -> None:
        self.a, self.b = arb(0), arb(0)

    def __iadd__(self, x: arb) -> _Acc:
        self.a += arb(x.lower())
        self.b += arb(x.upper())
        return self

    def get(self) -> arb:
        return arb(self.a.lower()).union(arb(self.b.upper()))


def _pm(b: arb) -> arb:
    return arb(0).union(b).union(-b)


def _normal_probs(T: int, n: int) -> tuple[list[arb], list[arb]]:
    """Panels of [−T, T] and their standard normal probabilities (by erfc on each side)."""
    s2 = arb(2).sqrt()
    pts = [Fraction(-T) + Fraction(2 * T * k, n) for k in range(n + 1)]
    balls, probs = [], []
    for a, b in itertools.pairwise(pts):
        balls.append(_b(a).union(_b(b)))
        if a >= 0:
            p = (_b(a) / s2).erfc() - (_b(b) / s2).erfc()
        elif b <= 0:
            p = (_b(-b) / s2).erfc() - (_b(-a) / s2).erfc()
        else:
            p = (_b(b) / s2).erf() - (_b(a) / s2).erf()
        probs.append((p / 2).nonnegative_part())
    return balls, probs


def _expect_sech_poly(C: arb, D: arb, k: tuple[arb, arb, arb]) -> arb:
    r"""E_Z[(k0 + k1 Z + k2 Z²) sech((c − ΔZ)/2)] over the balls C, D (Δ ≥ 0)."""
    k0, k1, k2 = k
    pi = arb.pi()
    if D.lower() >= 6:
        # u = ΔZ − c: (1/(√(2π)Δ)) ∫ exp(−z²/2) K(z) sech(u/2) du, z = (u + c)/Δ; the mass of
        # sech(u/2) on [a, b] is 4(atan(tanh(b/4)) − atan(tanh(a/4)))
        U, n = 48, 192
        acc = _Acc()
        prev_u = _b(Fraction(-U))
        prev_g = (prev_u / 4).tanh().atan()
        for j in range(1, n + 1):
            u = _b(Fraction(-U) + Fraction(2 * U * j, n))
            g = (u / 4).tanh().atan()
            z = (prev_u.union(u) + C) / D
            acc += 4 * (g - prev_g) * _exp_neg_half_sq(z) * (k0 + k1 * z + k2 * z * z)
            prev_u, prev_g = u, g
        # tails: sech(u/2) ≤ 2e^{−|u|/2} (mass ≤ 8e^{−U/2}); φ·|K| ≤ (|k0| + |k1|e^{−1/2}
        # + 2|k2|/e)/√(2π)
        sup = abs(k0) + abs(k1) * arb(-0.5).exp() + 2 * abs(k2) * arb(-1).exp()
        acc += _pm(sup * 8 * arb(-U / 2).exp())
        return acc.get() / ((2 * pi).sqrt() * D)
    T, n = 8, 32 * math.ceil(max(2.0, float(D.upper())))
    Z, P = _normal_probs(T, n)
    acc = _Acc()
    for J, p in zip(Z, P, strict=True):
        acc += p * (k0 + k1 * J + k2 * J * J) * _sech_on((C - D * J) / 2)
    Tb = arb(T)
    phi = (-(Tb * Tb) / 2).exp() / (2 * pi).sqrt()
    ptail = (Tb / arb(2).sqrt()).erfc()
    acc += _pm(abs(k0) * ptail + abs(k1) * 2 * phi + abs(k2) * (2 * Tb * phi + ptail))
    return acc.get()


# --------------------------------------------------------------------------- the margins

def _drift(cell: dict[str, tuple[Fraction, Fraction]]) -> arb:
    C = _logit(*cell["w"])
    lo, hi = cell["delta"]
    if lo == hi == 0:
        return 1 - (C / 2).sech()
    return 1 - _expect_sech_poly(C, _iv(lo, hi), (arb(1), arb(0), arb(0)))


def _expo(D: arb, J: arb, s: int) -> tuple[arb, arb]:
    """Bounds of sΔz − Δ²/2 over D × J: corners, plus z²/2 (the maximum over Δ, at Δ = sz)
    for the z ∈ J with sz ∈ D."""
    d0, d1, j0, j1 = (arb(x) for x in (D.lower(), D.upper(), J.lower(), J.upper()))
    corners = [s * d * j - d * d / 2 for d in (d0, d1) for j in (j0, j1)]
    lo = hi = corners[0]
    for v in corners[1:]:
        lo, hi = lo.min(v), hi.max(v)
    if s > 0:
        a, b = j0.max(d0), j1.min(d1)
    else:
        a, b = j0.max(-d1), j1.min(-d0)
    if not a > b:
        hi = hi.max(a * a / 2).max(b * b / 2)
    return lo, hi


def _fkl_h(w_lo: Fraction, w_hi: Fraction, D: arb, n_per_unit: int = 8) -> tuple[arb, arb]:
    """Lower and upper bounds of E[((L−1)/((1−w)+wL))²], L = exp(−Δ²/2 − ΔZ)."""
    wl, wh = _b(w_lo), _b(w_hi)
    dh = float(D.upper())
    T = math.ceil(2 * dh + math.sqrt(6 * dh * dh + 60))
    Z, P = _normal_probs(T, n_per_unit * T)

    def t(L: arb, w: arb) -> arb:  # increasing in L, decreasing in w
        return (L - 1) / ((1 - w) + w * L)

    lo_sum, hi_sum = arb(0), arb(0)
    for J, p in zip(Z, P, strict=True):
        e0, e1 = _expo(D, J, -1)
        rng = t(arb(e0.lower()).exp(), wh).union(t(arb(e1.upper()).exp(), wl))
        lo_sum += arb((p * arb(rng.abs_lower()) ** 2).lower())
        hi_sum += arb((p * arb(rng.abs_upper()) ** 2).upper())
    # tail: t² ≤ e^{Δ² + 2Δ|Z|}, E[e^{2Δ|Z|}; |Z| > T] ≤ 2e^{2Δ²} Φ̄(T − 2Δ)
    Dh = arb(D.upper())
    hi_sum += (3 * Dh * Dh).exp() * ((arb(T) - 2 * Dh) / arb(2).sqrt()).erfc()
    return lo_sum, hi_sum


def _fkl(cell: dict[str, tuple[Fraction, Fraction]]) -> arb:
    # the margin is H/(1 + H), H the curvature (increasing; keeps the lower end sharp)
    lo, hi = _fkl_h(*cell["w"], _iv(*cell["delta"]))
    a, b = arb(lo.lower()), arb(hi.upper())
    if a < 0:
        a = arb(0)
    return (a / (1 + a)).union(b / (1 + b))


def _rkl_half(wl: arb, wh: arb, D: arb, T: int) -> arb:
    Z, P = _normal_probs(T, 16 * T)
    mlo, mhi = (D / 2).lower(), (D / 2).upper()
    acc = _Acc()
    for J, p in zip(Z, P, strict=True):
        if J.lower() >= mhi:
            continue
        e0, e1 = _expo(D, J, 1)
        Lmin = arb(e0.lower()).exp()
        Lmax = arb(e1.upper()).exp()
        if not Lmax.upper() < 1:
            Lmax = arb(1)
        # (1−L)²/(w + (1−w)L) decreases in L ≤ 1 and in w
        val = ((1 - Lmax) ** 2 / (wh + (1 - wh) * Lmax)).union(
            (1 - Lmin) ** 2 / (wl + (1 - wl) * Lmin))
        if not J.upper() < mlo:
            val = val.union(arb(0))
        acc += p * val
    acc += arb(0).union((arb(T) / arb(2).sqrt()).erfc() / 2 / wl)
    return acc.get()


def _rkl_w(cell: dict[str, tuple[Fraction, Fraction]]) -> arb:
    wl, wh = (_b(v) for v in cell["w"])
    D = _iv(*cell["delta"])
    T = max(8, int(float(D.upper())) // 2 + 2)
    return _rkl_half(wl, wh, D, T) + _rkl_half(1 - wh, 1 - wl, D, T)


def _geometry(cell: dict[str, tuple[Fraction, Fraction]]) -> arb:
    al, ah = cell["alpha"]
    C = _logit(al, ah)
    D = _iv(*cell["delta"])
    A = _b(al) * _b(1 - al) if al == ah else _iv(al, ah) * (1 - _iv(al, ah))
    h = D / 2
    one, zero = arb(1), arb(0)
    rows = [
        ((-one / (A * A), zero, zero), 1 / A**4),
        ((-h / A, -one / A, zero), (1 + h * h) / (A * A)),
        ((-h / A, one / A, zero), (1 + h * h) / (A * A)),
        ((-h * h, -2 * h, -one), h**4 + 6 * h * h + 3),
        ((-h * h, 2 * h, -one), h**4 + 6 * h * h + 3),
        ((-h * h, zero, one), 3 - 2 * h * h + h**4),
    ]
    out = None
    for k, M in rows:
        m = 1 - abs(_expect_sech_poly(C, D, k)) / M.sqrt()
        out = m if out is None else out.min(m)
    assert out is not None
    return out


def _hull(*xs: arb) -> arb:
    out = xs[0]
    for x in xs[1:]:
        out = out.union(x)
    return out


def _times(a: arb, b: arb) -> arb:
    """Interval product from the corners."""
    a0, a1, b0, b1 = arb(a.lower()), arb(a.upper()), arb(b.lower()), arb(b.upper())
    return _hull(a0 * b0, a0 * b1, a1 * b0, a1 * b1)


def _any_family_direct(cell: dict[str, tuple[Fraction, Fraction]]) -> arb:
    r"""E_{X∼N(μ,s²)}[sech(ℓ(X)/2)] over a cell, μ = Δ/(1+r²), s² = 2r²/(1+r²), ℓ the
    log-odds log(wφ(x)/((1−w)φ((x−Δ)/r)/r)) = c + log r − x²/2 + (x − Δ)²/(2r²).

    With t = r² and x = μ + sZ, ℓ = k0 + k1 Z + k2 Z² where (expanding and collecting; the
    Δ²/(2t) terms cancel exactly): k2 = 2/(1+t) − 1, k1 = −2√2·Δ·√t/(1+t)^{3/2},
    k0 = c + ½ log t + (Δ²/2)(t − 1)/(1+t)². Monotone pieces: k2 decreasing in t;
    √t/(1+t)^{3/2} has derivative ∝ (1 − 2t) (maximum at t = ½, value (2/3)^{3/2}/√2);
    (t−1)/(1+t)² has derivative ∝ (3 − t) (maximum 1/8 at t = 3)."""
    c = _logit(*cell["w"])
    d0, d1 = cell["delta"]
    r0, r1 = cell["r"]
    t0, t1 = _b(r0 * r0), _b(r1 * r1)
    k2 = (2 / (1 + t1) - 1).union(2 / (1 + t0) - 1)
    f = _hull(t0.sqrt() / ((1 + t0) * (1 + t0).sqrt()),
              t1.sqrt() / ((1 + t1) * (1 + t1).sqrt()))
    if r0 * r0 <= Fraction(1, 2) <= r1 * r1:
        f = f.union((arb(2) / 3) ** 3 .sqrt() / arb(2).sqrt())
    g = _hull((t0 - 1) / (1 + t0) ** 2, (t1 - 1) / (1 + t1) ** 2)
    if r0 * r0 <= 3 <= r1 * r1:
        g = g.union(arb(1) / 8)
    d = _iv(d0, d1)
    k1 = -2 * arb(2).sqrt() * _times(d, f)
    k0 = c + _hull(t0.log(), t1.log()) / 2 + _times(_iv(d0 * d0, d1 * d1), g) / 2
    T = 8
    slope = float(k1.abs_upper() + 6 * k2.abs_upper())  # ~ |dℓ/dZ| where the mass is
    Z, P = _normal_probs(T, 40 * max(2, math.ceil(slope) + 1))
    acc = _Acc()
    for J, p in zip(Z, P, strict=True):
        J2 = (arb(J.abs_lower()) ** 2).union(arb(J.abs_upper()) ** 2)
        acc += p * _sech_on((k0 + _times(k1, J) + _times(k2, J2)) / 2)
    acc += arb(0).union((arb(T) / arb(2).sqrt()).erfc())
    return acc.get()


def _any_family(cell: dict[str, tuple[Fraction, Fraction]]) -> arb:
    r"""1 − m/bound, m/bound = E_{X∼N(μ,s²)}[sech(ℓ(X)/2)] (see :func:`_any_family_direct`).

    For r ≤ 1 on the reflected box: (1−w)φ_n·(wφ_o/q) = wφ_o·((1−w)φ_n/q) pointwise, so
    m(w, Δ, r) = E_{φ_o}[(1−w)φ_n/q] = ((1−w)/w)·E_{φ_n}[wφ_o/q]; putting x = Δ − r·y turns
    φ_n(x)dx into the N(0, 1) measure in y and φ_o(x) into the density of N(Δ/r, 1/r²) in y
    (times the Jacobian, which cancels in the ratio), so E_{φ_n}[wφ_o/q] = m(1−w, Δ/r, 1/r);
    the bound ½√((1−w)/w)·√(2r/(1+r²))·e^{−Δ²/(4(1+r²))} picks up the same factor (1−w)/w
    under (w, Δ, r) → (1−w, Δ/r, 1/r). So m/bound at (w, Δ, r) equals m/bound at the image,
    which lies in w ∈ [1 − w1, 1 − w0], Δ ∈ [Δ0/r1, Δ1/r0], r ∈ [1/r1, 1/r0]. A cell with
    r0 < 1 < r1 is the union of its parts r ≤ 1 and r ≥ 1."""
    r0, r1 = cell["r"]
    if r0 < 1 < r1:
        parts = [{**cell, "r": (r0, Fraction(1))}, {**cell, "r": (Fraction(1), r1)}]
    else:
        parts = [cell]
    out = None
    for part in parts:
        (w0, w1), (d0, d1), (q0, q1) = part["w"], part["delta"], part["r"]
        if q1 <= 1:
            part = {"w": (1 - w1, 1 - w0), "delta": (d0 / q1, d1 / q0),
                    "r": (1 / q1, 1 / q0)}
        v = _any_family_direct(part)
        out = v if out is None else out.union(v)
    assert out is not None
    return 1 - out


_MARGIN = {"rkl.drift_bc_bound": _drift, "fkl.mass_forgetting": _fkl,
           "rkl.weight_convergence": _rkl_w, "rkl.local_geometry": _geometry,
           "beyond.any_family": _any_family}


# --------------------------------------------------------------------------- local arguments

def _drift_curvature(region: dict[str, tuple[Fraction, Fraction]]) -> bool:
    """Hessian of M(c, Δ) = 1 − E[sech((c − ΔZ)/2)] positive definite on the region (which
    must contain (w, Δ) = (½, 0) and lie in Δ ≥ 0): M(0,0) = 0 and ∇M(0,0) = 0 exactly (sech'(0)
    = 0), so Taylor along the segment from (0, 0) gives M ≥ 0 there."""
    (wl, wh), (dl, dh) = region["w"], region["delta"]
    if not (wl <= Fraction(1, 2) <= wh and dl == 0 <= dh and 0 < wl and wh < 1):
        return False
    C, D = _logit(wl, wh), _iv(dl, dh)
    T, n = 8, 160
    Z, P = _normal_probs(T, n)
    Tb = arb(T)
    phi = (-(Tb * Tb) / 2).exp() / (2 * arb.pi()).sqrt()
    pt = (Tb / arb(2).sqrt()).erfc()
    tails = (pt, 2 * phi, 2 * Tb * phi + pt)
    acc = [arb(0), arb(0), arb(0)]
    for J, p in zip(Z, P, strict=True):
        v = (C - D * J) / 2
        s = v.sech()
        s2 = s * (1 - 2 * s * s)  # sech''
        acc[0] += p * s2
        acc[1] += p * J * s2
        acc[2] += p * J * J * s2
    e0, e1, e2 = (acc[j] + _pm(tails[j]) for j in range(3))  # |sech''| ≤ 1
    hcc, hcd, hdd = -e0 / 4, e1 / 4, -e2 / 4
    off = max(abs(float(hcd.lower())), abs(float(hcd.upper())))
    return bool(hcc.lower() > 0 and hdd.lower() > 0
                and hcc.lower() * hdd.lower() - arb(off) ** 2 > 0)


def _check_local(claim: str, loc: dict[str, Any], res: CheckResult) -> bool:
    name = loc.get("name", "")
    region = {k: (_q(v[0]), None if v[1] == "inf" else _q(v[1]))
              for k, v in loc.get("region", {}).items()}
    if claim == "rkl.drift_bc_bound":
        if name == "sharpness":
            # at (½, 0): R = sech(0) = 1 exactly, m/bound = 1: attained
            return region == {"w": (Fraction(1, 2), Fraction(1, 2)), "delta": (0, 0)} and \
                (1 - (_logit(Fraction(1, 2), Fraction(1, 2)) / 2).sech()).contains(0)
        if name == "curvature_at_attainment":
            return _drift_curvature(region)  # type: ignore[arg-type]
        if name == "asymptotic":
            d0 = region["delta"][0]
            if d0 <= 0:
                return False
            # R ≤ √(2π)/Δ: φ ≤ 1/√(2π), ∫ sech(u/2) du = 2π
            return bool((1 - (2 * arb.pi()).sqrt() / _b(d0)).lower() >= 0)
        return False
    if claim == "fkl.mass_forgetting":
        d = region["delta"][0]
        D = _b(d)
        lo, hi = _fkl_h(Fraction(0), Fraction(0), D, n_per_unit=256)
        H0 = arb(lo.lower()).union(arb(hi.upper()))
        chi2 = (D * D).exp() - 1
        if name.startswith(("curvature_at_zero", "plain_rate")):
            return bool((H0 - chi2).contains(0))
        if name.startswith(("em_order", "logit_order")):
            return bool(H0.lower() > 0)
        return False
    if claim == "rkl.weight_convergence":
        a, d = region["alpha"][0], region["delta"][0]
        if name.startswith("minimiser"):
            return True  # w = α: q = p*, log(q/p*) = 0 identically (nothing to enclose)
        if name.startswith("rate"):
            return bool(_rkl_w({"w": (a, a), "delta": (d, d)}).lower() > 0)
        return False
    return False


# --------------------------------------------------------------------------- cover

def _cover(box: dict[str, tuple[Fraction, Fraction]],
           cells: list[dict[str, tuple[Fraction, Fraction]]], res: CheckResult) -> None:
    names = list(box)
    free = [k for k in names if box[k][0] < box[k][1]]
    vol_box = Fraction(1)
    for k in free:
        vol_box *= box[k][1] - box[k][0]
    total = Fraction(0)
    for i, c in enumerate(cells):
        for k in names:
            lo, hi = c[k]
            if not (box[k][0] <= lo <= hi <= box[k][1]):
                res.fail(f"cell {i} leaves the box in {k}: [{lo}, {hi}]")
                return
            if k not in free and lo != hi:
                res.fail(f"cell {i} is not degenerate in the fixed parameter {k}")
                return
        v = Fraction(1)
        for k in free:
            v *= c[k][1] - c[k][0]
        if free and v == 0:
            res.fail(f"cell {i} has zero volume")
            return
        total += v
    if total != vol_box:
        res.fail(f"the cells' volumes add up to {float(total):.17g}, the box's is "
                 f"{float(vol_box):.17g}: they do not cover the box exactly")
        return
    if not free:
        return
    # pairwise: interiors disjoint (sweep along the first free axis)
    k0 = free[0]
    order = sorted(range(len(cells)), key=lambda i: cells[i][k0][0])
    active: list[int] = []
    for i in order:
        lo_i = cells[i][k0][0]
        active = [j for j in active if cells[j][k0][1] > lo_i]
        for j in active:
            if all(cells[i][k][0] < cells[j][k][1] and cells[j][k][0] < cells[i][k][1]
                   for k in free):
                res.fail(f"cells {j} and {i} overlap")
                return
        active.append(i)


_SPLIT_DEPTH = 8


def _holds(margin: Any, cell: dict[str, tuple[Fraction, Fraction]], m: arb, strict: bool,
           box: dict[str, tuple[Fraction, Fraction]], depth: int) -> bool:
    """The margin is ≥ 0 (> 0) on the cell: its enclosure says so, or (this checker's formulas
    may enclose less tightly than the prover's) it does on both halves, recursively."""
    lo = m.lower()
    if lo > 0 if strict else lo >= 0:
        return True
    free = [k for k in cell if cell[k][0] < cell[k][1]]
    if depth == 0 or not free:
        return False
    k = max(free, key=lambda k: (cell[k][1] - cell[k][0]) / (box[k][1] - box[k][0]))
    mid = (cell[k][0] + cell[k][1]) / 2
    for part in ((cell[k][0], mid), (mid, cell[k][1])):
        piece = {**cell, k: part}
        if not _holds(margin, piece, margin(piece), strict, box, depth - 1):
            return False
    return True


# --------------------------------------------------------------------------- entry points

def check_certificate(cert: dict[str, Any] | str) -> CheckResult:
    """Re-check a certificate (a parsed JSON dict or a path). Never raises on bad content:
    every problem is reported in the result.

    Examples
    --------
    >>> from symforget import certified
    >>> cert = certified.prove("rkl.drift_bc_bound", {"w": ("1/1000", "1/5"), "delta": (1, 30)})
    >>> record = cert.to_json()
    >>> print(certified.check_certificate(record))
    certificate valid: 1 cells re-enclosed, 2 local arguments re-checked, cover exact

    A tampered margin is caught:

    >>> record["cells"][0]["margin"] = [-1.0, -0.5]
    >>> result = certified.check_certificate(record)
    >>> result.ok, str(result)
    (False, 'certificate REJECTED: cell 0: recorded margin [-1.0, -0.5] is inconsistent ...')
    """
    res = CheckResult()
    try:
        if isinstance(cert, str):
            with open(cert, encoding="utf-8") as fh:
                cert = json.load(fh)
        assert isinstance(cert, dict)
        with ctx.workprec(_PREC):
            _check(cert, res)
    except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError, AssertionError,
            IndexError) as exc:
        res.fail(f"malformed certificate ({type(exc).__name__}: {exc})")
    return res


def _check(cert: dict[str, Any], res: CheckResult) -> None:
    if cert.get("format") != "symforget-certificate/1":
        res.fail(f"unknown format {cert.get('format')!r}")
        return
    claim = cert.get("claim")
    if claim not in _MARGIN:
        res.fail(f"claim {claim!r} is not one this checker knows")
        return
    if cert.get("mutant") is not None or cert.get("status") != "certified":
        res.fail("only certificates of the true statement with status 'certified' are valid")
        return
    if bool(cert.get("strict")) != _STRICT[claim]:
        res.fail("the strictness recorded does not match the claim")
        return
    axes = _AXES[claim]
    box = {k: (_q(v[0]), _q(v[1])) for k, v in cert["box"].items()}
    if tuple(sorted(box)) != tuple(sorted(axes)):
        res.fail(f"box parameters {sorted(box)} are not those of {claim}: {sorted(axes)}")
        return
    for k, (lo, hi) in box.items():
        if lo > hi or lo < 0 or (k in ("w", "alpha") and hi > 1):
            res.fail(f"box {k} = [{lo}, {hi}] is outside the domain")
            return
        if k in _OPEN01[claim] and not (0 < lo and hi < 1):
            res.fail(f"box {k} = [{lo}, {hi}] must lie in (0, 1)")
            return
    # local arguments
    locals_ok: dict[str, dict[str, Any]] = {}
    for loc in cert.get("local", []):
        if loc.get("kind") == "asymptotic" and not loc.get("ok"):
            continue  # an unavailable closure certifies nothing and is not claimed
        res.local += 1
        if not _check_local(claim, loc, res):
            res.fail(f"local argument {loc.get('name')!r} does not re-check")
        else:
            locals_ok[loc["name"]] = loc
    if claim == "rkl.drift_bc_bound" and "sharpness" not in locals_ok:
        res.fail("the sharpness argument at (½, 0) is missing")
    # cells
    cells = []
    strict = _STRICT[claim]
    margin = _MARGIN[claim]
    for i, rec in enumerate(cert["cells"]):
        cell = {k: (_q(rec["lo"][k]), _q(rec["hi"][k])) for k in axes}
        if set(rec["lo"]) != set(axes) or set(rec["hi"]) != set(axes):
            res.fail(f"cell {i}: parameters {sorted(rec['lo'])} are not {sorted(axes)}")
            return
        cells.append(cell)
        by = rec.get("by")
        if by is not None:
            name = by.removeprefix("local:")
            loc = locals_ok.get(name)
            if loc is None or not loc.get("covers"):
                res.fail(f"cell {i} is covered by {by!r}, which is not a valid covering "
                         "argument")
                continue
            reg = loc["region"]
            if not all(_q(reg[k][0]) <= cell[k][0] and cell[k][1] <= _q(reg[k][1])
                       for k in reg):
                res.fail(f"cell {i} lies outside the region of {name!r}")
            continue
        rec_m = rec.get("margin")
        m = margin(cell)
        res.cells += 1
        if not _holds(margin, cell, m, strict, box, _SPLIT_DEPTH):
            res.fail(f"cell {i} {rec['lo']}–{rec['hi']}: re-enclosed margin {m} is not "
                     f"{'> 0' if strict else '≥ 0'} (nor on its pieces)")
            continue
        if (not isinstance(rec_m, list) or len(rec_m) != 2
                or not m.overlaps(arb(rec_m[0]).union(arb(rec_m[1])))):
            res.fail(f"cell {i}: recorded margin {rec_m} is inconsistent with the "
                     f"re-enclosure {m}")
    _cover(box, cells, res)


def main(argv: list[str] | None = None) -> int:
    """``python -m symforget.certified.check CERT.json``: exit 0 valid, 1 rejected, 2 usage."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m symforget.certified.check CERT.json", file=sys.stderr)
        return 2
    try:
        with open(args[0], encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        print(f"error: {args[0]}: {exc}", file=sys.stderr)
        return 2
    res = check_certificate(data)
    print(res)
    return 0 if res.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
