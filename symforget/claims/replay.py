r"""Claims of §4: replay (``replay.*``).

Forward KL with replay: :math:`P_{\rm train} = (1-\lambda)P_{\rm new} + \lambda P_{\rm old}`
(λ = the ``replay`` argument of :func:`symforget.fkl_grad`, the SymPy symbol ``rho``). In
whitened units P_old = N(0, 1) (= the replay mean) and P_new = N(Δ, 1) (= the data mean).
One section per claim: check function (stated constants as keyword arguments with the true
values as defaults) and ``register`` call. Independent references are the QUADPACK integrals
of hand-written densities from :mod:`symforget.claims.rkl`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from .. import dynamics, model
from ..numeric.compile import compile_exprs
from ..symbolic import replay as srep
from ..symbolic.mixture import fkl_grad_spec, fkl_iw_grad_spec, fkl_loss_spec
from ..symbolic.symbols import alpha, rho
from . import register
from .base import Checks, Claim, Context, Evidence, as_expr, record_derivation
from .references import reference_integral, reference_log_mixture, reference_log_normal

__all__ = ["check_fkl_optimum", "check_fkl_iw_no_effect"]


def _spec_symbols(*specs: Any) -> set[sp.Symbol]:
    """Every free symbol of the given expectation specs (weights, means, scales, integrands)."""
    out: set[sp.Symbol] = set()
    for spec in specs:
        exprs = [e for f in spec.integrands for e in f] + list(spec.kinks)
        for c in spec.components:
            exprs += [c.weight, c.mean, c.scale]
        for e in exprs:
            out |= as_expr(e).free_symbols
    return out


def _ref_fkl_dw(w: float, mo: float, mn: float, md: float, mr: float, lam: float) -> float:
    r"""∂_w KL(P ‖ q) = −∫ P (φo − φn)/q from the definition, P = (1−λ)φ_{md} + λφ_{mr}."""
    def f(x: float) -> float:
        lq = reference_log_mixture(x, w, mo, mn)
        p = (1.0 - lam) * np.exp(reference_log_normal(x, md))
        if lam > 0:
            p += lam * np.exp(reference_log_normal(x, mr))
        s_w = np.exp(reference_log_normal(x, mo) - lq) - np.exp(reference_log_normal(x, mn) - lq)
        return float(-p * s_w)

    pts = [mo, mn, md, mr]
    if mo != mn:
        pts.append((mo + mn) / 2 - np.log(w / (1 - w)) / (mo - mn))
    return reference_integral(f, pts)


def _stated(expr: sp.Expr | float, lam: np.ndarray, a: np.ndarray) -> np.ndarray:
    """A stated minimiser (SymPy expression in λ = rho and α, or a number) at each (λ, α)."""
    fn = compile_exprs(as_expr(expr), (rho, alpha))  # internal expression, never a str
    return np.broadcast_to(np.asarray(fn(lam, a), dtype=np.float64), np.shape(lam)).copy()


# ---------------------------------------------------------------------------------------------
# replay.fkl_optimum
# ---------------------------------------------------------------------------------------------

def check_fkl_optimum(ctx: Context, w_opt: sp.Expr = rho, **_: Any) -> Evidence:
    r"""``replay.fkl_optimum``: means correct, the unique minimiser of L_F(w) is w = λ.

    Symbolic: :func:`~symforget.symbolic.replay.fkl_optimum_derivation` (q = P_train at
    w = λ, stationarity, strict convexity, EM fixed point) and the fact that α is not a symbol
    of any forward-KL expression. Numeric on a (λ, Δ, α) grid: ∂L_F/∂w (``fkl_grad``) is 0 at
    the stated minimiser and has the sign of w − w_opt elsewhere; L_F = 0 there; with λ = 0 the
    w-gradient is > 0 on (0, 1) (λ > 0 is necessary); ∂L_F/∂w agrees with QUADPACK; EM (all
    parameters free) and gradient flow (means frozen) converge to the stated minimiser.
    """
    chk = Checks()
    w_opt = as_expr(w_opt)
    record_derivation(chk, "symbolic_derivation", srep.fkl_optimum_derivation(w_opt))
    fkl_symbols = _spec_symbols(fkl_grad_spec(), fkl_loss_spec(True), fkl_loss_spec(False))
    chk.true("alpha_absent_from_fkl", alpha not in fkl_symbols,
             "α is not a symbol of ∇L_F or L_F: the target's old weight cannot enter")
    chk.true("stated_minimiser_independent_of_alpha", alpha not in w_opt.free_symbols,
             f"stated minimiser {w_opt} depends on α, which L_F never sees"
             if alpha in w_opt.free_symbols else "")

    # 1. stationarity and sign of the w-gradient on a (λ, Δ, α) grid, means correct
    lams = np.array([0.05, 0.2, 0.5, 0.8, 0.95] + ([0.01, 0.35, 0.65, 0.99] if ctx.full else []))
    deltas = np.array([0.5, 2.0, 4.0, 8.0] + ([1.0, 12.0] if ctx.full else []))
    alphas = np.array([0.1, 0.3, 0.9])
    L, D, A = (v.ravel() for v in np.meshgrid(lams, deltas, alphas, indexing="ij"))
    ws = _stated(w_opt, L, A)
    inside = (ws > 0) & (ws < 1)
    chk.true("stated_minimiser_in_domain", bool(inside.all()),
             "" if inside.all() else f"stated minimiser {ws[~inside][0]} at λ={L[~inside][0]}")
    kw = dict(data_mean=D[inside], replay=L[inside], replay_mean=0.0)
    g_at = model.fkl_grad(ws[inside], 0.0, D[inside], **kw)[..., 0]
    chk.le("max_abs_grad_at_stated_minimiser", float(np.abs(g_at).max()), 1e-10,
           f"∂L_F/∂w at the stated minimiser, {inside.sum()} (λ, Δ, α) points")
    loss_at = model.fkl_loss(ws[inside], 0.0, D[inside], **kw)
    chk.le("max_abs_loss_at_stated_minimiser", float(np.abs(loss_at).max()), 1e-12,
           "L_F = KL(P_train ‖ q) at the stated minimiser")
    wg = np.linspace(0.005, 0.995, ctx.n(199, 991))
    LL, DD, WW = np.meshgrid(lams, deltas, wg, indexing="ij")
    gw = model.fkl_grad(WW, 0.0, DD, data_mean=DD, replay=LL, replay_mean=0.0)[..., 0]
    mism = 0
    for k, a_ in enumerate(alphas):
        stated = _stated(w_opt, LL, np.full(LL.shape, a_))
        away = np.abs(WW - stated) > 1e-9
        bad = away & (np.sign(gw) != np.sign(WW - stated))
        mism += int(bad.sum())
        if bad.any() and k == 0:
            i = np.argwhere(bad)[0]
            chk.metric("first_sign_mismatch",
                       f"λ={lams[i[0]]}, Δ={deltas[i[1]]}, w={wg[i[2]]:.4g}: "
                       f"∂L_F/∂w={gw[tuple(i)]:.3g}, stated minimiser {stated[tuple(i)]:.4g}")
    chk.le("sign_mismatches", mism, 0, f"sign(∂L_F/∂w) vs sign(w − w_opt) on {gw.size} points "
           f"× {alphas.size} α (α enters only the stated minimiser)")

    # 2. λ = 0: the w-gradient is > 0 on all of (0, 1): the minimiser is the boundary w = 0
    DD0, WW0 = np.meshgrid(deltas, wg, indexing="ij")
    g0 = model.fkl_grad(WW0, 0.0, DD0, data_mean=DD0)[..., 0]
    chk.metric("min_grad_no_replay", float(g0.min()))
    chk.true("no_replay_grad_positive", bool((g0 > 0).all()),
             f"λ = 0: min ∂L_F/∂w = {g0.min():.3g} on {g0.size} points (mass forgetting)")

    # 3. independent route: QUADPACK on −∫P(φo − φn)/q (also off the truth)
    pts = [(0.3, 0.0, 3.0, 3.0, 0.0, 0.2), (0.6, 0.4, 1.7, 2.0, -0.5, 0.7),
           (0.1, -1.0, 5.0, 4.5, 0.3, 0.05)]
    worst_q = 0.0
    for p in pts[: ctx.n(2, 3)]:
        ours = float(model.fkl_grad(p[0], p[1], p[2], data_mean=p[3], replay_mean=p[4],
                                    replay=p[5])[0])
        ref = _ref_fkl_dw(*p)
        worst_q = max(worst_q, abs(ours - ref) / max(abs(ref), 1e-2))
    chk.le("max_rel_err_grad_vs_quadpack", worst_q, 1e-9, "−∫P(φo − φn)/q by QUADPACK")

    # 4. dynamics: EM with all parameters free, gradient flow with the means frozen
    em_runs = [(0.2, 3.0, 0.02), (0.2, 3.0, 0.98)] + ([(0.7, 2.0, 0.5)] if ctx.full else [])
    worst_em = 0.0
    for lam, d, w0 in em_runs:
        tr = dynamics.iterate(
            lambda th, d=d, lam=lam: model.em_step(th[0], th[1], th[2], data_mean=d,
                                                   replay=lam, replay_mean=0.0),
            (w0, 0.0, d), ctx.n(80, 300))
        target = float(_stated(w_opt, np.array(lam), np.array(0.3)))
        worst_em = max(worst_em, float(np.abs(tr.final - [target, 0.0, d]).max()))
    chk.le("max_em_final_dist", worst_em, 1e-8,
           "EM from w0 ∈ {0.02, 0.98}, means free; distance to (w_opt, μo*, μn*)")
    flow_runs = [(0.05, 1.0, 0.9)] + ([(0.7, 2.0, 0.02), (0.5, 6.0, 0.99)] if ctx.full else [])
    worst_flow = 0.0
    for lam, d, w0 in flow_runs:
        obj = dynamics.fkl_objective(d, replay=lam, replay_mean=0.0)
        # curvature at q = P_train: ∫P(φo − φn)²/q² = ∫(φo − φn)²/P = I_ww(λ, 0, Δ)
        kappa = float(model.fisher(lam, d)[..., 0, 0])
        tr = dynamics.gradient_flow(obj, (w0, 0.0, d), 25.0 / kappa, free=(True, False, False))
        target = float(_stated(w_opt, np.array(lam), np.array(0.3)))
        worst_flow = max(worst_flow, abs(float(tr.final[0]) - target))
    chk.le("max_flow_final_dist", worst_flow, 1e-8, "gradient flow, means frozen, t = 25/I_ww")
    return chk.evidence(
        f"w-gradient 0 at the stated minimiser and sign-correct on {gw.size} points; "
        f"α absent from L_F; λ = 0 gives min ∂wL_F = {g0.min():.2g} > 0; EM/flow end within "
        f"{max(worst_em, worst_flow):.1e}")


register(Claim(
    id="replay.fkl_optimum",
    statement="P_train = (1−λ)P_new + λP_old, means correct: the unique minimiser of "
              "KL(P_train ‖ q) is w = λ, independent of α (which does not enter the forward KL); "
              "λ > 0 is necessary and sufficient against mass forgetting",
    check=check_fkl_optimum,
    derivations=lambda: [srep.fkl_optimum_derivation()],
    assumptions=("means at the truth μo = μo*, μn = μn* ≠ μo*", "replay fraction λ ∈ [0, 1)",
                 "equal unit variances (whitened)"),
    mutants={
        "minimiser_half_lambda": {"w_opt": rho / 2},
        "minimiser_lambda_squared": {"w_opt": rho**2},
        "minimiser_alpha": {"w_opt": alpha},
    },
    issue=2,
))


# ---------------------------------------------------------------------------------------------
# replay.fkl_iw_no_effect
# ---------------------------------------------------------------------------------------------

def check_fkl_iw_no_effect(ctx: Context, reference: str = "new", **_: Any) -> Evidence:
    r"""``replay.fkl_iw_no_effect``: the IW replay gradient equals the no-replay gradient.

    ``reference`` names the gradient the IW gradient is stated to equal: ``"new"`` (true:
    ∇KL(P_new ‖ q), i.e. ``fkl_grad`` with replay = 0) or ``"train"`` (false: the unweighted
    replay gradient ∇KL(P_train ‖ q)). Symbolic:
    :func:`~symforget.symbolic.replay.fkl_iw_derivation`. Numeric: max relative difference over
    seeded random θ, λ, means; QUADPACK of the reference's w-entry; the IW w-gradient stays
    > 0 along (0, 1) with the means correct (optimum at w = 0).
    """
    if reference not in ("new", "train"):
        raise ValueError(f"reference={reference!r} must be 'new' or 'train'")
    chk = Checks()
    record_derivation(chk, "symbolic_derivation", srep.fkl_iw_derivation(reference))
    chk.true("iw_spec_free_of_alpha", alpha not in _spec_symbols(fkl_iw_grad_spec()))

    # 1. the IW gradient equals the stated reference at seeded random points
    rng = ctx.rng(5)
    n = ctx.n(1000, 20000)
    w = rng.uniform(0.01, 0.99, n)
    mo, mn, md, mr = rng.uniform(-4.0, 8.0, (4, n))
    lam = rng.uniform(0.01, 0.99, n)
    iw = model.fkl_iw_grad(w, mo, mn, data_mean=md, replay=lam, replay_mean=mr)
    if reference == "new":
        ref = model.fkl_grad(w, mo, mn, data_mean=md)
    else:
        ref = model.fkl_grad(w, mo, mn, data_mean=md, replay=lam, replay_mean=mr)
    rel = np.abs(iw - ref).max(axis=-1) / np.maximum(np.abs(ref).max(axis=-1), 1e-300)
    i = int(np.argmax(rel))
    chk.le("max_rel_diff_iw_vs_reference", float(rel.max()), 1e-11,
           f"{n} seeded points; worst at w={w[i]:.4g}, μo={mo[i]:.4g}, μn={mn[i]:.4g}, "
           f"data={md[i]:.4g}, replay mean={mr[i]:.4g}, λ={lam[i]:.4g}: IW {iw[i]} vs {ref[i]}")
    chk.metric("median_rel_diff", float(np.median(rel)))

    # 2. QUADPACK of the stated reference's w-entry against the IW gradient
    pts = [(0.3, 0.2, 3.5, 3.0, 0.0, 0.4), (0.7, -0.5, 2.0, 2.5, -1.0, 0.8)]
    worst_q = 0.0
    for p in pts:
        ours = float(model.fkl_iw_grad(p[0], p[1], p[2], data_mean=p[3], replay_mean=p[4],
                                       replay=p[5])[0])
        refq = _ref_fkl_dw(p[0], p[1], p[2], p[3], p[4], 0.0 if reference == "new" else p[5])
        worst_q = max(worst_q, abs(ours - refq) / max(abs(refq), 1e-2))
    chk.le("max_rel_err_iw_grad_vs_quadpack", worst_q, 1e-9,
           "∂_w of the stated reference by QUADPACK on the definition")

    # 3. with the means correct the IW w-gradient is > 0 on (0, 1): the optimum stays at w = 0
    wg = np.linspace(0.005, 0.995, ctx.n(199, 991))
    LL, DD, WW = np.meshgrid([0.1, 0.5, 0.9], [0.5, 2.0, 4.0, 8.0], wg, indexing="ij")
    giw = model.fkl_iw_grad(WW, 0.0, DD, data_mean=DD, replay=LL, replay_mean=0.0)[..., 0]
    chk.metric("min_iw_grad_w", float(giw.min()))
    chk.true("iw_grad_w_positive", bool((giw > 0).all()),
             f"min ∂_w = {giw.min():.3g} over λ ∈ {{0.1, 0.5, 0.9}}, Δ ∈ {{0.5, 2, 4, 8}}, "
             f"{wg.size} w")
    return chk.evidence(
        f"IW gradient = stated reference to rel {rel.max():.1e} over {n} points; QUADPACK rel "
        f"err {worst_q:.1e}; IW w-gradient > 0 on (0, 1) (min {giw.min():.2g})")


register(Claim(
    id="replay.fkl_iw_no_effect",
    statement="Replaying old data importance-weighted back to P_new gives exactly the no-replay "
              "forward-KL gradient at every θ, so the optimum stays at w = 0: replay helps FKL "
              "only by changing the training distribution",
    check=check_fkl_iw_no_effect,
    derivations=lambda: [srep.fkl_iw_derivation()],
    assumptions=("replay fraction λ ∈ (0, 1) (the weight P_new/P_train is finite)",
                 "equal unit variances (whitened)"),
    mutants={"equals_unweighted_replay_gradient": {"reference": "train"}},
    issue=2,
))
