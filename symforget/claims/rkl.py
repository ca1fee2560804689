r"""Claims of §3: reverse KL :math:`L_R(\theta) = \mathrm{KL}(q_\theta\Vert p^*)` (``rkl.*``).

Layout: shared *independent references* first (hand-written densities integrated by SciPy's
adaptive QUADPACK — a second route that shares nothing with the SymPy integrands or the
kink-aware Gauss–Legendre rule of the model), then one section per claim: its check function
(statement constants as keyword arguments, true values by default) and its ``register`` call.
All targets are whitened: p* = α N(0, 1) + (1 − α) N(Δ, 1).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import sympy as sp
from scipy import optimize

from .. import dynamics, model, precise
from ..numeric.compile import compile_exprs
from ..symbolic import rkl as srkl
from ..symbolic.expectation import ExpectationSpec
from ..symbolic.mixture import rkl_grad_spec, rkl_loss_spec
from ..symbolic.symbols import alpha
from . import register
from .base import Checks, Claim, Context, Evidence, as_expr, fit_line, record_derivation
from .references import reference_integral, reference_log_mixture, reference_log_normal

__all__ = [
    "check_global_optimum",
    "check_weight_convergence",
    "record_derivation",
    "reference_log_normal",
    "reference_log_mixture",
    "reference_integral",
]


def _kink_points(w: float, mo: float, mn: float, a: float, to: float, tn: float) -> list[float]:
    """Means, and where the student's and the target's responsibilities switch (σ = 1)."""
    pts = [mo, mn, to, tn]
    for pi, m1, m2 in ((w, mo, mn), (a, to, tn)):
        if m1 != m2:  # z = log(π/(1−π)) + (m1 − m2) x − (m1² − m2²)/2 = 0
            pts.append((m1 + m2) / 2 - np.log(pi / (1 - pi)) / (m1 - m2))
    return pts


def _ref_rkl_loss(w: float, mo: float, mn: float, a: float, to: float, tn: float) -> float:
    """KL(q ‖ p*) = ∫ q log(q/p*) from the definition."""
    def f(x: float) -> float:
        lq = reference_log_mixture(x, w, mo, mn)
        return float(np.exp(lq) * (lq - reference_log_mixture(x, a, to, tn)))

    return reference_integral(f, _kink_points(w, mo, mn, a, to, tn))


def _ref_rkl_dw(w: float, mo: float, mn: float, a: float, to: float, tn: float) -> float:
    """∂L_R/∂w as *stated*: E_{φo}[log q/p*] − E_{φn}[log q/p*]."""
    def f(x: float) -> float:
        lr = reference_log_mixture(x, w, mo, mn) - reference_log_mixture(x, a, to, tn)
        dens = np.exp(reference_log_normal(x, mo)) - np.exp(reference_log_normal(x, mn))
        return float(dens * lr)

    return reference_integral(f, _kink_points(w, mo, mn, a, to, tn))


def _ref_rkl_dww(w: float, mo: float, mn: float) -> float:
    """∂²L_R/∂w² as derived: ∫ (φo − φn)²/q (it does not involve p*)."""
    def f(x: float) -> float:
        dens = np.exp(reference_log_normal(x, mo)) - np.exp(reference_log_normal(x, mn))
        return float(dens**2 * np.exp(-reference_log_mixture(x, w, mo, mn)))

    return reference_integral(f, _kink_points(w, mo, mn, 0.5, mo, mn))


def _stated(expr: sp.Expr | float, alphas: np.ndarray) -> np.ndarray:
    """A stated constant (SymPy expression in α, or a number) evaluated at each α."""
    fn = compile_exprs(as_expr(expr), (alpha,))  # internal expression or number, never a str
    return np.broadcast_to(np.asarray(fn(alphas), dtype=np.float64), alphas.shape).copy()


# ---------------------------------------------------------------------------------------------
# rkl.global_optimum
# ---------------------------------------------------------------------------------------------

def _minimise_rkl(a: float, d: float, theta0: np.ndarray) -> np.ndarray:
    """BFGS on (logit w, μo, μn) with the model's L_R and ∇L_R (chain rule for the logit)."""
    kw = dict(alpha=a, target_old=0.0, target_new=d)

    def fun(v: np.ndarray) -> tuple[float, np.ndarray]:
        w = 1.0 / (1.0 + np.exp(-v[0]))
        loss = float(model.rkl_loss(w, v[1], v[2], **kw))
        g = model.rkl_grad(w, v[1], v[2], **kw)
        return loss, np.array([g[0] * w * (1.0 - w), g[1], g[2]])

    w0 = theta0[0]
    v0 = np.array([np.log(w0 / (1.0 - w0)), theta0[1], theta0[2]])
    res = optimize.minimize(fun, v0, jac=True, method="BFGS",
                            options={"gtol": 1e-11, "maxiter": 500})
    return np.array([1.0 / (1.0 + np.exp(-res.x[0])), res.x[1], res.x[2], res.fun])


def check_global_optimum(ctx: Context, w_star: sp.Expr = alpha, **_: Any) -> Evidence:
    r"""``rkl.global_optimum``: L_R ≥ 0, = 0 exactly at θ* = (w_star, μo*, μn*) and its swap.

    Symbolic: Gibbs' inequality via f(u) = u − 1 − log u and q = p* at θ*/swap
    (:func:`~symforget.symbolic.rkl.global_optimum_derivation`). Numeric: L_R on seeded random
    θ (min reported, must be ≥ −1e-12), L_R at the stated θ* and swap (≤ 1e-12), BFGS from
    seeded starts ends at the stated θ* or swap, and L_R agrees with an independent QUADPACK
    integral of q log(q/p*) (the precise layer too, in the full profile).
    """
    chk = Checks()
    record_derivation(chk, "symbolic_derivation", srkl.global_optimum_derivation(w_star))

    # 1. non-negativity on seeded random θ and targets (plus points close to θ*)
    rng = ctx.rng(1)
    n = ctx.n(4000, 40000)
    a = rng.uniform(0.01, 0.99, n)
    d = rng.uniform(0.0, 8.0, n)
    w = rng.uniform(0.01, 0.99, n)
    mo = rng.uniform(-2.0, 10.0, n)
    mn = rng.uniform(-2.0, 10.0, n)
    near = rng.random(n) < 0.25  # a quarter of the points within 1e-3 … 1e-1 of θ*
    eps = 10.0 ** rng.uniform(-3, -1, (3, n)) * rng.choice([-1.0, 1.0], (3, n))
    w = np.where(near, np.clip(a + eps[0], 0.005, 0.995), w)
    mo = np.where(near, eps[1], mo)
    mn = np.where(near, d + eps[2], mn)
    loss = model.rkl_loss(w, mo, mn, alpha=a, target_old=0.0, target_new=d)
    i = int(np.argmin(loss))
    chk.metric("min_loss_random", float(loss.min()))
    chk.true("loss_nonnegative", float(loss.min()) >= -1e-12,
             f"min L_R={loss.min():.3g} at w={w[i]:.4g}, μo={mo[i]:.4g}, μn={mn[i]:.4g}, "
             f"α={a[i]:.4g}, Δ={d[i]:.4g} over {n} seeded points (tolerance −1e-12)")
    chk.metric("min_loss_near_theta_star", float(loss[near].min()))
    chk.metric("n_random_points", n)

    # 2. zero at the stated θ* and its label swap, on an (α, Δ) grid
    ag, dg = np.meshgrid([0.05, 0.2, 0.3, 0.5, 0.7, 0.95], [0.5, 1.0, 2.0, 4.0, 8.0])
    ag, dg = ag.ravel(), dg.ravel()
    ws = _stated(w_star, ag)
    inside = (ws > 0) & (ws < 1)
    chk.true("stated_weight_in_domain", bool(inside.all()),
             f"stated minimiser weight {ws[~inside][:1]} at α={ag[~inside][:1]} is outside "
             "(0, 1), where L_R is not even defined" if not inside.all() else "")
    if inside.any():
        tk = dict(alpha=ag[inside], target_old=0.0, target_new=dg[inside])
        at_star = model.rkl_loss(ws[inside], 0.0, dg[inside], **tk)
        at_swap = model.rkl_loss(1.0 - ws[inside], dg[inside], 0.0, **tk)
        worst = float(max(np.abs(at_star).max(), np.abs(at_swap).max()))
        chk.le("max_abs_loss_at_stated_optimum", worst, 1e-12,
               f"L_R at (w_star, μo*, μn*) and at the swap, {inside.sum()} (α, Δ) pairs")

    # 3. minimisation from seeded starts ends at the stated θ* or swap
    cases = [(0.3, 4.0), (0.7, 2.0)] + ([(0.25, 1.0), (0.6, 6.0)] if ctx.full else [])
    starts = ctx.n(3, 6)
    rng = ctx.rng(2)
    worst_dist, worst_mass, worst_loss, n_runs = 0.0, 0.0, 0.0, 0
    for a_, d_ in cases:
        ws_ = float(_stated(w_star, np.array([a_]))[0])
        star = np.array([ws_, 0.0, d_])
        swap = np.array([1.0 - ws_, d_, 0.0])
        for _k in range(starts):
            th0 = np.array([rng.uniform(0.1, 0.9), *rng.uniform(-1.5, d_ + 1.5, 2)])
            end = _minimise_rkl(a_, d_, th0)
            theta, val = end[:3], end[3]
            dist = float(min(np.abs(theta - star).max(), np.abs(theta - swap).max()))
            # the old-task mass: weight of the component nearer to the old mean μo* = 0
            old_mass = theta[0] if abs(theta[1]) <= abs(theta[2]) else 1.0 - theta[0]
            worst_dist = max(worst_dist, dist)
            worst_mass = max(worst_mass, abs(old_mass - a_))
            worst_loss = max(worst_loss, val)
            n_runs += 1
            if dist > 1e-5:
                chk.true(f"minimiser_{a_}_{d_}_{_k}", False,
                         f"BFGS from {np.round(th0, 4)} ended at {np.round(theta, 8)} with "
                         f"L_R={val:.3g}; stated θ*={star}, swap={swap}")
    chk.le("max_dist_minimiser_to_stated", worst_dist, 1e-5,
           f"{n_runs} BFGS runs over (α, Δ) in {cases}")
    chk.le("max_loss_at_minimiser", worst_loss, 1e-12)
    chk.metric("max_old_mass_error_at_minimisers", worst_mass)

    # 4. independent value check: QUADPACK on the definition (and mpmath in the full profile)
    pts = [(0.37, 0.4, 3.1, 0.3, 0.0, 4.0), (0.8, -1.0, 0.5, 0.6, 0.0, 2.0)]
    if ctx.full:
        pts += [(0.05, 2.0, 7.5, 0.9, 0.0, 8.0), (0.5, 0.0, 0.0, 0.2, 0.0, 1.0)]
    worst_rel = 0.0
    for p in pts:
        ours = float(model.rkl_loss(p[0], p[1], p[2], alpha=p[3], target_old=p[4],
                                    target_new=p[5]))
        ref = _ref_rkl_loss(*p)
        worst_rel = max(worst_rel, abs(ours - ref) / abs(ref))
    chk.le("max_rel_err_vs_quadpack", worst_rel, 1e-9, f"{len(pts)} points")
    if ctx.full:
        worst_p = 0.0
        for p in pts[:2]:
            pv = precise.expect(rkl_loss_spec(), [*p, 1.0], dps=ctx.dps)
            ours = float(model.rkl_loss(p[0], p[1], p[2], alpha=p[3], target_old=p[4],
                                        target_new=p[5]))
            worst_p = max(worst_p, abs(ours - float(pv.value[0])) / abs(float(pv.value[0])))
        chk.le("max_rel_err_vs_precise", worst_p, 1e-10, f"mpmath at {ctx.dps} digits")
    return chk.evidence(
        f"L_R ≥ 0 (min {loss.min():.1e} over {n} points); 0 at θ*/swap; {n_runs} minimisations "
        f"end at θ* or swap (max dist {worst_dist:.1e}); quad rel err {worst_rel:.1e}")


register(Claim(
    id="rkl.global_optimum",
    statement="L_R = KL(q_θ ‖ p*) ≥ 0 with equality iff q_θ = p* (θ = θ* or its label swap): "
              "every global minimiser keeps old mass α",
    check=check_global_optimum,
    derivations=lambda: [srkl.global_optimum_derivation()],
    assumptions=("equal unit variances (whitened)", "μo* ≠ μn*", "w, α ∈ (0, 1)"),
    mutants={
        "minimiser_w_zero": {"w_star": sp.Integer(0)},
        "minimiser_half_alpha": {"w_star": alpha / 2},
    },
    issue=2,
))


# ---------------------------------------------------------------------------------------------
# rkl.weight_convergence
# ---------------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _rkl_dw_spec() -> ExpectationSpec:
    """The w-entry alone of the model's RKL gradient spec (a third of the precise cost)."""
    full = rkl_grad_spec()
    return ExpectationSpec(f"{full.name}_w", full.params, full.components,
                           tuple((f[0],) for f in full.integrands), full.kinks)


def _fit_rate(tr: dynamics.Trajectory, target: float) -> tuple[float, float, int]:
    """Fit log|w_t − target| = c − r t over the late window 1e-9 < |w_t − target| < 1e-5."""
    e = np.abs(tr.w - target)
    m = (e > 1e-9) & (e < 1e-5)
    if m.sum() < 5:
        return float("nan"), float("nan"), int(m.sum())
    slope, se, _ = fit_line(tr.t[m], np.log(e[m]))
    return -slope, se, int(m.sum())


def check_weight_convergence(ctx: Context, minimiser: sp.Expr = alpha,
                             rate_factor: float = 1.0, **_: Any) -> Evidence:
    r"""``rkl.weight_convergence`` (means at the truth).

    Symbolic: :func:`~symforget.symbolic.rkl.weight_convergence_derivation`. Numeric:
    ∂L_R/∂w of ``rkl_grad`` against (i) a central finite difference of ``rkl_loss`` and a
    Taylor-remainder slope (must be 2), (ii) E_φo[log q/p*] − E_φn[log q/p*] by QUADPACK,
    (iii) the precise layer; ∂²L_R/∂w² > 0 on a grid and equal to ∫(φo−φn)²/q by QUADPACK;
    sign(∂L_R/∂w) = sign(w − minimiser) on a dense grid; gradient flow (means frozen) ends at
    the stated minimiser and its fitted late rate equals ``rate_factor`` × I_ww(θ*).
    """
    chk = Checks()
    record_derivation(chk, "symbolic_derivation",
                       srkl.weight_convergence_derivation(as_expr(minimiser),
                                                       sp.nsimplify(rate_factor)))

    # 1. the w-gradient: finite differences, Taylor remainder, QUADPACK, precise
    rng = ctx.rng(3)
    n = ctx.n(200, 2000)
    a = rng.uniform(0.05, 0.95, n)
    d = rng.uniform(0.3, 8.0, n)
    w = rng.uniform(0.2, 0.8, n)
    off = rng.random(n) < 0.5  # half the points with the means off the truth (identity is general)
    mo = np.where(off, rng.uniform(-2.0, 2.0, n), 0.0)
    mn = np.where(off, d + rng.uniform(-2.0, 2.0, n), d)
    tk = dict(alpha=a, target_old=0.0, target_new=d)
    g = model.rkl_grad(w, mo, mn, **tk)[..., 0]
    h = 1e-5
    fd = (model.rkl_loss(w + h, mo, mn, **tk) - model.rkl_loss(w - h, mo, mn, **tk)) / (2 * h)
    scale = np.maximum(np.abs(g), 1e-2)
    chk.le("max_rel_err_grad_vs_fd", float(np.max(np.abs(g - fd) / scale)), 1e-6,
           f"central difference h={h}, {n} points")
    hs = 0.05 * 2.0 ** -np.arange(6)
    slopes = []
    for j in range(3):
        loss0 = float(model.rkl_loss(w[j], mo[j], mn[j], alpha=a[j], target_old=0.0,
                                     target_new=d[j]))
        lh = model.rkl_loss(w[j] + hs, mo[j], mn[j], alpha=a[j], target_old=0.0,
                            target_new=d[j])
        rem = np.abs(lh - loss0 - hs * g[j])
        slopes.append(fit_line(np.log(hs), np.log(rem))[0])
    chk.close("taylor_remainder_slope_min", float(min(slopes)), 2.0, rtol=0.0, atol=0.05,
              detail="|L(w+h) − L(w) − h g| ∝ h² iff g is the derivative")
    k_ref = ctx.n(3, 12)
    worst_q = 0.0
    for j in range(k_ref):
        ref = _ref_rkl_dw(w[j], mo[j], mn[j], a[j], 0.0, d[j])
        worst_q = max(worst_q, abs(g[j] - ref) / max(abs(ref), 1e-2))
    chk.le("max_rel_err_grad_vs_quadpack", worst_q, 1e-9,
           f"E_φo[log q/p*] − E_φn[log q/p*] by QUADPACK, {k_ref} points")
    if ctx.full:  # the precise layer costs ~4 s per point: full profile only
        worst_p = 0.0
        for j in range(3):
            pv = precise.expect(_rkl_dw_spec(), [w[j], mo[j], mn[j], a[j], 0.0, d[j], 1.0],
                                dps=ctx.dps)
            ref = float(pv.value[0])
            worst_p = max(worst_p, abs(g[j] - ref) / max(abs(ref), 1e-2))
        chk.le("max_rel_err_grad_vs_precise", worst_p, 1e-10, f"mpmath at {ctx.dps} digits")

    # 2. strict convexity in w (means at the truth) and the unique minimiser
    cases = [(0.3, 4.0), (0.8, 1.5)] + ([(0.1, 8.0), (0.6, 0.7)] if ctx.full else [])
    wg = np.linspace(0.005, 0.995, ctx.n(199, 991))
    min_curv, worst_c, worst_fd, worst_sign, worst_zero = np.inf, 0.0, 0.0, 0, 0.0
    hw = 1e-3 * np.minimum(wg, 1.0 - wg)
    for a_, d_ in cases:
        tk1 = dict(alpha=a_, target_old=0.0, target_new=d_)
        # the model's curvature: a central difference of its w-gradient …
        curv = (model.rkl_grad(wg + hw, 0.0, d_, **tk1)[..., 0]
                - model.rkl_grad(wg - hw, 0.0, d_, **tk1)[..., 0]) / (2 * hw)
        # … against the derived ∂²L_R/∂w² = ∫(φo − φn)²/q = E_q[(∂_w log q)²]
        derived = model.fisher_matrix(wg, 0.0, d_)[..., 0, 0]
        worst_fd = max(worst_fd, float(np.max(np.abs(curv - derived) / derived)))
        min_curv = min(min_curv, float(curv.min()), float(derived.min()))
        for wj in (0.02, 0.5, 0.97):
            ref = _ref_rkl_dww(wj, 0.0, d_)
            ours = float(model.fisher_matrix(wj, 0.0, d_)[0, 0])
            worst_c = max(worst_c, abs(ours - ref) / ref)
        w_min = float(_stated(minimiser, np.array([a_]))[0])
        gw = model.rkl_grad(wg, 0.0, d_, **tk1)[..., 0]
        away = np.abs(wg - w_min) > 1e-9
        worst_sign += int(np.sum(np.sign(gw[away]) != np.sign(wg[away] - w_min)))
        if 0.0 < w_min < 1.0:
            g_at = float(model.rkl_grad(w_min, 0.0, d_, **tk1)[0])
            worst_zero = max(worst_zero, abs(g_at))
        else:
            worst_zero = np.inf
    chk.metric("min_curvature", min_curv)
    chk.true("curvature_positive", min_curv > 0.0,
             f"∂²L_R/∂w² on {wg.size} w × {len(cases)} (α, Δ); min {min_curv:.4g}")
    chk.le("max_rel_err_curvature_fd_vs_derived", worst_fd, 1e-5,
           "central difference of ∂L_R/∂w vs E_q[(∂_w log q)²]")
    chk.le("max_rel_err_curvature_vs_quadpack", worst_c, 1e-9, "∫(φo − φn)²/q by QUADPACK")
    chk.le("sign_mismatches", worst_sign, 0,
           "grid points where sign(∂L_R/∂w) ≠ sign(w − stated minimiser)")
    chk.le("max_abs_grad_at_stated_minimiser", worst_zero, 1e-12)

    # 3. gradient flow (means frozen) converges to the minimiser at rate I_ww(θ*)
    runs = ([(0.3, 4.0, 0.02), (0.8, 1.5, 0.98)] if not ctx.full else
            [(a_, d_, w0) for a_, d_ in cases for w0 in (0.01, 0.12, 0.35, 0.65, 0.88, 0.99)
             if abs(w0 - a_) > 1e-3])
    worst_final, worst_rate_err, rates, n_monotone = 0.0, 0.0, [], 0
    kappas: dict[tuple[float, float], float] = {}
    for a_, d_, _w0 in runs:
        if (a_, d_) not in kappas:
            kappas[a_, d_] = float(model.fisher(a_, d_)[..., 0, 0])
            # the curvature at α as derived, ∫(φo − φn)²/p*, by QUADPACK
            chk.close(f"fisher_ww_vs_quadpack_{a_}_{d_}", kappas[a_, d_],
                      _ref_rkl_dww(a_, 0.0, d_), rtol=1e-9)
    for a_, d_, w0 in runs:
        obj = dynamics.rkl_objective(a_, 0.0, d_)
        kappa = kappas[a_, d_]
        t_end = 25.0 / kappa
        tr = dynamics.gradient_flow(obj, (w0, 0.0, d_), t_end, free=(True, False, False),
                                    t_eval=np.linspace(0.0, t_end, 201))
        w_min = float(_stated(minimiser, np.array([a_]))[0])
        worst_final = max(worst_final, abs(tr.w[-1] - w_min))
        e = tr.w - a_
        monotone = bool(np.all(np.diff(np.abs(e)) <= 1e-12) and np.all(e * e[0] >= -1e-20))
        if not monotone:
            chk.true(f"flow_monotone_{a_}_{d_}_{w0}", False,
                     "|w_t − α| must be non-increasing without crossing α")
        n_monotone += monotone
        rate, se, m = _fit_rate(tr, w_min)
        expected = rate_factor * kappa
        rates.append(rate)
        err = abs(rate - expected) / expected if np.isfinite(rate) else np.inf
        worst_rate_err = max(worst_rate_err, err)
        if not err <= 2e-3:
            chk.true(f"flow_rate_{a_}_{d_}_{w0}", False,
                     f"fitted rate {rate:.6g} ± {se:.2g} ({m} points) vs stated "
                     f"{rate_factor}·I_ww = {expected:.6g}")
    chk.le("max_final_dist_to_minimiser", worst_final, 1e-8, f"{len(runs)} flows, t_end = 25/I_ww")
    chk.le("max_rel_err_rate", worst_rate_err, 2e-3,
           "fitted late rate of log|w_t − minimiser| vs stated rate")
    chk.true("flows_monotone", n_monotone == len(runs), f"{n_monotone}/{len(runs)} monotone")
    chk.metric("fitted_rates", ", ".join(f"{r:.6g}" for r in rates))
    return chk.evidence(
        f"∂wL_R = E_φo − E_φn[log q/p*] (quad rel err {worst_q:.1e}); convex (min curvature "
        f"{min_curv:.3g}); flows end within {worst_final:.1e} of the minimiser, rate rel err "
        f"{worst_rate_err:.1e}")


register(Claim(
    id="rkl.weight_convergence",
    statement="Means at the truth: L_R(w) is strictly convex with unique minimiser w = α, "
              "∂L_R/∂w = E_φo[log q/p*] − E_φn[log q/p*], and gradient flow converges to α "
              "exponentially (rate I_ww(θ*) = ∫(φo − φn)²/p*) from every w0 ∈ (0, 1)",
    check=check_weight_convergence,
    derivations=lambda: [srkl.weight_convergence_derivation()],
    assumptions=("means frozen at the truth μo = μo*, μn = μn* ≠ μo*",
                 "plain gradient flow in w (dynamics.gradient_flow, param='raw')",
                 "equal unit variances (whitened)"),
    mutants={
        "minimiser_half": {"minimiser": sp.Rational(1, 2)},
        "rate_half_curvature": {"rate_factor": 0.5},
    },
    issue=2,
))
