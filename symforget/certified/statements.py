r"""The certifiable claims: each claim's margin as a rigorous enclosure over a cell, its local
arguments (points where the bound is attained, identities at a point) and its asymptotic
closure.

A *margin* is a function of the claim's parameters that is ≥ 0 (or > 0 for a strict claim)
exactly when the claim holds there; ``margin(cell, variant)`` returns an Arb ball containing
the margin's range over the whole cell. The ``variant`` holds the statement's constants (the
true ones by default; a mutant of :mod:`symforget.claims` changes them), so the same prover
certifies the claim and must refute every mutant.

Whitened 1-D units throughout: μo = 0, μn = Δ ≥ 0, σ = 1; φ the standard normal density;
Z ~ N(0, 1); c = log(w/(1−w)) (or log(α/(1−α))).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from flint import arb

from .enclose import (
    Cell,
    exp_range,
    gauss_bounds,
    gauss_expect,
    interval,
    normal_tail,
    rational,
    sech_expect,
    sech_range,
)

__all__ = ["Axis", "Local", "Certifiable", "CERTIFIABLE", "get", "ball_json"]

F = Fraction


@dataclass(frozen=True)
class Axis:
    """One parameter of a certifiable claim: its default box and its (closed) domain."""

    name: str
    lo: Fraction
    hi: Fraction
    domain: tuple[Fraction, Fraction]
    open_lo: bool = False
    open_hi: bool = False
    #: width that counts as "1" when choosing the axis to split (relative scales)
    scale: Fraction = Fraction(1)
    doc: str = ""


@dataclass(frozen=True)
class Local:
    """A local argument (or identity at a point, or asymptotic closure) and its outcome.

    ``region`` maps parameter names to ``[lo, hi]`` (exact strings; ``"inf"`` for an
    unbounded side); ``covers`` says whether the argument certifies every cell inside
    ``region`` (so the subdivision stops there). ``ok``: the argument holds; ``refuted``: an
    enclosure proves the stated version false (a counterexample); neither: inconclusive.
    """

    name: str
    kind: str  # "region" | "point" | "asymptotic"
    region: dict[str, list[str]]
    enclosures: dict[str, list[float]]
    ok: bool
    refuted: bool
    detail: str
    covers: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "region": self.region,
                "enclosures": self.enclosures, "ok": self.ok, "refuted": self.refuted,
                "covers": self.covers, "detail": self.detail}


@dataclass(frozen=True)
class Certifiable:
    """A claim the prover can certify: axes, margin, local arguments, mutants."""

    id: str
    statement: str
    axes: tuple[Axis, ...]
    margin: Callable[[Cell, dict[str, Any]], arb]
    local: Callable[[Cell, dict[str, Any]], list[Local]]
    default_variant: dict[str, Any]
    mutants: dict[str, dict[str, Any]]
    strict: bool = False
    #: axes the margin depends on (the others are never split)
    split_axes: tuple[str, ...] = ()
    method: str = ""
    #: mutants of the claims registry that are dynamics statements refuted only by an exact
    #: identity (documented here, not by an enclosure)
    notes: dict[str, str] = field(default_factory=dict)
    #: further boxes certified separately (``prove(id, box)``, ``--box``): parts of the claim
    #: that one product box with the default one cannot hold (e.g. both sides of an
    #: attainment point that has no local argument); given as overrides of the default box
    more_boxes: tuple[dict[str, tuple[Fraction, Fraction]], ...] = ()

    def boxes(self) -> list[Cell]:
        """The default box and the :attr:`more_boxes`, each a full box."""
        return [self.default_box()] + [{**self.default_box(), **b} for b in self.more_boxes]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.axes)

    def default_box(self) -> Cell:
        return {a.name: (a.lo, a.hi) for a in self.axes}

    def variant(self, mutant: str | None) -> dict[str, Any]:
        out = dict(self.default_variant)
        if mutant is not None:
            out.update(self.mutants[mutant])
        return out


def ball_json(x: arb) -> list[float]:
    """[lo, hi] floats rounded outward (lo ≤ every point of the ball ≤ hi)."""
    import math

    lo = float(x.lower())
    hi = float(x.upper())
    return [math.nextafter(lo, -math.inf), math.nextafter(hi, math.inf)]


def _s(q: Fraction) -> str:
    return str(q)


def _logit_ball(lo: Fraction, hi: Fraction) -> arb:
    """Ball containing log(w/(1−w)) for w ∈ [lo, hi] ⊂ (0, 1) (increasing in w)."""
    a = (rational(lo) / rational(1 - lo)).log()
    if lo == hi:
        return a
    b = (rational(hi) / rational(1 - hi)).log()
    return a.union(b)


def _contains(box: Cell, point: dict[str, Fraction]) -> bool:
    return all(box[k][0] <= v <= box[k][1] for k, v in point.items())


def _abs_tail(j: int, T: arb) -> arb:
    r""":math:`\mathbb E[|Z|^j; |Z| > T]` for j = 0, 1, 2 (exact Gaussian formulas)."""
    phiT = (-(T * T) / 2).exp() / (2 * arb.pi()).sqrt()
    P = normal_tail(T)
    return (P, 2 * phiT, 2 * T * phiT + P)[j]


def _sym(b: arb) -> arb:
    """The ball [−b, b] for b ≥ 0 (a tail of unknown sign)."""
    return arb(0).union(b).union(-b)


# =============================================================================================
# rkl.drift_bc_bound
# =============================================================================================

def _drift_R(C: arb, D: arb, exact_zero: bool) -> arb:
    r""":math:`R(c,\Delta) = \mathbb E_Z[\operatorname{sech}((c-\Delta Z)/2)]` over the balls;
    at Δ = 0 exactly the integrand does not depend on Z and R = sech(c/2)."""
    if exact_zero:
        return (C / 2).sech()
    return sech_expect(C, D, (arb(1), arb(0), arb(0)))


def _drift_factor(D: arb, variant: dict[str, Any]) -> arb:
    """m/bound = R · f(Δ) with f = (1/(2p)) e^{(−1/8 − e)Δ²} for the stated p·√((1−w)/w)e^{eΔ²}."""
    p, e = rational(variant["prefactor"]), rational(variant["exponent"])
    k = -rational(F(1, 8)) - e
    return (k * D * D).exp() / (2 * p)


def drift_margin(cell: Cell, variant: dict[str, Any]) -> arb:
    r"""Margin of ``rkl.drift_bc_bound``: :math:`1 - m(w,\Delta)/\text{bound}(w,\Delta)`.

    Maths: with a = wφ(x), b = (1−w)φ(x−Δ) and ℓ = log(a/b) = c − Δx + Δ²/2,
    :math:`b/(a+b) = \tfrac12\sqrt{b/a}\,\operatorname{sech}(\ell/2)` and
    :math:`\sqrt{\varphi(x)\varphi(x-\Delta)} = e^{-\Delta^2/8}\varphi(x-\Delta/2)`, so
    (x = Δ/2 + Z)

    .. math:: m(w,\Delta) = \tfrac12\sqrt{(1-w)/w}\,e^{-\Delta^2/8}\,R(c,\Delta),\qquad
              R = \mathbb E_Z[\operatorname{sech}((c-\Delta Z)/2)] \in (0, 1].

    For the stated bound p·√((1−w)/w)·e^{eΔ²} the margin is 1 − R·e^{(−1/8−e)Δ²}/(2p) (the true
    statement: 1 − R). Rigorous: R is enclosed by :func:`~.enclose.sech_expect` (panel sums
    with Arb's erf / Gudermannian masses, interval evaluation of the integrand over panel × cell,
    proved tails); c over the cell is the hull of its (monotone) end-point values.
    """
    (wl, wh), (dl, dh) = cell["w"], cell["delta"]
    C = _logit_ball(wl, wh)
    D = interval(dl, dh)
    R = _drift_R(C, D, dl == dh == 0)
    return 1 - R * _drift_factor(D, variant)


def _drift_hessian(C: arb, D: arb, variant: dict[str, Any]) -> tuple[arb, arb, arb]:
    r"""Enclosures of the Hessian of M(c, Δ) = 1 − f(Δ)R(c, Δ) over the balls C, D.

    With v = (c − ΔZ)/2, s = sech: R_c = E[s'(v)]/2, R_Δ = −E[Z s'(v)]/2, R_cc = E[s''(v)]/4,
    R_cΔ = −E[Z s''(v)]/4, R_ΔΔ = E[Z² s''(v)]/4, s' = −sech·tanh (|s'| ≤ ½),
    s'' = sech(1 − 2 sech²) (|s''| ≤ 1); f = e^{kΔ²}/(2p), f' = 2kΔf, f'' = (2k + 4k²Δ²)f.
    Differentiation under E is justified by the bounded derivatives (dominated convergence).
    """
    T, n = 8, 128
    Tb = arb(T)

    def E(j: int, deriv: int) -> arb:
        def h(J: arb) -> arb:
            v = (C - D * J) / 2
            s = v.sech()
            val = -s * v.tanh() if deriv == 1 else s * (1 - 2 * s * s)
            return val * (J**j if j else arb(1))
        sup = arb(1) / 2 if deriv == 1 else arb(1)
        return gauss_expect(h, _sym(sup * _abs_tail(j, Tb)), T, n)

    R = sech_expect(C, D, (arb(1), arb(0), arb(0)))
    Rc, RD = E(0, 1) / 2, -E(1, 1) / 2
    Rcc, RcD, RDD = E(0, 2) / 4, -E(1, 2) / 4, E(2, 2) / 4
    p, e = rational(variant["prefactor"]), rational(variant["exponent"])
    k = -rational(F(1, 8)) - e
    f = (k * D * D).exp() / (2 * p)
    f1 = 2 * k * D * f
    f2 = (2 * k + 4 * k * k * D * D) * f
    return -f * Rcc, -(f1 * Rc + f * RcD), -(f2 * R + 2 * f1 * RD + f * RDD)


#: the neighbourhood of the attainment point (w, Δ) = (½, 0) covered by the curvature argument
DRIFT_LOCAL = {"w": (F(2, 5), F(3, 5)), "delta": (F(0), F(1, 2))}


def drift_local(box: Cell, variant: dict[str, Any]) -> list[Local]:
    r"""Local arguments of ``rkl.drift_bc_bound``.

    * ``sharpness`` (the constant ½ is the best one): at (w, Δ) = (½, 0) the integrand of R is
      constant, R = sech(0) = 1 exactly, so m/bound = f(0) = 1/(2p); the stated bound is
      attained iff the enclosure of m/bound − 1 there is ≥ 0 (with the inequality, = 0).
    * ``curvature_at_attainment`` (needed when the box contains (½, 0), where the margin is 0):
      in (c, Δ) on N = logit([2/5, 3/5]) × [0, ½] (convex, contains (0, 0)): M(0,0) = 0,
      ∇M(0,0) = 0 exactly (s'(0) = 0, f'(0) = 0), and every matrix in the Arb enclosure of the
      Hessian over N is positive definite (H_cc > 0, H_ΔΔ > 0, H_cc H_ΔΔ > H_cΔ², checked on the
      interval ends). Taylor's theorem with the mean-value remainder along the segment from
      (0, 0) gives M = ½ xᵀH(ξ)x ≥ 0 on N. The cells inside N are covered by this argument.
    * ``asymptotic`` (Δ ≥ Δ_hi of the box, every w ∈ (0, 1)): φ ≤ 1/√(2π) and
      ∫ sech(u/2) du = 2π give R ≤ √(2π)/Δ; with f non-increasing in Δ (e ≥ −1/8... i.e.
      k ≤ 0), m/bound ≤ f(Δ_hi)√(2π)/Δ_hi, enclosed at Δ_hi.
    """
    out: list[Local] = []
    # sharpness at (1/2, 0)
    s = _drift_factor(arb(0), variant) - 1
    ok_s = bool(s.lower() >= 0)
    out.append(Local("sharpness", "point", {"w": ["1/2", "1/2"], "delta": ["0", "0"]},
                     {"m/bound - 1": ball_json(s)}, ok_s, bool(s.upper() < 0),
                     "m/bound at (w, Δ) = (1/2, 0) is 1/(2p) exactly (R = sech 0 = 1): the "
                     "stated bound is attained there iff this is ≥ 0"))
    # curvature at the attainment point
    if _contains(box, {"w": F(1, 2), "delta": F(0)}):
        M0 = 1 - _drift_factor(arb(0), variant)
        region = {k: [_s(lo), _s(hi)] for k, (lo, hi) in DRIFT_LOCAL.items()}
        if not M0.contains(0):
            out.append(Local("curvature_at_attainment", "region", region,
                             {"M(1/2,0)": ball_json(M0)}, False, bool(M0.upper() < 0),
                             "the margin at (½, 0) is not 0: no attainment point to cover"))
        else:
            C = _logit_ball(*DRIFT_LOCAL["w"])
            D = interval(*DRIFT_LOCAL["delta"])
            hcc, hcd, hdd = _drift_hessian(C, D, variant)
            off = max(abs(float(hcd.lower())), abs(float(hcd.upper())))
            det_lo = hcc.lower() * hdd.lower() - arb(off) * arb(off)
            ok = bool(hcc.lower() > 0 and hdd.lower() > 0 and det_lo > 0)
            out.append(Local("curvature_at_attainment", "region", region,
                             {"H_cc": ball_json(hcc), "H_cdelta": ball_json(hcd),
                              "H_deltadelta": ball_json(hdd), "M(1/2,0)": ball_json(M0)},
                             ok, False,
                             "M(0,0) = 0, ∇M(0,0) = 0, Hessian positive definite on N "
                             "(in c = logit w, Δ): M ≥ 0 on N" if ok else
                             "Hessian enclosure not positive definite on N", covers=ok))
    # asymptotic closure
    d0 = box["delta"][1]
    p, e = F(variant["prefactor"]), F(variant["exponent"])
    if d0 > 0 and -F(1, 8) - e <= 0:
        D0 = rational(d0)
        bound = _drift_factor(D0, variant) * (2 * arb.pi()).sqrt() / D0
        marg = 1 - bound
        ok = bool(marg.lower() >= 0)
        out.append(Local("asymptotic", "asymptotic", {"w": ["0", "1"], "delta": [_s(d0), "inf"]},
                         {"margin_lower": ball_json(marg)}, ok, False,
                         f"R ≤ √(2π)/Δ and f non-increasing: m/bound ≤ {float(bound.upper()):.4g}"
                         f" for all Δ ≥ {float(d0):g}, w ∈ (0, 1)"))
    else:
        out.append(Local("asymptotic", "asymptotic", {"w": ["0", "1"], "delta": [_s(d0), "inf"]},
                         {}, False, False,
                         "no closure: the stated exponent makes f grow with Δ (or Δ_hi = 0)"
                         if d0 > 0 else "no closure at Δ_hi = 0"))
    del p
    return out


# =============================================================================================
# fkl.mass_forgetting
# =============================================================================================

def _sq_range(t: arb) -> tuple[arb, arb]:
    """Lower and upper bounds of t² over the ball t."""
    a, b = arb(t.abs_lower()), arb(t.abs_upper())
    return a * a, b * b


def _ell_range(D: arb, J: arb, s: int) -> tuple[arb, arb]:
    """Lower and upper bounds of f(Δ, z) = sΔz − Δ²/2 over the balls D × J (s = ±1).

    f is linear in z and concave in Δ with its maximum z²/2 at Δ = sz, so its range over a box
    is spanned by the four corners and, when sz ∈ D for some z ∈ J, by z²/2 at the ends of that
    set (direct ball evaluation would lose the dependency between Δ² and Δz)."""
    ds = (arb(D.lower()), arb(D.upper()))
    js = (arb(J.lower()), arb(J.upper()))
    vals = [s * d * j - d * d / 2 for d in ds for j in js]
    lo, hi = vals[0], vals[0]
    for v in vals[1:]:
        lo, hi = lo.min(v), hi.max(v)
    # z with s·z ∈ [Δ_lo, Δ_hi]: z ∈ s·[Δ_lo, Δ_hi]
    zl, zh = (ds[0], ds[1]) if s > 0 else (-ds[1], -ds[0])
    a, b = js[0].max(zl), js[1].min(zh)
    if not a > b:  # (an empty set only adds candidates: the upper bound stays valid)
        hi = hi.max(a * a / 2).max(b * b / 2)
    return lo, hi


def _squash(lo: arb, hi: arb) -> arb:
    """Ball containing H/(1 + H) for H ∈ [lo, hi], lo ≥ 0 (increasing; keeps a small lower
    end exact next to a huge upper one)."""
    a = arb(lo.lower()).nonnegative_part() if lo.lower() < 0 else arb(lo.lower())
    b = arb(hi.upper())
    return (a / (1 + a)).union(b / (1 + b))


def _fkl_curvature(W: arb, D: arb, T: int | None = None, n: int | None = None
                   ) -> tuple[arb, arb]:
    r""":math:`\partial^2 L_F/\partial w^2 = \mathbb E_Z[t^2]`, t = g/(1+wg) = (L−1)/((1−w)+wL),
    L = e^{−Δ²/2−ΔZ} (x = Δ + Z under P_train = φ(x − Δ)). Per panel: the range of L from the
    end points of the exponent (exp increasing), t increasing in L and decreasing in w (so its
    range comes from two corner evaluations), then t². Tail bound
    :math:`t^2 \le e^{2|\ell|} \le e^{\Delta^2+2\Delta|Z|}` (1 + wg is a convex combination
    of 1 and L = e^ℓ, |g| ≤ max(1, L)) and
    :math:`\mathbb E[e^{2\Delta|Z|};|Z|>T] \le 2e^{2\Delta^2}\bar\Phi(T-2\Delta)`; by default
    T ≥ 2Δ + √(6Δ² + 60) makes that tail < e^{-30}, with 8 panels per unit."""
    import math

    dh = float(D.upper())
    if T is None:
        T = math.ceil(2 * dh + math.sqrt(6 * dh * dh + 60))
    if n is None:
        n = 8 * T
    wl, wh = arb(W.lower()), arb(W.upper())

    def t(L: arb, w: arb) -> arb:
        return (L - 1) / ((1 - w) + w * L)

    def h(J: arb) -> tuple[arb, arb]:
        elo, ehi = _ell_range(D, J, -1)
        Llo, Lhi = arb(elo.lower()).exp(), arb(ehi.upper()).exp()
        return _sq_range(t(Llo, wh).union(t(Lhi, wl)))

    Dh = arb(D.upper())
    tail = (3 * Dh * Dh).exp() * (((arb(T) - 2 * Dh) / arb(2).sqrt()).erfc())
    return gauss_bounds(h, arb(0).union(tail), T, n)


def fkl_margin(cell: Cell, variant: dict[str, Any]) -> arb:
    r"""Margin of ``fkl.mass_forgetting``: H/(1 + H) for the curvature H = ∂²L_F/∂w² (must be
    > 0; the increasing map into [0, 1) keeps the enclosure's lower end sharp when its upper end
    is astronomically large, as at w = 0, Δ = 10 where H = e^{100} − 1).

    Maths: L_F(w) = −E[log(1 + w g)] with g = φ(x)/φ(x−Δ) − 1 under x ~ φ(x − Δ), so
    ∂²L_F/∂w² = E[g²/(1+wg)²]. With ∂L_F/∂w(0) = −E[g] = −(∫φ − 1) = 0 exactly, curvature > 0 on
    the box gives ∂L_F/∂w(w) = ∫_0^w ∂²L_F > 0 for w > 0: the claim's gradient part. Rigorous:
    :func:`~.enclose.gauss_expect` (Arb erf panel probabilities, interval integrand over panel ×
    cell) with the proved tail bound of :func:`_fkl_curvature`.
    """
    W = interval(*cell["w"])
    D = interval(*cell["delta"])
    return _squash(*_fkl_curvature(W, D))


def fkl_local(box: Cell, variant: dict[str, Any]) -> list[Local]:
    r"""Identities at w = 0 of ``fkl.mass_forgetting`` (at Δ = the box's lower end and 1):

    * ``curvature_at_zero``: ∂²L_F/∂w²(0) = χ² = e^{Δ²} − 1 (stated e^{qΔ²} − 1): refuted when
      the enclosure of E[g²] − stated excludes 0. The same quantity is the plain flow's rate
      (ẇ = −∂L_F/∂w ≈ −∂²L_F(0) w): ``plain_rate`` compares the stated rate with it.
    * ``em_order``, ``logit_order``: w_t ~ t^p needs the velocity's first non-zero Taylor
      coefficient at w = 0 to be the (1 − 1/p)-th. EM: T(w) − w = −w(1−w)∂L_F/∂w =
      −∂²L_F(0)w² + O(w³) (order 2, p = −1); logit flow: ẇ = −w²(1−w)²∂L_F/∂w = −∂²L_F(0)w³ +
      O(w⁴) (order 3, p = −½), the w² coefficient being −∂L_F/∂w(0) = E[g] = 0 exactly
      (∫φ = 1). The enclosure of ∂²L_F(0) > 0 decides.
    """
    out: list[Local] = []
    q = rational(variant["curvature_exponent"])
    plain = rational(variant["plain_rate_factor"])
    dl = box["delta"][0]
    points = sorted({dl, min(max(dl, F(1)), box["delta"][1])})
    for d in points:
        D = rational(d)
        lo, hi = _fkl_curvature(arb(0), D, n=2048)
        H0 = arb(lo.lower()).union(arb(hi.upper()))
        stated = (q * D * D).exp() - 1
        diff = H0 - stated
        region = {"w": ["0", "0"], "delta": [_s(d), _s(d)]}
        out.append(Local(f"curvature_at_zero[delta={d}]", "point", region,
                         {"H(0)": ball_json(H0), "H(0) - stated": ball_json(diff)},
                         bool(diff.contains(0)), not bool(diff.contains(0)),
                         "∂²L_F/∂w²(0) = E[g²] against the stated curvature"))
        rate = (plain * (D * D).exp() - plain) - H0
        out.append(Local(f"plain_rate[delta={d}]", "point", region,
                         {"stated - H(0)": ball_json(rate)},
                         bool(rate.contains(0)), not bool(rate.contains(0)),
                         "plain flow rate (linearisation at 0) = ∂²L_F/∂w²(0)"))
        k_em = 1 - 1 / F(variant["em_exponent"])
        a2 = -H0  # EM: coefficient of w²
        ok = (k_em == 2 and a2.upper() < 0)
        out.append(Local(f"em_order[delta={d}]", "point", region,
                         {"a2 = -H(0)": ball_json(a2)}, bool(ok),
                         bool(k_em != 2 and a2.upper() < 0),
                         f"stated exponent needs velocity order {k_em}; the w² coefficient "
                         "−∂²L_F(0) is enclosed < 0, so the order is 2 (p = −1)"))
        k_lg = 1 - 1 / F(variant["logit_exponent"])
        a3 = -H0
        ok = (k_lg == 3 and a3.upper() < 0)
        out.append(Local(f"logit_order[delta={d}]", "point", region,
                         {"a3 = -H(0)": ball_json(a3)}, bool(ok), bool(k_lg != 3),
                         f"stated exponent needs velocity order {k_lg}; the w² coefficient is "
                         "E[g] = 0 exactly (∫φ = 1) and the w³ one −∂²L_F(0) < 0: order 3 "
                         "(p = −1/2)"))
    return out


# =============================================================================================
# rkl.weight_convergence
# =============================================================================================

def _rkl_half(W: arb, D: arb, T: int, n: int) -> arb:
    r"""G(w) = E_{X∼φ}[h(L, w); X < Δ/2], h = (1−L)²/(w+(1−w)L), L = e^{ΔX−Δ²/2} ∈ (0, 1]
    there; h is decreasing in L (for L ≤ 1) and in w, so its range over a panel × cell comes
    from two corner evaluations. Tail X < −T: h ≤ 1/w."""
    wl, wh = arb(W.lower()), arb(W.upper())
    half_lo, half_hi = (D / 2).lower(), (D / 2).upper()

    def h_at(L: arb, w: arb) -> arb:
        return (1 - L) ** 2 / (w + (1 - w) * L)

    def h(J: arb) -> arb:
        if J.lower() >= half_hi:
            return arb(0)
        elo, ehi = _ell_range(D, J, 1)
        Llo = arb(elo.lower()).exp()
        Lhi = arb(ehi.upper()).exp()
        if not Lhi.upper() < 1:
            Lhi = arb(1)
        val = h_at(Lhi, wh).union(h_at(Llo, wl))
        return val if J.upper() < half_lo else val.union(arb(0))

    tail = normal_tail(arb(T)) / 2 / wl
    return gauss_expect(h, arb(0).union(tail), T, n)


def _rkl_curvature(W: arb, D: arb, T: int = 8, n: int | None = None) -> arb:
    r""":math:`\partial^2L_R/\partial w^2 = \int(\varphi_o-\varphi_n)^2/q = G(w) + G(1-w)`:
    the part x < Δ/2 under φ_o, and the part x > Δ/2 reflected (x → Δ − x swaps φ_o and φ_n,
    so it is the same integral with w ↔ 1 − w); see :func:`_rkl_half`. Needs T ≥ Δ/2; 16
    panels per unit of x by default."""
    T = max(T, int(float(D.upper())) // 2 + 2)
    n = 16 * T if n is None else n
    return _rkl_half(W, D, T, n) + _rkl_half(1 - W, D, T, n)


def _rkl_dw(w: arb, a: arb, D: arb, T: int = 12, n: int = 384) -> arb:
    r""":math:`\partial L_R/\partial w = \int(\varphi_o-\varphi_n)\log(q/p^*) =
    \mathbb E_{X\sim\varphi}[(1-L)\log\frac{w+(1-w)L}{\alpha+(1-\alpha)L}]`; tail
    |log(q/p*)| ≤ max(|log(w/α)|, |log((1−w)/(1−α))|) (q/p* lies between the componentwise
    ratios), |1 − L| ≤ 1 + L."""
    def h(J: arb) -> arb:
        L = (D * J - D * D / 2).exp()
        return (1 - L) * ((w + (1 - w) * L) / (a + (1 - a) * L)).log()

    Tb = arb(T)
    s2 = arb(2).sqrt()
    lr = abs((w / a).log()).union(abs(((1 - w) / (1 - a)).log()))
    mass = normal_tail(Tb) + ((Tb - D) / s2).erfc() / 2 + ((Tb + D) / s2).erfc() / 2
    return gauss_expect(h, _sym(arb(lr.upper()) * mass), T, n)


def rkl_w_margin(cell: Cell, variant: dict[str, Any]) -> arb:
    r"""Margin of ``rkl.weight_convergence``: the curvature ∂²L_R/∂w² (must be > 0; it does
    not depend on α).

    Maths: L_R(w) = ∫ q log(q/p*), q = wφ(x) + (1−w)φ(x−Δ); ∂_w L_R = ∫(φ_o − φ_n)log(q/p*)
    (∫(φ_o − φ_n) = 0), ∂²_w L_R = ∫(φ_o − φ_n)²/q. Rigorous: :func:`~.enclose.gauss_expect`
    under φ (Arb erf panel probabilities, interval integrand over panel × cell) with the tail
    bound of :func:`_rkl_curvature`.
    """
    return _rkl_curvature(interval(*cell["w"]), interval(*cell["delta"]))


def rkl_w_local(box: Cell, variant: dict[str, Any]) -> list[Local]:
    r"""Identities of ``rkl.weight_convergence`` at two (α, Δ) points of the box:

    * ``minimiser``: ∂L_R/∂w = 0 at the stated minimiser (α: q = p*, the log vanishes);
      refuted when the enclosure excludes 0. With curvature > 0 on the box, w = α is the unique
      minimiser.
    * ``rate``: the flow's linear rate is ∂²L_R/∂w²(α) = I_ww(θ*); the stated rate is
      ``rate_factor`` times it: refuted when (factor − 1)·I_ww is enclosed away from 0.
    """
    out: list[Local] = []
    a_lo, a_hi = box["alpha"]
    d = min(box["delta"][1], max(box["delta"][0], F(2)))
    factor = rational(variant["rate_factor"])
    for a in sorted({a_lo, a_hi}):
        A, D = rational(a), rational(d)
        wmin = A if variant["minimiser"] == "alpha" else rational(F(variant["minimiser"]))
        g = _rkl_dw(wmin, A, D)
        region = {"alpha": [_s(a), _s(a)], "delta": [_s(d), _s(d)]}
        out.append(Local(f"minimiser[alpha={a}]", "point", region,
                         {"dL/dw at stated minimiser": ball_json(g)},
                         bool(g.contains(0)), not bool(g.contains(0)),
                         "∂L_R/∂w at the stated minimiser"))
        I = _rkl_curvature(A, D, T=12, n=256)
        r = (factor - 1) * I
        out.append(Local(f"rate[alpha={a}]", "point", region,
                         {"stated rate - I_ww": ball_json(r)},
                         bool(r.contains(0)), not bool(r.contains(0)),
                         "linear rate of the w-flow at α = ∂²L_R/∂w²(α)"))
    return out


# =============================================================================================
# rkl.local_geometry
# =============================================================================================

_ENTRIES = ("ww", "wo", "wn", "oo", "on", "nn")


def _geometry_entries(C: arb, D: arb, A: arb) -> dict[str, tuple[arb, arb]]:
    r"""Per entry ij: (E_ij, M_ij) with D_ij = ½√A e^{−Δ²/8} E_ij and the stated
    B_ij = ½√A e^{−Δ²/8} √M_ij, A = α(1−α)."""
    h = D / 2
    one, zero = arb(1), arb(0)
    K = {  # K_ij(Δ/2 + Z) as (k0, k1, k2) in Z
        "ww": (-one / (A * A), zero, zero),
        "wo": (-h / A, -one / A, zero),
        "wn": (-h / A, one / A, zero),
        "oo": (-h * h, -2 * h, -one),
        "nn": (-h * h, 2 * h, -one),
        "on": (-h * h, zero, one),
    }
    M = {
        "ww": 1 / A**4,
        "wo": (1 + h * h) / (A * A),
        "wn": (1 + h * h) / (A * A),
        "oo": h**4 + 6 * h * h + 3,
        "nn": h**4 + 6 * h * h + 3,
        "on": 3 - 2 * h * h + h**4,
    }
    return {k: (sech_expect(C, D, K[k]), M[k]) for k in _ENTRIES}


def geometry_margin(cell: Cell, variant: dict[str, Any]) -> arb:
    r"""Margin of ``rkl.local_geometry``: min over the six entries ij of
    1 − |I_ij(θ*) − limit_ij| / B_ij.

    Maths: with a = αφ(x), b = (1−α)φ(x−Δ), p* = a + b, every deviation of the Fisher
    information from its separated limit diag(1/(α(1−α)), α, 1−α) is an overlap integral
    D_ij = ∫K_ij ab/(a+b) with K_ww = −1/A², K_wo = −x/A, K_wn = (x−Δ)/A, K_oo = −x²,
    K_nn = −(x−Δ)², K_on = x(x−Δ) (A = α(1−α); algebra in the module docstring of
    :mod:`symforget.symbolic.geometry`), and ab/(a+b) = ½√A e^{−Δ²/8}φ(x−Δ/2)sech((c−ΔZ)/2),
    x = Δ/2 + Z, c = logit α. So D_ij/(½√A e^{−Δ²/8}) = E_Z[K_ij sech((c−ΔZ)/2)] and the stated
    bound B_ij = ½√A e^{eΔ²}√M_ij, M_ij = E[K_ij²] (Gaussian moments, closed form), gives the
    ratio |E_ij + δ_ij·2e^{Δ²/8}/√A| / (√M_ij e^{(e+1/8)Δ²}) with δ_ij the difference between
    the true and the stated limit (0 for the true statement). Rigorous: E_ij by
    :func:`~.enclose.sech_expect`; e^{−Δ²/8} cancels analytically (no underflow).
    """
    (al, ah), (dl, dh) = cell["alpha"], cell["delta"]
    C = _logit_ball(al, ah)
    D = interval(dl, dh)
    Aal = interval(al, ah)
    A = Aal * (1 - Aal)
    if al == ah:
        A = rational(al) * rational(1 - al)
    e = rational(variant["bound_exponent"])
    grow = ((e + rational(F(1, 8))) * D * D).exp()
    worst = None
    for k, (E, M) in _geometry_entries(C, D, A).items():
        dev = E
        if k == "ww" and variant["limit_ww"] != "1/(alpha(1-alpha))":
            # stated 1/α: D'_ww = D_ww + 1/(α(1−α)) − 1/α = D_ww + 1/(1−α)
            dev = E + (1 / (1 - Aal)) * 2 * (D * D / 8).exp() / A.sqrt()
        m = 1 - abs(dev) / (M.sqrt() * grow)
        worst = m if worst is None else worst.min(m)
    assert worst is not None
    return worst


def geometry_local(box: Cell, variant: dict[str, Any]) -> list[Local]:
    """``rkl.local_geometry`` needs no local argument on Δ ≥ 2 (the margin is bounded away
    from 0 there)."""
    return []



# =============================================================================================
# beyond.any_family
# =============================================================================================

def _bc_ratio(D: arb, Rr: arb, variant: dict[str, Any]) -> arb:
    """BC_true/BC_stated for the stated Bhattacharyya coefficient (``variant["bc"]``)."""
    kind = variant["bc"]
    if kind == "true":
        return arb(1)
    if kind == "exponent_doubled":  # e^{−Δ²/(2(1+r²))}
        return (D * D / (4 * (1 + Rr * Rr))).exp()
    # "ratio_unsquared": e^{−Δ²/(4(1+r))}; the exponent difference in closed form,
    # Δ²/(4(1+r)) − Δ²/(4(1+r²)) = Δ² r(r − 1)/(4(1+r)(1+r²)) (no cancellation on a cell)
    dl, dh = arb(D.lower()), arb(D.upper())
    return exp_range(_corners_mul((dl * dl).union(dh * dh),
                                  Rr * (Rr - 1) / (4 * (1 + Rr) * (1 + Rr * Rr))))


def _corners_mul(a: arb, b: arb) -> arb:
    """The product of two intervals from its four corner products (exact interval product;
    Arb's mid-radius product of wide balls is looser)."""
    al, ah, bl, bh = (arb(x) for x in (a.lower(), a.upper(), b.lower(), b.upper()))
    out = al * bl
    for v in (al * bh, ah * bl, ah * bh):
        out = out.union(v)
    return out


#: panels per unit of the slope |α1| of ℓ in Z (at least 64 panels of [−8, 8])
ANY_FAMILY_PANELS = 32


def _any_family_R(C: arb, D: arb, Rr: arb) -> arb:
    r"""Enclosure of m/bound = E_Z[sech(ℓ/2)], ℓ = α0 + α1 Z + α2 Z², over the balls C
    (= logit w), D (= Δ ≥ 0), Rr (= r > 0); see :func:`any_family_margin`.

    The coefficients in closed form (t = r²; X = μ + sZ in ℓ(X) = c + log r + AX² + BX +
    Δ²/(2r²), A = (1/r² − 1)/2, B = −Δ/r², μ = Δ/(1+t), s² = 2t/(1+t)):

    .. math:: α_2 = rac{1-t}{1+t},\quad α_1 = -2\sqrt2\,Δ\,rac{r}{(1+t)^{3/2}},\quad
              α_0 = c + \log r + rac{Δ^2}{2}\,rac{t-1}{(1+t)^2}

    (the terms ±Δ²/(2r²) of the expanded α0 cancel exactly; enclosed term by term they would
    not). Each factor is enclosed from its monotone pieces: α2 decreases in t;
    r/(1+t)^{3/2} increases for t < ½ and decreases after (maximum at t = ½);
    (t−1)/(1+t)² increases for t < 3 and decreases after (maximum 1/8 at t = 3); products of
    intervals from their corners.
    """
    tl, th = arb(Rr.lower()) ** 2, arb(Rr.upper()) ** 2
    rl, rh = arb(Rr.lower()), arb(Rr.upper())
    a2 = ((1 - th) / (1 + th)).union((1 - tl) / (1 + tl))
    g1 = (rl / (1 + tl) ** arb(1.5)).union(rh / (1 + th) ** arb(1.5))
    if not (th < arb(0.5) or tl > arb(0.5)):  # the maximum at t = ½ may lie in [tl, th]
        g1 = g1.union(arb(0.5).sqrt() / arb(1.5) ** arb(1.5))
    g0 = ((tl - 1) / (1 + tl) ** 2).union((th - 1) / (1 + th) ** 2)
    if not (th < 3 or tl > 3):
        g0 = g0.union(arb(1) / 8)
    dl, dh = arb(D.lower()), arb(D.upper())
    D2 = (dl * dl).union(dh * dh)
    a1 = -2 * arb(2).sqrt() * _corners_mul(dl.union(dh), g1)
    a0 = C + rl.log().union(rh.log()) + _corners_mul(D2, g0) / 2
    T = 8
    n = ANY_FAMILY_PANELS * max(2, int(float(a1.abs_upper() + 6 * a2.abs_upper())) + 1)

    def h(J: arb) -> arb:
        jl, jh = arb(J.abs_lower()), arb(J.abs_upper())
        J2 = (jl * jl).union(jh * jh)
        return sech_range((a0 + _corners_mul(a1, J) + _corners_mul(a2, J2)) / 2)

    return gauss_expect(h, arb(0).union(normal_tail(arb(T))), T, n)


def reflect_cell(cell: Cell) -> Cell:
    r"""The box containing the image of a cell with r ≤ 1 under the exact symmetry
    (w, Δ, r) → (1 − w, Δ/r, 1/r) of m/bound (see :func:`any_family_margin`): w' ∈ [1 − w_hi,
    1 − w_lo], Δ' ∈ [Δ_lo/r_hi, Δ_hi/r_lo], r' ∈ [1/r_hi, 1/r_lo] (exact rationals; each
    coordinate of the image is monotone in one coordinate of the cell, Δ' = Δ/r increasing in
    Δ and decreasing in r, so the image lies in this box)."""
    (wl, wh), (dl, dh), (rl, rh) = cell["w"], cell["delta"], cell["r"]
    if not 0 < rl <= rh <= 1:
        raise ValueError(f"reflect_cell needs 0 < r_lo ≤ r_hi ≤ 1, got [{rl}, {rh}]")
    return {"w": (1 - wh, 1 - wl), "delta": (dl / rh, dh / rl), "r": (1 / rh, 1 / rl)}


def _any_family_ratio(cell: Cell) -> arb:
    """Enclosure of m/bound (the true bound) over a cell: directly for r ≥ 1, on the reflected
    box for r ≤ 1, and the union of both halves for a cell straddling r = 1."""
    rl, rh = cell["r"]
    if rl < 1 < rh:
        lo = {**cell, "r": (rl, F(1))}
        hi = {**cell, "r": (F(1), rh)}
        return _any_family_ratio(lo).union(_any_family_ratio(hi))
    if rh <= 1:
        cell = reflect_cell(cell)
    return _any_family_R(_logit_ball(*cell["w"]), interval(*cell["delta"]),
                         interval(*cell["r"]))


def any_family_margin(cell: Cell, variant: dict[str, Any]) -> arb:
    r"""Margin of ``beyond.any_family``: 1 − m(w, Δ, r)/(½√((1−w)/w)·BC(Δ, r)).

    Maths: old component N(0, 1), new N(Δ, r²), a = wφ_o, b = (1−w)φ_n, ℓ = log(a/b). As for
    equal scales, b/(a+b) = ½√(b/a) sech(ℓ/2), and √(φ_oφ_n) = BC·g with g the density of
    N(μ, s²), μ = Δ/(1+r²), s² = 2r²/(1+r²), so m/bound = E_{X∼g}[sech(ℓ(X)/2)] with
    ℓ(X) = c + log r + A X² + B X + Δ²/(2r²), A = (1/r² − 1)/2, B = −Δ/r². Writing X = μ + sZ,
    ℓ = α0 + α1 Z + α2 Z² (coefficients enclosed over the cell). Rigorous: Gaussian panel sums
    (Arb erfc probabilities) of the enclosed range of sech(ℓ/2) (even, decreasing in |ℓ|) over
    panel × cell, plus the tail [0, P(|Z| > T)] (sech ≤ 1); for a stated BC the ratio is
    multiplied by BC_true/BC_stated (on the cell itself), for a stated prefactor p by 1/(2p).

    r ≤ 1 through an exact symmetry. Write r_o = wφ_o/q, r_n = (1−w)φ_n/q (q the mixture);
    pointwise w φ_o r_n = (1−w) φ_n r_o (both are wφ_o(1−w)φ_n/q), so
    m(w, Δ, r) = E_{φ_o}[r_n] = ((1−w)/w)·E_{φ_n}[r_o]. Substitute x = Δ − r y: φ_n(x) dx =
    φ(y) dy and φ_o(x) = ψ(y)/r, φ_n(x) = φ(y)/r with ψ the density of N(Δ/r, 1/r²), so
    r_o(x) = wψ(y)/(wψ(y) + (1−w)φ(y)) is the new-component responsibility of the mixture
    with old weight 1 − w, old N(0, 1), new N(Δ/r, 1/r²): E_{φ_n}[r_o] = m(1 − w, Δ/r, 1/r).
    The stated bound carries the same factor: √(2r'/(1+r'²)) = √(2r/(1+r²)),
    Δ'²/(1+r'²) = Δ²/(1+r²), ((1−w)/w)·√(w/(1−w)) = √((1−w)/w). Hence
    m/bound(w, Δ, r) = m/bound(1 − w, Δ/r, 1/r) exactly (an identity, no approximation;
    checked to 25 digits in ``tests/test_beyond.py``), and the enclosure of m/bound over the
    box :func:`reflect_cell` (which contains the cell's image, r' ≥ 1) encloses m/bound over
    the cell. A cell straddling r = 1 is enclosed as the union of its halves r ≤ 1, r ≥ 1.
    (With the α's expanded, the terms ±Δ²/(2r²) of α0 cancel only pointwise and direct branch
    and bound did not close for r < 1; with the closed forms of :func:`_any_family_R` it
    would too — 33 cells for r ∈ [0.2, 0.9], Δ ≤ 20, against 120 on the reflected boxes, whose
    Δ' = Δ/r reaches 100 — but the reflection keeps every enclosure at r ≥ 1, and the checker
    re-derives the same reflection.)
    """
    R = _any_family_ratio(cell)
    D = interval(*cell["delta"])
    Rr = interval(*cell["r"])
    return 1 - R * _bc_ratio(D, Rr, variant) / (2 * rational(variant["prefactor"]))


def any_family_local(box: Cell, variant: dict[str, Any]) -> list[Local]:
    """No local argument yet: a box must not contain the attainment point (w, Δ, r) =
    (½, 0, 1) (the equal-scale case, with its attainment point (½, 0), is
    ``rkl.drift_bc_bound``); r < 1 and r > 1 are therefore certified as separate boxes
    (:attr:`Certifiable.more_boxes`). A box straddling r = 1 away from that point is fine (its
    cells are enclosed as the union of their halves r ≤ 1, r ≥ 1)."""
    if box["r"][0] <= 1 <= box["r"][1] and box["delta"][0] == 0 and \
            box["w"][0] <= F(1, 2) <= box["w"][1]:
        return [Local("attainment_point", "region",
                      {"w": ["1/2", "1/2"], "delta": ["0", "0"], "r": ["1", "1"]}, {},
                      False, False, "the box contains (½, 0, 1) where m = bound; certify "
                      "r = 1 with rkl.drift_bc_bound and keep r away from 1 here")]
    return []

# =============================================================================================
# the registry
# =============================================================================================

def _frac_axis(name: str, lo: str, hi: str, dom: tuple[str, str], open_lo: bool = False,
               open_hi: bool = False, scale: str = "1", doc: str = "") -> Axis:
    return Axis(name, F(lo), F(hi), (F(dom[0]), F(dom[1])), open_lo, open_hi, F(scale), doc)


CERTIFIABLE: dict[str, Certifiable] = {}


def _register(c: Certifiable) -> None:
    CERTIFIABLE[c.id] = c


_register(Certifiable(
    id="rkl.drift_bc_bound",
    statement="m(w, Δ) ≤ ½√((1−w)/w)e^{−Δ²/8} on the box and for every Δ beyond it; "
              "the constant ½ is attained at (w, Δ) = (½, 0)",
    axes=(_frac_axis("w", "0.000001", "0.999999", ("0", "1"), True, True, "1",
                     "old weight"),
          _frac_axis("delta", "0", "60", ("0", "1000000"), scale="30",
                     doc="separation Δ")),
    margin=drift_margin, local=drift_local,
    default_variant={"prefactor": F(1, 2), "exponent": F(-1, 8)},
    mutants={"prefactor_quarter": {"prefactor": F(1, 4)},
             "exponent_1/6": {"exponent": F(-1, 6)},
             "without_half": {"prefactor": F(1)}},
    split_axes=("w", "delta"),
    method="margin 1 − m/bound = 1 − E_Z[sech((c − ΔZ)/2)] (Gaussian panel sums, sech masses "
           "for Δ ≥ 1); curvature argument at (½, 0); R ≤ √(2π)/Δ beyond the box",
))

_register(Certifiable(
    id="fkl.mass_forgetting",
    statement="∂²L_F/∂w² > 0 on the box (so ∂L_F/∂w = ∫_0^w ∂²L_F > 0 for w > 0, = 0 at "
              "w = 0); ∂²L_F/∂w²(0) = e^{Δ²} − 1; plain/EM/logit orders at w = 0",
    axes=(_frac_axis("w", "0", "1", ("0", "1"), doc="old weight"),
          _frac_axis("delta", "0.25", "10", ("0", "1000000"), scale="10",
                     doc="separation Δ")),
    margin=fkl_margin, local=fkl_local,
    default_variant={"curvature_exponent": F(1), "plain_rate_factor": F(1),
                     "em_exponent": F(-1), "logit_exponent": F(-1, 2)},
    mutants={"curvature_half_exponent": {"curvature_exponent": F(1, 2)},
             "plain_rate_half": {"plain_rate_factor": F(1, 2)},
             "em_exponent_half": {"em_exponent": F(-1, 2)},
             "logit_exponent_one": {"logit_exponent": F(-1)}},
    strict=True, split_axes=("w", "delta"),
    method="curvature E_Z[g²/(1+wg)²] by Gaussian panel sums with a proved tail",
    notes={"logit_exponent_one": "refuted by the exact identity E[g] = ∫φ − 1 = 0 (no "
                                 "enclosure can prove a value is exactly 0)"},
))

_register(Certifiable(
    id="rkl.weight_convergence",
    statement="∂²L_R/∂w² > 0 on the box (means at the truth), ∂L_R/∂w(α) = 0, linear rate "
              "I_ww(θ*)",
    axes=(_frac_axis("w", "0.001", "0.999", ("0", "1"), True, True, doc="old weight"),
          _frac_axis("alpha", "0.05", "0.95", ("0", "1"), True, True, doc="target weight α"),
          _frac_axis("delta", "0.25", "10", ("0", "1000000"), scale="10",
                     doc="separation Δ")),
    margin=rkl_w_margin, local=rkl_w_local,
    default_variant={"minimiser": "alpha", "rate_factor": F(1)},
    mutants={"minimiser_half": {"minimiser": F(1, 2)},
             "rate_half_curvature": {"rate_factor": F(1, 2)}},
    strict=True, split_axes=("w", "delta"),
    method="curvature ∫(φ_o − φ_n)²/q by Gaussian panel sums with a proved tail",
))

_register(Certifiable(
    id="rkl.local_geometry",
    statement="|I(θ*) − diag(1/(α(1−α)), α, 1−α)|_ij ≤ ½√(α(1−α)) e^{−Δ²/8} √M_ij(Δ) entrywise",
    axes=(_frac_axis("alpha", "0.05", "0.95", ("0", "1"), True, True, doc="target weight α"),
          _frac_axis("delta", "2", "40", ("0", "1000000"), scale="20", doc="separation Δ")),
    margin=geometry_margin, local=geometry_local,
    default_variant={"limit_ww": "1/(alpha(1-alpha))", "bound_exponent": F(-1, 8)},
    mutants={"limit_without_1_minus_alpha": {"limit_ww": "1/alpha"},
             "bound_exponent_quarter": {"bound_exponent": F(-1, 4)}},
    split_axes=("alpha", "delta"),
    method="overlap integrals D_ij = ½√A e^{−Δ²/8} E_Z[K_ij sech((c − ΔZ)/2)] against "
           "B_ij = ½√A e^{−Δ²/8}√M_ij",
))


_register(Certifiable(
    id="beyond.any_family",
    statement="unequal scales: m(w, Δ, r) ≤ ½√((1−w)/w)·√(2r/(1+r²)) e^{−Δ²/(4(1+r²))}; "
              "r < 1 is a second box (--box r=0.2:0.95; one box cannot hold both sides of "
              "the attainment point (½, 0, 1))",
    axes=(_frac_axis("w", "0.000001", "0.999999", ("0", "1"), True, True, doc="old weight"),
          _frac_axis("delta", "0", "20", ("0", "1000000"), scale="20", doc="separation Δ"),
          _frac_axis("r", "1.1", "5", ("0", "1000000"), True, scale="4",
                     doc="scale ratio σn/σo (r = 1: rkl.drift_bc_bound)")),
    margin=any_family_margin, local=any_family_local,
    default_variant={"prefactor": F(1, 2), "bc": "true"},
    mutants={"bc_exponent_doubled": {"bc": "exponent_doubled"},
             "bc_ratio_unsquared": {"bc": "ratio_unsquared"},
             "prefactor_quarter": {"prefactor": F(1, 4)}},
    split_axes=("w", "delta", "r"),
    more_boxes=({"r": (F("0.2"), F("0.95"))},),
    method="margin 1 − E_{N(μ,s²)}[sech(ℓ/2)], ℓ quadratic in closed form, by Gaussian panel "
           "sums; cells with r ≤ 1 on their image under the exact symmetry (w, Δ, r) → "
           "(1−w, Δ/r, 1/r) of m/bound",
))


def get(claim_id: str) -> Certifiable:
    """The certifiable claim ``claim_id``; ParameterError naming the certifiable ones."""
    from ..errors import ParameterError

    try:
        return CERTIFIABLE[claim_id]
    except KeyError:
        raise ParameterError(f"claim={claim_id!r} is not certifiable; certifiable claims: "
                             f"{', '.join(sorted(CERTIFIABLE))}") from None
