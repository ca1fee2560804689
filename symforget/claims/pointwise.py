r"""Pointwise kernels: claims that are statements "for every point of a parameter box".

A kernel evaluates one claim at many points at once and says, per point, how close the
statement is to failing (the *metric*, ≤ 1 when it holds) and whether it holds there (the
*ok* mask). ``symforget sweep`` (:mod:`symforget.runners.sweep`) runs kernels over boxes of millions
of points; the claim modules' own checks (``symforget verify``) remain the reference.

Every kernel takes the claim's statement constants as keyword arguments, exactly like the
claim's check function, so the claim's registered *mutants* (wrong constants) can be swept
too — and must then fail (tests/test_sweep.py). A mutant that only *weakens* a bound cannot be
refuted pointwise (every point still satisfies it); such mutants are listed in
:attr:`Kernel.not_pointwise` with the reason, and the sweep refuses them.

Two precisions per kernel:

* ``dps=None`` — double precision, vectorised, through the public evaluators
  (:mod:`symforget.numeric.misassign`, :mod:`symforget.model`) and formulas compiled from SymPy;
  a tolerance covers the evaluator's documented accuracy.
* ``dps=N`` — per point with mpmath at N digits, with an error estimate; a point is ok only if
  value + error still satisfies the bound.

Kernels
-------
``rkl.drift_bc_bound``
    metric :math:`m(w,\Delta)/(\tfrac12\sqrt{(1-w)/w}\,e^{-\Delta^2/8})`, formed as
    :math:`\exp(\log m + \Delta^2/8 - \log(\tfrac12\sqrt{(1-w)/w}))` with the common
    :math:`\Delta^2/8` removed analytically (accurate up to Δ = 1e150; the ratio is
    ≈ √(2π)/Δ for large Δ); params ``w`` ∈ (0, 1), ``delta`` ≥ 0.
``replay.rkl_weight_bound``
    metric :math:`(q_\theta/b_\rho)(x)\,(1-\rho)`; params ``rho`` ∈ [0, 1), ``w`` ∈ (0, 1),
    ``mu_old``, ``mu_new``, ``x`` (buffer B = N(0, 1), σ = 1).
``rkl.local_geometry``
    metric :math:`\max_{ij}|I_{ij}(\theta^*) - L_{ij}| / B_{ij}(\alpha,\Delta)`, the Fisher
    matrix's deviation from its separated limit over the stated overlap bound; params ``alpha``
    ∈ (0, 1), ``delta`` ∈ [0, 60].
``gauss.closed_forms``
    metric: the largest of :math:`|\text{quadrature} - \text{closed form}|/\text{tolerance}`
    over BC, KL, χ², H² (probabilists' Gauss–Hermite in double precision, ``mpmath.quad``
    with its error estimate at ``dps``); param ``delta`` ∈ [0, 8].
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from .. import model, precise
from ..errors import ParameterError, UnknownClaimError
from ..numeric import misassign, precise_drift
from ..numeric.compile import compile_exprs
from ..symbolic import drift as sd
from ..symbolic import geometry as sgeo
from ..symbolic import mixture
from ..symbolic import replay_rkl as R
from ..symbolic.gauss import log_normal_pdf
from ..symbolic.symbols import alpha, delta, mu_n, mu_o, rho, sigma, w, x
from .base import as_expr
from .drift import HALF, RATE
from .geometry import STATED_LIMIT

__all__ = ["Param", "Kernel", "KERNELS", "register_kernel", "kernel", "kernels",
           "mutant_kwargs"]

Points = dict[str, np.ndarray]
Result = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Param:
    """One parameter of a kernel.

    ``default`` is the default box ``(lo, hi, scale)`` with scale ``lin``, ``log`` or
    ``logit``; ``domain`` is the allowed closed range ``(lo, hi)`` with ``open_lo`` /
    ``open_hi`` saying whether an end point itself is excluded.
    """

    name: str
    default: tuple[float, float, str]
    domain: tuple[float, float]
    open_lo: bool = False
    open_hi: bool = False
    doc: str = ""

    def in_domain(self, value: float) -> bool:
        """Whether ``value`` lies in the allowed domain."""
        lo, hi = self.domain
        above = value > lo if self.open_lo else value >= lo
        below = value < hi if self.open_hi else value <= hi
        return bool(above and below and math.isfinite(value))

    def domain_text(self) -> str:
        lo, hi = self.domain
        return f"{'(' if self.open_lo else '['}{lo:g}, {hi:g}{')' if self.open_hi else ']'}"


@dataclass(frozen=True)
class Kernel:
    """A pointwise form of a claim (see the module docstring)."""

    claim: str
    params: tuple[Param, ...]
    metric: str
    fn: Callable[..., Result]
    not_pointwise: dict[str, str] = field(default_factory=dict)
    doc: str = ""
    #: whether a sweep may evaluate one point in the parent before forking its workers (so
    #: they start with the formulas compiled); False for kernels with side effects
    warmup: bool = True

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def evaluate(self, points: Points, dps: int | None = None, *,
                 mutant: str | None = None) -> Result:
        """Evaluate at ``points`` (one 1-D array per parameter, equal lengths).

        Returns ``(metric, ok)``: float array (≤ 1 where the statement holds; non-finite values
        are never ok) and boolean array.
        """
        missing = [n for n in self.names if n not in points]
        if missing:
            raise ParameterError(f"{self.claim}: missing parameter(s) {missing}")
        arrays = {n: np.asarray(points[n], dtype=np.float64).ravel() for n in self.names}
        sizes = {a.size for a in arrays.values()}
        if len(sizes) > 1:
            raise ParameterError(f"{self.claim}: parameter arrays differ in length {sizes}")
        kwargs = mutant_kwargs(self, mutant)
        if dps is not None and (not isinstance(dps, int) or dps < 15):
            raise ParameterError(f"dps={dps!r} must be an integer >= 15")
        metric, ok = self.fn(arrays, dps, **kwargs)
        metric = np.asarray(metric, dtype=np.float64)
        ok = np.asarray(ok, dtype=bool) & ~np.isnan(metric)
        return metric, ok


KERNELS: dict[str, Kernel] = {}


def register_kernel(k: Kernel) -> Kernel:
    """Add a kernel to the registry (tests register test-only kernels this way)."""
    KERNELS[k.claim] = k
    return k


def kernels() -> dict[str, Kernel]:
    """Every registered kernel by claim id (test-only ids start with ``_``)."""
    return dict(KERNELS)


def kernel(claim_id: str) -> Kernel:
    """The kernel of ``claim_id``; :class:`UnknownClaimError` naming the sweepable claims."""
    if claim_id not in KERNELS:
        known = ", ".join(k for k in KERNELS if not k.startswith("_"))
        raise UnknownClaimError(f"claim {claim_id!r} has no pointwise kernel; sweepable "
                                f"claims: {known} (run 'symforget sweep --list')")
    return KERNELS[claim_id]


def mutant_kwargs(k: Kernel, mutant: str | None) -> dict[str, Any]:
    """The keyword arguments of the claim's registered mutant ``mutant`` ({} for None)."""
    if mutant is None:
        return {}
    if mutant in k.not_pointwise:
        raise ParameterError(f"mutant {mutant!r} of {k.claim} cannot be refuted pointwise: "
                             f"{k.not_pointwise[mutant]}")
    if k.claim.startswith("_"):  # test-only kernels: the mutant name is passed through
        return {"mutant": mutant}
    from . import get

    mutants = get(k.claim).mutants
    if mutant not in mutants:
        raise ParameterError(f"unknown mutant {mutant!r} of {k.claim}; known: "
                             f"{', '.join(m for m in mutants if m not in k.not_pointwise)}")
    return dict(mutants[mutant])


def _per_point(n: int, fn: Callable[[int], tuple[float, bool]]) -> Result:
    metric = np.empty(n)
    ok = np.empty(n, dtype=bool)
    for i in range(n):
        metric[i], ok[i] = fn(i)
    return metric, ok


def _mp_float(v: Any) -> float:
    """An mpf as a float, saturating at ±1e300 (the verdict is decided in mpmath)."""
    return float(max(min(v, mpmath.mpf("1e300")), mpmath.mpf("-1e300")))


# ---------------------------------------------------------------------------------------------
# rkl.drift_bc_bound
# ---------------------------------------------------------------------------------------------

#: log m − log bound may exceed 0 by the double-precision evaluator's accuracy (≤ 1e-10)
_DRIFT_LOG_TOL = 1e-10


@cache
def _drift_log_bound(prefactor: sp.Expr, exponent: sp.Expr, backend: str,
                     shift: sp.Expr = sp.S.Zero) -> Any:
    """log(prefactor·√((1−w)/w)·e^{exponent·Δ²}) + shift·Δ² in (c = logit w, Δ).

    With ``shift = 1/8`` this is the bound's logarithm with the common Δ²/8 of
    :func:`symforget.numeric.misassign.log_misassignment_excess` removed *symbolically*: for the
    stated
    exponent −1/8 no Δ² term is left, so the ratio m/bound stays accurate for Δ up to 1e150.
    """
    expr = sp.log(prefactor) - sd.c / 2 + sp.expand((exponent + shift) * sd.D**2)
    return compile_exprs(expr, (sd.c, sd.D), backend)


def _drift(points: Points, dps: int | None, prefactor: Any = HALF, exponent: Any = RATE,
           **_: Any) -> Result:
    pref, expo = as_expr(prefactor), as_expr(exponent)
    wv, dv = points["w"], points["delta"]
    if dps is None:
        c = np.log(wv) - np.log1p(-wv)
        excess = misassign.log_misassignment_excess(wv, dv) - np.asarray(
            _drift_log_bound(pref, expo, "numpy", sp.Rational(1, 8))(c, dv), dtype=np.float64)
        return np.exp(np.minimum(excess, 700.0)), excess <= _DRIFT_LOG_TOL
    log_bound = _drift_log_bound(pref, expo, "mpmath")

    def one(i: int) -> tuple[float, bool]:
        val, err = precise_drift.misassignment(float(wv[i]), float(dv[i]), dps,
                                               cross_check=False)
        with mpmath.workdps(dps + 10):
            wm = mpmath.mpf(float(wv[i]))
            bound = mpmath.exp(log_bound(mpmath.log(wm / (1 - wm)), mpmath.mpf(float(dv[i]))))
            ratio = (val + err) / bound
            return _mp_float(ratio), bool(ratio <= 1)

    return _per_point(wv.size, one)


register_kernel(Kernel(
    claim="rkl.drift_bc_bound",
    params=(Param("w", (1e-6, 1 - 1e-6, "logit"), (0.0, 1.0), True, True, "old weight"),
            Param("delta", (0.0, 60.0, "lin"), (0.0, 1e150), doc="separation Δ")),
    metric="m/bound",
    fn=_drift,
    not_pointwise={"without_half": "it weakens the bound (m ≤ √((1−w)/w)e^{−Δ²/8} holds "
                                   "everywhere); only the sharpness check of 'symforget verify' "
                                   "rejects it"},
    doc="m(w,Δ) ≤ ½√((1−w)/w)e^{−Δ²/8}; double precision via log_misassignment (log space), "
        "dps via the certified series (value + error ≤ bound)",
))


# ---------------------------------------------------------------------------------------------
# replay.rkl_weight_bound
# ---------------------------------------------------------------------------------------------

_WEIGHT_LOG_TOL = 1e-12


@cache
def _weight_fns(bound: sp.Expr, backend: str) -> tuple[Any, Any, Any]:
    """(log q_θ(x), log B(x) with B = N(0, 1), bound(ρ)) compiled from SymPy."""
    lq = compile_exprs(mixture.log_q(), (x, w, mu_o, mu_n, sigma), backend)
    lb = compile_exprs(log_normal_pdf(x, mu_o, sigma), (x, mu_o, sigma), backend)
    return lq, lb, compile_exprs(bound, (rho,), backend)


def _weight(points: Points, dps: int | None, bound: Any = R.WEIGHT_BOUND, **_: Any) -> Result:
    bound = as_expr(bound)
    r, wv, mo, mn, xv = (points[k] for k in ("rho", "w", "mu_old", "mu_new", "x"))
    if dps is None:
        lq, lb, bf = _weight_fns(bound, "numpy")
        with np.errstate(divide="ignore"):  # log ρ = −∞ at ρ = 0: q/b = 1
            log_ratio = -np.logaddexp(np.log1p(-r), np.log(r) + lb(xv, 0.0, 1.0)
                                      - lq(xv, wv, mo, mn, 1.0))
            log_b = np.log(np.broadcast_to(np.asarray(bf(r), dtype=np.float64), r.shape))
        excess = log_ratio - log_b
        return np.exp(np.minimum(excess, 700.0)), excess <= _WEIGHT_LOG_TOL
    lq, lb, bf = _weight_fns(bound, "mpmath")

    def ratio_at(i: int, digits: int) -> Any:
        with mpmath.workdps(digits):
            ri, xi = mpmath.mpf(float(r[i])), mpmath.mpf(float(xv[i]))
            lqi = lq(xi, mpmath.mpf(float(wv[i])), mpmath.mpf(float(mo[i])),
                     mpmath.mpf(float(mn[i])), 1)
            q_over_b = 1 / ((1 - ri) + ri * mpmath.exp(lb(xi, 0, 1) - lqi))
            return q_over_b, mpmath.mpf(bf(ri))

    def one(i: int) -> tuple[float, bool]:
        (v1, b1), (v2, _) = ratio_at(i, dps), ratio_at(i, dps + 10)
        with mpmath.workdps(dps + 10):
            err = abs(v2 - v1)  # error estimate: the change with 10 more digits
            ratio = (v1 + err) / b1
            return _mp_float(ratio), bool(ratio <= 1)

    return _per_point(r.size, one)


register_kernel(Kernel(
    claim="replay.rkl_weight_bound",
    params=(Param("rho", (0.0, 0.99, "lin"), (0.0, 1.0), False, True, "replay fraction ρ"),
            Param("w", (1e-3, 1 - 1e-3, "logit"), (0.0, 1.0), True, True, "old weight"),
            Param("mu_old", (-5.0, 5.0, "lin"), (-1e6, 1e6), doc="student old mean"),
            Param("mu_new", (-5.0, 5.0, "lin"), (-1e6, 1e6), doc="student new mean"),
            Param("x", (-10.0, 10.0, "lin"), (-1e6, 1e6), doc="sample point")),
    metric="(q/b)/bound",
    fn=_weight,
    doc="q_θ(x)/b_ρ(x) ≤ 1/(1−ρ), b_ρ = (1−ρ)q_θ + ρN(0, 1), in log space",
))


# ---------------------------------------------------------------------------------------------
# rkl.local_geometry
# ---------------------------------------------------------------------------------------------

_EPS = float(np.finfo(np.float64).eps)
#: round-off allowance of a double-precision Fisher entry in units of eps·max|I_ij| (as in
#: symforget.claims.geometry)
_ROUNDOFF_UNITS = 64.0


@cache
def _geometry_fns(limit: sp.Matrix, exponent: sp.Expr, backend: str) -> tuple[Any, Any]:
    lim = compile_exprs(list(limit), (alpha,), backend)
    bnd = compile_exprs(list(sgeo.deviation_bound(exponent)), (w, delta), backend)
    return lim, bnd


def _entries(vals: Any, shape: tuple[int, ...]) -> np.ndarray:
    return np.stack([np.broadcast_to(np.asarray(v, dtype=np.float64), shape) for v in vals],
                    axis=-1).reshape(*shape, 3, 3)


def _geometry(points: Points, dps: int | None, limit: Any = None,
              bound_exponent: Any = sgeo.BOUND_EXPONENT, **_: Any) -> Result:
    stated = STATED_LIMIT if limit is None else sp.ImmutableMatrix(limit)
    stated = sp.ImmutableMatrix(stated)
    expo = as_expr(bound_exponent)
    a, d = points["alpha"], points["delta"]
    if dps is None:
        lim, bnd = _geometry_fns(stated, expo, "numpy")
        fisher = model.fisher(a, d)
        L, B = _entries(lim(a), a.shape), _entries(bnd(a, d), a.shape)
        scale = np.abs(fisher).max(axis=(-2, -1))
        allowance = _ROUNDOFF_UNITS * _EPS * scale[..., None, None]
        ratio = (np.abs(fisher - L) / (B + allowance)).max(axis=(-2, -1))
        return ratio, ratio <= 1.0
    lim, bnd = _geometry_fns(stated, expo, "mpmath")

    def one(i: int) -> tuple[float, bool]:
        val = precise.expect(mixture.fisher_spec(), [float(a[i]), 0.0, float(d[i]), 1.0],
                             dps=dps)
        with mpmath.workdps(dps):
            am, dm = mpmath.mpf(float(a[i])), mpmath.mpf(float(d[i]))
            worst = max((abs(v - l_) + e) / b_ for v, e, l_, b_ in
                        zip(val.value, val.error, lim(am), bnd(am, dm), strict=True))
            return _mp_float(worst), bool(worst <= 1)

    return _per_point(a.size, one)


register_kernel(Kernel(
    claim="rkl.local_geometry",
    params=(Param("alpha", (0.01, 0.99, "lin"), (0.0, 1.0), True, True, "target old weight"),
            Param("delta", (0.0, 14.0, "lin"), (0.0, 60.0), doc="separation Δ")),
    metric="max_ij |I − L|/B",
    fn=_geometry,
    doc="|I(θ*) − diag(1/(α(1−α)), α, 1−α)|_ij ≤ ½√(α(1−α))e^{−Δ²/8}√M_ij(Δ) (double "
        "precision adds a round-off allowance of 64 eps·max|I|)",
))


# ---------------------------------------------------------------------------------------------
# gauss.closed_forms
# ---------------------------------------------------------------------------------------------

#: double precision: |quadrature − stated| ≤ _GAUSS_RTOL·|stated| + _GAUSS_ATOL
_GAUSS_RTOL, _GAUSS_ATOL = 1e-10, 1e-13
#: probabilists' Gauss–Hermite nodes: exact to rounding for the four integrands on Δ ≤ 8
#: (the E[e^{aΔx}] error term a^{2n}n!/(2n)! is < 1e-80 there)
_GH_NODES = 160


def _gauss_integrands() -> dict[str, sp.Expr]:
    r"""The four integrands g with integral = E_{φ0}[g(x)] (σ = 1, means 0 and Δ), from the
    log-densities: BC = E[√(φ_Δ/φ_0)], KL = E[log φ_0/φ_Δ], χ² + 1 = E[φ_0/φ_Δ],
    H² = ½E[(1 − √(φ_Δ/φ_0))²]."""
    lr = log_normal_pdf(x, 0, 1) - log_normal_pdf(x, delta, 1)  # log φ_0/φ_Δ
    return {"bc": sp.exp(-lr / 2), "kl": lr, "chi2": sp.exp(lr),
            "hellinger2": (1 - sp.exp(-lr / 2)) ** 2 / 2}


@cache
def _gauss_fns(stated: tuple[tuple[str, sp.Expr], ...], backend: str) -> tuple[Any, Any]:
    g = _gauss_integrands()
    if backend == "numpy":
        integrands: Any = compile_exprs([g[k] for k, _ in stated], (x, delta), backend)
    else:  # one callable per integrand: mpmath.quad calls them point by point
        integrands = tuple(compile_exprs(g[k], (x, delta), backend) for k, _ in stated)
    return integrands, compile_exprs([e for _, e in stated], (delta,), backend)


@cache
def _gh() -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = np.polynomial.hermite_e.hermegauss(_GH_NODES)
    return nodes, weights / math.sqrt(2 * math.pi)


def _gauss(points: Points, dps: int | None, stated: dict[str, Any] | None = None,
           **_: Any) -> Result:
    from ..symbolic import gauss as G

    forms = dict(G.STATED)
    forms.update(stated or {})
    key = tuple((k, as_expr(forms[k])) for k in G.CLOSED_FORM_NAMES)
    d = points["delta"]
    if dps is None:
        integrands, closed = _gauss_fns(key, "numpy")
        nodes, weights = _gh()
        vals = integrands(nodes[None, :], d[:, None])
        num = [np.asarray(v, dtype=np.float64) * np.ones((d.size, nodes.size)) @ weights
               for v in vals]
        num[2] = num[2] - 1.0  # χ² = E[φ0/φΔ] − 1
        ref = [np.broadcast_to(np.asarray(v, dtype=np.float64), d.shape) for v in closed(d)]
        with np.errstate(over="ignore", invalid="ignore"):
            metric = np.max([np.abs(n_ - r_) / (_GAUSS_RTOL * np.abs(r_) + _GAUSS_ATOL)
                             for n_, r_ in zip(num, ref, strict=True)], axis=0)
        return metric, metric <= 1.0
    integrands, closed = _gauss_fns(key, "mpmath")

    def one(i: int) -> tuple[float, bool]:
        with mpmath.workdps(dps + 5):
            dm = mpmath.mpf(float(d[i]))
            pts = [mpmath.ninf, -dm, 0, dm / 2, dm, mpmath.inf]  # the integrands' centres
            tol = mpmath.mpf(10) ** (-(dps // 2))
            worst = mpmath.mpf(0)
            refs = closed(dm)
            for j, ref in enumerate(refs):
                fj = integrands[j]
                val, err = mpmath.quad(lambda t, fj=fj: mpmath.npdf(t) * fj(t, dm), pts,
                                       error=True)
                if j == 2:
                    val -= 1
                ratio = (abs(val - ref) + err) / (tol * abs(ref) + mpmath.mpf(10) ** -dps)
                worst = max(worst, ratio)
            return _mp_float(worst), bool(worst <= 1)

    return _per_point(d.size, one)


register_kernel(Kernel(
    claim="gauss.closed_forms",
    params=(Param("delta", (0.0, 6.0, "lin"), (0.0, 8.0), doc="separation Δ"),),
    metric="max |quadrature − stated|/tolerance",
    fn=_gauss,
    doc="BC = e^{−Δ²/8}, KL = Δ²/2, χ² = e^{Δ²} − 1, H² = 1 − BC against 160-node "
        "Gauss–Hermite (tolerance 1e-10·|value| + 1e-13); dps: mpmath.quad with its error "
        "estimate (tolerance 10^{−dps/2})",
))
