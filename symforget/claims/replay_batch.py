r"""Claims of §4 on the reverse KL with replay and finite batches (``replay.rkl_unbiased``,
``replay.rkl_weight_bound``, ``replay.starvation``).

Behaviour b_ρ = (1−ρ)q_θ + ρP_old. Monte Carlo checks use proper intervals: the estimator mean
must lie within 4 standard errors of the population gradient (:func:`symforget.model.rkl_grad`,
deterministic quadrature); starvation frequencies must lie inside a Wilson interval at 99.9 %
confidence. Every check is deterministic under ``ctx.rng(salt)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp
from scipy import stats

from .. import model
from ..numeric.compile import compile_exprs
from ..symbolic import replay_rkl as R
from ..symbolic.symbols import rho, w
from ..training import sampling
from . import register
from .base import Checks, Claim, Context, Evidence, as_expr, record_derivation

__all__ = ["check_rkl_unbiased", "check_rkl_weight_bound", "check_starvation"]

#: (θ = (w, μo, μn), p* = (α, ν_o, ν_n)) test points: small old weight, drifted old mean
_POINTS = (
    ((0.2, 0.3, 2.5), (0.3, 0.0, 3.0)),
    ((0.05, -0.5, 2.0), (0.4, 0.0, 2.5)),
)
_CONF = 0.999
_SIGMAS = 4.0


# ---------------------------------------------------------------------------------------------
# replay.rkl_unbiased
# ---------------------------------------------------------------------------------------------

def check_rkl_unbiased(ctx: Context, importance: bool = True, **_: Any) -> Evidence:
    r"""E over b_ρ of (q/b)h equals ∇L_R for every ρ: symbolic cancellation; Monte Carlo means
    within a 4-σ band (σ = sample standard error) of ``model.rkl_grad`` at several (θ, ρ); and
    the same expectation by the trapezoid rule with b_ρ built from scipy's normal pdf."""
    chk = Checks()
    record_derivation(chk, "symbolic_derivation", R.unbiased_derivation())
    n = ctx.n(100_000, 1_000_000)
    rhos = (0.0, 0.3, 0.7) + ((0.9,) if ctx.full else ())
    worst, count = 0.0, 0
    for i, (th, (al, to, tn)) in enumerate(_POINTS):
        grad = model.rkl_grad(*th, alpha=al, target_old=to, target_new=tn)
        for j, r in enumerate(rhos):
            terms = sampling.rkl_estimator(ctx.rng(100 + 10 * i + j), n, *th, alpha=al,
                                           target_old=to, target_new=tn, rho=r,
                                           importance=importance)
            mean = terms.mean(axis=0)
            se = terms.std(axis=0, ddof=1) / np.sqrt(n)
            z = np.abs(mean - grad) / se
            worst = max(worst, float(z.max()))
            count += 3
    chk.le("max_z_score", worst, _SIGMAS,
           f"{count} gradient components, n={n} per estimate, ρ ∈ {rhos}")
    # deterministic: ∫ b_ρ (q/b_ρ) h dx by the trapezoid rule, b_ρ from scipy's normal pdf
    xs = np.linspace(-25.0, 30.0, 40_001)
    qerr = 0.0
    for th, (al, to, tn) in _POINTS:
        grad = model.rkl_grad(*th, alpha=al, target_old=to, target_new=tn)
        h = sampling.score_terms(xs, *th, alpha=al, target_old=to, target_new=tn)
        q = th[0] * stats.norm.pdf(xs, th[1]) + (1 - th[0]) * stats.norm.pdf(xs, th[2])
        for r in rhos:
            b = (1 - r) * q + r * stats.norm.pdf(xs, to)
            wt = np.exp(sampling.log_weights(xs, r, *th, to)) if importance else 1.0
            est = np.trapezoid(b[:, None] * np.asarray(wt)[..., None] * h, xs, axis=0)
            qerr = max(qerr, float(np.max(np.abs(est - grad)) / max(np.abs(grad).max(), 1e-300)))
    chk.le("quadrature_rel_err", qerr, 1e-7, "∫ b (q/b) h (trapezoid, 40k points) vs rkl_grad")
    chk.metric("n_estimates", count)
    return chk.evidence(f"IW replay estimator unbiased: max |mean − ∇L_R|/se = {worst:.2f} "
                        f"over {count} components")


register(Claim(
    id="replay.rkl_unbiased",
    statement="With behaviour b_ρ = (1−ρ)q_θ + ρB, the estimator mean_i (q_θ/b_ρ)(x_i) h_θ(x_i), "
              "h_θ = ∇log q_θ · log(q_θ/p*), is unbiased for ∇L_R for every ρ ∈ [0,1): replay "
              "leaves the RKL population objective unchanged",
    check=check_rkl_unbiased,
    derivations=lambda: [R.unbiased_derivation()],
    assumptions=("B = P_old", "i.i.d. draws from b_ρ", "0 ≤ ρ < 1"),
    mutants={"no_importance_weights": {"importance": False}},
    issue=4,
))


# ---------------------------------------------------------------------------------------------
# replay.rkl_weight_bound
# ---------------------------------------------------------------------------------------------

def _trapezoid_moments(th: tuple[float, float, float], al: float, to: float, tn: float,
                       r: float) -> tuple[np.ndarray, np.ndarray]:
    """(E_b[(q/b)² h²], E_q[h²]) per component by the trapezoid rule on a fine grid."""
    xs = np.linspace(-25.0, 30.0, 40_001)
    lq = sampling.log_q(xs, *th)
    h2 = sampling.score_terms(xs, *th, alpha=al, target_old=to, target_new=tn) ** 2
    lw = sampling.log_weights(xs, r, *th, to)
    qv = np.exp(lq)[:, None]
    return (np.trapezoid(qv * np.exp(lw)[:, None] * h2, xs, axis=0),
            np.trapezoid(qv * h2, xs, axis=0))


def check_rkl_weight_bound(ctx: Context, bound: sp.Expr = R.WEIGHT_BOUND, **_: Any) -> Evidence:
    r"""q/b ≤ bound(ρ) on a dense x grid (and the bound is nearly attained); the second moment
    E_b[(q/b)²h²] ≤ bound · E_q[h²] by quadrature and by Monte Carlo."""
    chk = Checks()
    bound = as_expr(bound)
    record_derivation(chk, "symbolic_derivation", R.weight_bound_derivation(bound))
    bfn = compile_exprs(bound, (rho,))
    rhos = (0.1, 0.3, 0.6, 0.9)
    xs = np.linspace(-20.0, 25.0, 20_001)
    worst_excess, tight = -np.inf, np.inf
    worst_q_ratio, worst_mc = 0.0, 0.0
    n = ctx.n(100_000, 1_000_000)
    for i, (th, (al, to, tn)) in enumerate(_POINTS):
        for j, r in enumerate(rhos):
            b = float(bfn(r))
            lw = sampling.log_weights(xs, r, *th, to)
            worst_excess = max(worst_excess, float(lw.max() - np.log(b)))
            tight = min(tight, float(np.log1p(-r) + lw.max()))  # 0 when 1/(1−ρ) is attained
            mb, mq = _trapezoid_moments(th, al, to, tn, r)
            worst_q_ratio = max(worst_q_ratio, float((mb / mq).max() / b))
            # Monte Carlo second moments (ρ-sample vs on-policy sample)
            t_r = sampling.rkl_estimator(ctx.rng(200 + 10 * i + j), n, *th, alpha=al,
                                         target_old=to, target_new=tn, rho=r)
            t_0 = sampling.rkl_estimator(ctx.rng(300 + 10 * i + j), n, *th, alpha=al,
                                         target_old=to, target_new=tn, rho=0.0)
            ratio = (t_r**2).mean(axis=0) / (t_0**2).mean(axis=0)
            worst_mc = max(worst_mc, float(ratio.max() / b))
    chk.le("max_log_weight_excess", worst_excess, 1e-12,
           "max_x log(q/b) − log(bound) over θ points and ρ ∈ (0.1, 0.3, 0.6, 0.9)")
    chk.metric("min_gap_to_sup", tight)
    chk.le("second_moment_ratio_over_bound_quadrature", worst_q_ratio, 1.0 + 1e-9,
           "max over components of E_b[(q/b)²h²]/(bound·E_q[h²]), trapezoid on 40k points")
    chk.metric("second_moment_ratio_over_bound_mc", worst_mc)
    return chk.evidence(f"q/b ≤ bound (excess {worst_excess:.1e}); second-moment ratio/bound "
                        f"≤ {worst_q_ratio:.3f} (quadrature), {worst_mc:.3f} (MC)")


register(Claim(
    id="replay.rkl_weight_bound",
    statement="q_θ/b_ρ ≤ 1/(1−ρ) and the second moment of the importance-weighted estimator is at "
              "most 1/(1−ρ) times the on-policy one",
    check=check_rkl_weight_bound,
    derivations=lambda: [R.weight_bound_derivation()],
    assumptions=("B = P_old", "0 ≤ ρ < 1"),
    mutants={"bound_1-rho": {"bound": 1 - rho}, "no_inflation": {"bound": sp.Integer(1)}},
    issue=4,
))


# ---------------------------------------------------------------------------------------------
# replay.starvation
# ---------------------------------------------------------------------------------------------

#: (w, ρ, B) configurations: small old weight, small batches
_STARVE = ((0.05, 0.0, 4), (0.05, 0.2, 4), (0.1, 0.3, 8), (0.02, 0.1, 16), (0.3, 0.5, 2))


def wilson(k: int, n: int, confidence: float = _CONF) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (scipy's ``binomtest``)."""
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence,
                                                       method="wilson")
    return float(ci.low), float(ci.high)


def check_starvation(ctx: Context, starve: sp.Expr = R.STARVE_REPLAY,
                     expected_old: sp.Expr = R.EXPECTED_OLD, **_: Any) -> Evidence:
    r"""Stated P(no old draw) and E[#old] vs the exact binomial (scipy.stats.binom) and vs
    seeded Monte Carlo batches (Wilson 99.9 % interval; mean within 4 standard errors);
    ((1−ρ)(1−w))^B ≤ (1−ρ)^B on a grid."""
    chk = Checks()
    starve, expected_old = as_expr(starve), as_expr(expected_old)
    record_derivation(chk, "symbolic_derivation", R.starvation_derivation(starve, expected_old))
    sfn = compile_exprs(starve, (w, rho, R.batch))
    efn = compile_exprs(expected_old, (w, rho, R.batch))
    nb = ctx.n(20_000, 200_000)
    outside, exact_err, worst_z = [], 0.0, 0.0
    for i, (wv, r, bsz) in enumerate(_STARVE):
        p_old = r + (1 - r) * wv
        stated_p, stated_e = float(sfn(wv, r, bsz)), float(efn(wv, r, bsz))
        exact_err = max(exact_err, abs(stated_p - stats.binom.pmf(0, bsz, p_old)),
                        abs(stated_e - stats.binom.mean(bsz, p_old)))
        _, old, _ = sampling.sample_behaviour(ctx.rng(400 + i), nb * bsz, r, wv, 0.0, 3.0, 0.0)
        counts = old.reshape(nb, bsz).sum(axis=1)
        k = int((counts == 0).sum())
        lo, hi = wilson(k, nb)
        chk.metric(f"freq_w{wv}_rho{r}_B{bsz}", k / nb)
        chk.metric(f"stated_w{wv}_rho{r}_B{bsz}", stated_p)
        if not lo <= stated_p <= hi:
            outside.append(f"(w={wv}, ρ={r}, B={bsz}): stated {stated_p:.4f} "
                           f"∉ [{lo:.4f}, {hi:.4f}]")
        z = abs(counts.mean() - stated_e) / (counts.std(ddof=1) / np.sqrt(nb))
        worst_z = max(worst_z, float(z))
    chk.true("starvation_in_wilson_ci", not outside,
             "; ".join(outside) or f"{len(_STARVE)} configs, {nb} batches each, {_CONF:.1%} Wilson")
    chk.le("exact_binomial_error", exact_err, 1e-12, "stated vs scipy.stats.binom")
    chk.le("old_draws_max_z", worst_z, _SIGMAS, "mean #old draws per batch vs stated")
    ww, rr = np.meshgrid(np.linspace(0.01, 0.99, 50), np.linspace(0.0, 0.95, 50))
    bb = np.arange(1, 33)[:, None, None]
    viol = float(np.max(np.asarray(sfn(ww, rr, bb)) - (1 - rr) ** bb))
    chk.le("replay_floor_violation", viol, 1e-15, "stated − (1−ρ)^B on a (w, ρ, B) grid")
    return chk.evidence(f"starvation: {len(_STARVE)} configs inside {_CONF:.1%} Wilson CIs, "
                        f"exact err {exact_err:.1e}, #old max z {worst_z:.2f}")


register(Claim(
    id="replay.starvation",
    statement="An on-policy batch of B samples holds no old-component draw with probability "
              "(1−w)^B; with replay ((1−ρ)(1−w))^B ≤ (1−ρ)^B, and the expected number of old "
              "draws is B(ρ + (1−ρ)w)",
    check=check_starvation,
    derivations=lambda: [R.starvation_derivation()],
    assumptions=("i.i.d. draws from b_ρ = (1−ρ)q_θ + ρP_old", "a buffer draw counts as old"),
    mutants={
        "starve_factorised": {"starve": (1 - rho) ** R.batch * (1 - w)},
        "starve_ignores_replay": {"starve": (1 - w) ** R.batch},
        "expected_old_on_policy": {"expected_old": R.batch * w},
    },
    issue=4,
))
